"""Evacuate a host (M): live-migrate the tagged or selected domains to another libvirt host of the fleet.

Choose the destination (a connected libvirt host that is UP, none of the domains' own), then type its name to
confirm; the domains then move one after the other, each through :func:`xentui.actions.perform` (every guard of
an action).  While a migration runs, its figures (``DomainSample.job``) show in the STATE cell and the detail
pane of the domain's row on both hosts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from xentui.actions import Action
from xentui.model import DomainView
from xentui.ui.dialogs.confirm import ConfirmScreen
from xentui.ui.fleet import live_hosts
from xentui.ui.literal import literal, markup

if TYPE_CHECKING:
    from xentui.ui.controllers.actions import DomainActions


class HostChooser(ModalScreen[str | None]):
    """The hosts a domain may move to; Enter picks one, Esc cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: Content, hosts: list[str]):
        super().__init__()
        self.title_text = title
        self.hosts = hosts

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield OptionList(*(Option(literal(h)) for h in self.hosts))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.hosts[event.option_index])


def destinations(actions: DomainActions, targets: list[DomainView]) -> list[str]:
    """Connected libvirt hosts, UP this tick, that hold none of ``targets``: the whole fleet's, also while one host
    is opened alone (the App's snapshot is then that host's own)."""
    snapshot = actions.app.fleet.whole
    up = live_hosts(snapshot) if snapshot is not None else {}
    own = {v.host for v in targets}
    return [h for h in actions.source.migration_hosts() if h in up and h not in own]


def ask(actions: DomainActions, targets: list[DomainView], describe: Callable[[list[DomainView]], str]) -> None:
    """Choose the destination, confirm by typing its name, then migrate one domain after the other
    (``describe`` names the domains, as every confirmation does)."""
    movable = set(actions.source.migration_hosts())
    skipped = [v for v in targets if v.host not in movable]
    targets = [v for v in targets if v.host in movable]
    if skipped:
        actions.notify(f"migrate skips {', '.join(sorted({v.name for v in skipped}))}: not on a connected libvirt "
                       "host", severity="warning")
    hosts = destinations(actions, targets)
    if not targets or not hosts:
        actions.notify("migrate: no other libvirt host of the fleet is up to take them; nothing done",
                       severity="warning", timeout=8)
        return
    sources, who = ", ".join(sorted({v.host for v in targets})), describe(targets)

    def confirmed(yes: bool | None, dest: str) -> None:
        if yes:
            actions.run_actions(Action.MIGRATE, targets, destination=dest)
        else:
            actions.notify("migrate: cancelled, nothing done")

    def chosen(dest: str | None) -> None:
        if dest is None:
            return
        order = " one after the other" if len(targets) > 1 else ""
        question = markup("[b]Live-migrate $who from $src to $dest$order?[/]", who=who, src=sources, dest=dest,
                          order=order)
        actions.app.push_screen(ConfirmScreen(question, dest), lambda yes: confirmed(yes, dest))

    actions.app.push_screen(HostChooser(literal(f"Migrate {who} from {sources} to:"), hosts), chosen)
