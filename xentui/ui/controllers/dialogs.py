"""The App's keys that open a dialog and apply its answer: help, delay, filter, the column chooser (a mixin:
app.py is at its size cap)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xentui.config import check_delay
from xentui.text import one_line
from xentui.ui import frame
from xentui.ui.dialogs.columns import ColumnsScreen
from xentui.ui.dialogs.help import HelpScreen
from xentui.ui.dialogs.prompt import PromptScreen
from xentui.ui.literal import literal

if TYPE_CHECKING:
    from xentui.ui.app import XentuiApp


class DialogKeys:
    """Help, the delay and filter prompts, the column chooser."""

    def action_help(self: XentuiApp) -> None:  # type: ignore[misc]
        self.push_screen(HelpScreen(self.screen.active_bindings, self.fleet.active, frame.measured(self.snapshot)))

    def action_delay(self: XentuiApp) -> None:  # type: ignore[misc]
        def done(value: str | None) -> None:
            if value is None or not value.strip():
                return
            try:
                seconds = check_delay(value.strip())
            except ValueError as err:
                self.notify(one_line(str(err)), severity="error")
                return
            self.poller.delay = seconds
            self.change(delay=seconds)
            self.notify(f"updates every {seconds:g} s")

        self.push_screen(PromptScreen(literal("Delay (seconds, 0.2 to 3600):"), f"{self.poller.delay:g}"), done)

    def action_filter(self: XentuiApp) -> None:  # type: ignore[misc]
        def done(value: str | None) -> None:
            if value is not None:
                self.view = self.view.filtered(value.strip())

        self.push_screen(PromptScreen(literal("Filter by name (substring or regular expression; empty clears):"),
                                      self.view.filter_text, "e.g. web or ^db-[0-9]+$"), done)

    def action_choose_columns(self: XentuiApp) -> None:  # type: ignore[misc]
        def done(keys: tuple[str, ...] | None) -> None:
            if keys:
                self.change(columns=keys)
                self.refit(force=True)

        self.push_screen(ColumnsScreen(self.chosen_columns(), self.fleet.active, frame.measured(self.snapshot)), done)
