"""The column chooser."""

from __future__ import annotations

from collections.abc import Collection

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList

from xentui.ui.columns import Column, listed
from xentui.ui.literal import literal


class ColumnsScreen(ModalScreen[tuple[str, ...] | None]):
    """Choose the table's columns; Enter keeps the choice, Esc drops it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "done", "Done", priority=True)]

    def __init__(self, chosen: tuple[str, ...], fleet: bool = False, optional: Collection[str] = ()):
        super().__init__()
        self.chosen = chosen
        self.columns: tuple[Column, ...] = listed(fleet, optional)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(literal("Columns: Space toggles, Enter keeps, Esc cancels"))
            yield SelectionList[str](*[(literal(f"{c.header:<10} {c.help}"), c.key, c.key in self.chosen)
                                       for c in self.columns if c.key != "name"])

    def action_done(self) -> None:
        picked = self.query_one(SelectionList).selected
        self.dismiss(tuple(c.key for c in self.columns if c.key == "name" or c.key in picked))

    def action_cancel(self) -> None:
        self.dismiss(None)
