"""Domain actions from the UI: keys, the action menu, the command palette; confirmations; feedback.

Targets are the tagged domains (Space), else the selected one.  Every action goes through
:func:`xentui.actions.perform` (read-only, replaced-domain and state guards) in a thread of
its own (never on the event loop, never holding up the ticks); the result and its duration come back as a
notification.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from textual.app import SystemCommand

from xentui.actions import CACHE_ACTIONS, READ_ONLY, Action, ActionError, offered, parse_memory_kib, perform
from xentui.model import DomainView
from xentui.sources import Source
from xentui.sources.deadlines import NoAnswer
from xentui.text import one_line
from xentui.ui import keys, migrate
from xentui.ui.dialogs.action_menu import LABELS, ActionMenu
from xentui.ui.dialogs.confirm import ConfirmScreen
from xentui.ui.dialogs.prompt import PromptScreen
from xentui.ui.fleet import spanning
from xentui.ui.literal import literal, markup

if TYPE_CHECKING:
    from xentui.ui.app import XentuiApp


def cache_action(view: DomainView) -> Action | None:
    """Attach a domain that is not monitored (attach says why it cannot, e.g. no vCPU threads found),
    detach one that is; None when the host has no Cache QoS."""
    if view.cache is None:
        return None
    return Action.CACHE_ATTACH if view.cache.status else Action.CACHE_DETACH


def fits(action: Action, view: DomainView) -> bool:
    """Offered for the domain's state (and, for Cache QoS, its monitoring)."""
    if action in CACHE_ACTIONS:
        return action is cache_action(view) and action in offered(view.sample)
    return action in offered(view.sample)


def describe(targets: list[DomainView]) -> str:
    """``web1``, ``3 domains (a, b, c)``; a set spanning a fleet's hosts says so: ``5 domains on 3 hosts: h2, h3,
    h4 (a, b, …)``."""
    names = ", ".join(v.name for v in targets[:5]) + (" …" if len(targets) > 5 else "")
    hosts = spanning(targets)
    return targets[0].name if len(targets) == 1 else f"{len(targets)} domains{' ' + hosts if hosts else ''} ({names})"


class DomainActions:
    """What the action keys, the menu and the palette do; the App holds one (``app.actions``)."""

    def __init__(self, app: XentuiApp):
        self.app = app

    @property
    def source(self) -> Source:
        return cast(Source, self.app.source)

    def notify(self, message: str, *, severity: str = "information", timeout: float | None = None) -> None:
        self.app.notify(message, severity=severity, timeout=timeout)  # type: ignore[arg-type]

    def request(self, wanted: list[Action]) -> None:
        """The key for ``wanted`` (e.g. p = pause or resume): the first one offered for the targets."""
        targets = self.app.targets()
        if not targets:
            return
        if self.source.readonly:
            self.notify(READ_ONLY, severity="warning", timeout=8)
            return
        for action in wanted:
            fit = [v for v in targets if fits(action, v)]
            if fit:
                self.confirm_then_act(action, fit, skipped=[v for v in targets if v not in fit])
                return
        states = ", ".join(sorted({v.sample.state.value for v in targets}))
        self.notify(f"{' / '.join(a.value for a in wanted)} is not offered for {describe(targets)} ({states})",
                    severity="warning")

    def menu(self) -> None:
        targets = self.app.targets()
        if not targets:
            return
        actions = [a for a in LABELS if any(fits(a, v) for v in targets) and self.can(a)]
        if not actions:
            self.notify(f"no action is offered for {describe(targets)} now", severity="warning")
            return

        def chosen(action: Action | None) -> None:
            if action is not None:
                self.request([action])

        mode = " (read-only: start with --write to act)" if self.source.readonly else ""
        self.app.push_screen(ActionMenu(literal(f"Act on {describe(targets)}{mode}"), actions, self.app.keymap),
                             chosen)

    def cache_monitor(self) -> None:
        """A: attach the domain's Cache QoS monitoring, or detach it; says why when the host has none."""
        targets = self.app.targets()
        if not targets:
            return
        host = self.app.fleet.host_of(targets[0])  # the domain's own host (in a fleet, one of many)
        if host is not None and host.cache_monitoring:
            self.notify(f"Cache QoS: {host.cache_monitoring}", severity="warning", timeout=10)
            return
        wanted = cache_action(targets[0])
        if wanted is None:
            self.notify(f"no Cache QoS source for {targets[0].name}", severity="warning")
            return
        self.request([wanted])

    def can(self, action: Action) -> bool:
        """Whether the source takes ``action`` at all (a migration needs a fleet with libvirt hosts)."""
        return action is not Action.MIGRATE or bool(self.source.migration_hosts())

    def commands(self) -> Iterator[SystemCommand]:
        """The domain actions in the command palette, each with its key from the keymap."""
        for action, (label, _confirm) in LABELS.items():
            if not self.can(action):
                continue
            key = keys.display(keys.keys_of(keys.DOMAIN_KEY[action], self.app.keymap)[0])
            yield SystemCommand(f"Domain: {label}", f"{action.value} the tagged or selected domain (key {key})",
                                lambda a=action: self.request([a]))

    def confirm_then_act(self, action: Action, targets: list[DomainView], skipped: list[DomainView]) -> None:
        label, confirm = LABELS[action]
        who = describe(targets)
        if skipped:
            self.notify(f"{action.value} skips {describe(skipped)}: not offered in its state", severity="warning")
        if action is Action.MIGRATE:
            migrate.ask(self, targets, describe)
            return
        if action is Action.BALLOON:
            def size_given(text: str | None) -> None:
                if not text or not text.strip():
                    return
                try:
                    parse_memory_kib(text)
                except ActionError as err:
                    self.notify(one_line(str(err)), severity="error")
                    return
                self.run_actions(action, targets, memory=text.strip())

            self.app.push_screen(PromptScreen(literal(f"Balloon memory for {who} (e.g. 512M, 2G, 262144k):"), "",
                                              "512M"), size_given)
            return
        if confirm is None:
            self.run_actions(action, targets)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_actions(action, targets)
            else:
                self.notify(f"{action.value}: cancelled, nothing done")

        if confirm == "name":
            word = targets[0].name if len(targets) == 1 else str(len(targets))
            question = markup("[b $level-crit]Destroy (force off) $who?[/] Unsaved guest data is lost.", who=who)
            self.app.push_screen(ConfirmScreen(question, word), answered)
        else:
            question = markup("[b]$what $who?[/]", what=label[0].upper() + label[1:], who=who)
            self.app.push_screen(ConfirmScreen(question), answered)

    def run_actions(self, action: Action, targets: list[DomainView], **params: object) -> None:
        assert self.app.snapshot is not None
        # Each domain with its own host's facts; the source routes by ``sample.host`` (a fleet's).
        work_list = [(v.sample, self.app.fleet.host_of(v) or self.app.snapshot.host) for v in targets]
        source = self.source
        poller = self.app.poller

        async def work() -> None:
            for sample, host in work_list:
                try:
                    took = await poller.act(lambda s=sample, h=host: perform(
                        source, s, action, host=h, **params))  # type: ignore[arg-type]
                except (ActionError, NoAnswer) as err:
                    self.notify(one_line(str(err)), severity="error", timeout=10)
                else:
                    where = f" on {sample.host}" if sample.host else ""
                    self.notify(f"{action.value} {sample.name}{where}: done in {took * 1000:.0f} ms")
            poller.wake()

        self.app.run_worker(work(), group="actions")
