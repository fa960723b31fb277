"""A one-line prompt: Enter returns what was typed, Esc returns None."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from xentui.ui.literal import TYPED


class PromptScreen(ModalScreen[str | None]):
    """One line of input; Enter returns it, Esc returns None.  What is typed is never markup."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: Content, value: str = "", placeholder: str = ""):
        super().__init__()
        self.prompt = prompt
        # A prefill comes from outside (a cpupool's name): Input shows its value as it is, so only text that
        # could have been typed is offered; anything else starts empty.
        self.value = value if re.fullmatch(TYPED, value) else ""
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt)
            yield Input(value=self.value, placeholder=self.placeholder, restrict=TYPED)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
