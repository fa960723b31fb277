"""The action menu: the domain actions offered for the targets' state, each with its key from the keymap."""

from __future__ import annotations

from collections.abc import Mapping

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from xentui.actions import Action
from xentui.ui import keys
from xentui.ui.literal import literal

# action -> (menu label, confirmation: None, "yes" or "name"); the key is the keymap's
LABELS: dict[Action, tuple[str, str | None]] = {
    Action.PAUSE: ("pause", None),
    Action.RESUME: ("resume", None),
    Action.SHUTDOWN: ("shut down (ACPI)", "yes"),
    Action.REBOOT: ("reboot", "yes"),
    Action.DESTROY: ("destroy (force off)", "name"),
    Action.BALLOON: ("set balloon memory…", None),
    Action.START: ("start", None),
    Action.CACHE_ATTACH: ("attach Cache QoS monitoring", None),
    Action.CACHE_DETACH: ("detach Cache QoS monitoring", None),
    Action.MIGRATE: ("live-migrate to another host…", "host"),
}


def action_keys(action: Action, keymap: Mapping[str, str] | None = None) -> list[str]:
    """The keys that request ``action`` (the keymap's binding for it)."""
    return keys.keys_of(keys.DOMAIN_KEY[action], keymap)


class ActionMenu(ModalScreen[Action | None]):
    """The actions offered for the targets' state, with their keys."""

    # The menu key closes it too: the binding has the keymap's id, so the user's keymap rebinds it here as well.
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding(keys.BY_ID["menu"].binding.key, "dismiss(None)", show=False, id="menu")]

    def __init__(self, title: Content, actions: list[Action], keymap: Mapping[str, str] | None = None):
        super().__init__()
        self.title_text = title
        self.actions = actions
        self.keys = {a: action_keys(a, keymap) for a in actions}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield OptionList(*(Option(literal(f"{keys.display(self.keys[a][0])}  {LABELS[a][0]}"), id=a.value)
                               for a in self.actions))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None
        self.dismiss(Action(event.option.id))

    def on_key(self, event: events.Key) -> None:
        for action in self.actions:
            if event.key in self.keys[action]:
                event.stop()
                self.dismiss(action)
                return
