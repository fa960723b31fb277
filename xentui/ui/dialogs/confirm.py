"""y / n, or type a word (the domain's name) to confirm."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from xentui.text import visible
from xentui.ui.literal import TYPED, markup


class ConfirmScreen(ModalScreen[bool]):
    """y / n, or type a word (the domain's name) to confirm.

    The word is compared as it is; when the name holds characters shown as tokens, the dialog says
    so and accepts what it shows too (the visible form, one-to-one with the name)."""

    BINDINGS = [Binding("escape", "answer(False)", "Cancel")]

    def __init__(self, question: Content, word: str | None = None):
        super().__init__()
        self.question = question
        self.word = word  # None: y/n

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            if self.word is not None:
                yield Label(markup("Type [b]$word[/b] and Enter to confirm; Esc cancels.", word=self.word))
                if visible(self.word) != self.word:
                    yield Label(markup("(the name has characters shown as ␛ or ⟨U+…⟩: type it as shown)"))
                yield Input(placeholder=visible(self.word), restrict=TYPED)
            else:
                yield Label(markup("[b]y[/b] yes   [b]n[/b] / Esc no"))

    def on_key(self, event: events.Key) -> None:
        if self.word is None and event.key in ("y", "n"):
            event.stop()
            self.dismiss(event.key == "y")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        self.dismiss(self.word is not None and typed in (self.word, visible(self.word)))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
