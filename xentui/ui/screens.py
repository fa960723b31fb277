"""Modal screens: help, a one-line prompt, the column chooser."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, SelectionList, Static

from xentui.ui.columns import COLUMNS
from xentui.ui.literal import TYPED, literal, markup, stack


def key_lines(rows: list[tuple[str, str]]) -> Content:
    """``key  what`` lines, the key bold and right-aligned."""
    return stack(markup("[b]$key[/b]  $what", key=f"{key:>12}", what=what) for key, what in rows)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 84; height: auto; max-height: 90%; border: round $primary;
                                  background: $surface; padding: 0 1; }
    """

    def __init__(self, keys: list[tuple[str, str]]):
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(markup("[b]xentui keys[/b]  (Esc closes; arrows scroll)"))
            yield Static(key_lines(self.keys))
            yield Label(markup("[b]columns[/b]"))
            yield Static(key_lines([(c.header, c.help) for c in COLUMNS]))


class PromptScreen(ModalScreen[str | None]):
    """One line of input; Enter returns it, Esc returns None.  What is typed is never markup."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: center bottom; }
    PromptScreen > Vertical { width: 100%; height: auto; background: $surface; padding: 0 1; }
    """

    def __init__(self, prompt: Content, value: str = "", placeholder: str = ""):
        super().__init__()
        self.prompt = prompt
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt)
            yield Input(value=self.value, placeholder=self.placeholder, restrict=TYPED)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ColumnsScreen(ModalScreen[tuple[str, ...] | None]):
    """Choose the table's columns; Enter keeps the choice, Esc drops it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "done", "Done", priority=True)]
    DEFAULT_CSS = """
    ColumnsScreen { align: center middle; }
    ColumnsScreen > Vertical { width: 70; height: 80%; border: round $primary; background: $surface; }
    """

    def __init__(self, chosen: tuple[str, ...]):
        super().__init__()
        self.chosen = chosen

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(literal("Columns: Space toggles, Enter keeps, Esc cancels"))
            yield SelectionList[str](*[(literal(f"{c.header:<10} {c.help}"), c.key, c.key in self.chosen)
                                       for c in COLUMNS if c.key != "name"])

    def action_done(self) -> None:
        picked = self.query_one(SelectionList).selected
        self.dismiss(tuple(c.key for c in COLUMNS if c.key == "name" or c.key in picked))

    def action_cancel(self) -> None:
        self.dismiss(None)
