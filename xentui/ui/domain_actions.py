"""Domain actions from the UI: keys, the action menu, the command palette; confirmations; feedback.

Targets are the tagged domains (Space), else the selected one.  Every action goes through
:func:`xentui.actions.perform` (read-only, replaced-domain and state guards) in a thread of
its own (never on the event loop, never holding up the ticks); the result and its duration come back as a
notification.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from xentui.actions import CACHE_ACTIONS, READ_ONLY, Action, ActionError, offered, parse_memory_kib, perform
from xentui.model import DomainView
from xentui.sources.deadlines import NoAnswer
from xentui.text import one_line, visible
from xentui.ui.literal import TYPED, literal, markup

# action -> (key, menu label, confirmation: None, "yes" or "name")
ACTIONS: dict[Action, tuple[str, str, str | None]] = {
    Action.PAUSE: ("p", "pause", None),
    Action.RESUME: ("p", "resume", None),
    Action.SHUTDOWN: ("o", "shut down (ACPI)", "yes"),
    Action.REBOOT: ("e", "reboot", "yes"),
    Action.DESTROY: ("k", "destroy (force off)", "name"),
    Action.BALLOON: ("m", "set balloon memory…", None),
    Action.START: ("g", "start", None),
    Action.CACHE_ATTACH: ("A", "attach Cache QoS monitoring", None),
    Action.CACHE_DETACH: ("A", "detach Cache QoS monitoring", None),
}


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


class ConfirmScreen(ModalScreen[bool]):
    """y / n, or type a word (the domain's name) to confirm.

    The word is compared as it is; when the name holds characters shown as tokens, the dialog says
    so and accepts what it shows too (the visible form, one-to-one with the name)."""

    BINDINGS = [Binding("escape", "answer(False)", "Cancel")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 80; height: auto; border: thick $level-crit; background: $surface;
                               padding: 0 1; }
    """

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

    def on_key(self, event) -> None:
        if self.word is None and event.key in ("y", "n"):
            event.stop()
            self.dismiss(event.key == "y")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        self.dismiss(self.word is not None and typed in (self.word, visible(self.word)))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ActionMenu(ModalScreen[Action | None]):
    """The actions offered for the targets' state, with their keys."""

    BINDINGS = [Binding("escape,x,f9", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    ActionMenu { align: center middle; }
    ActionMenu > Vertical { width: 60; height: auto; border: round $primary; background: $surface; }
    ActionMenu OptionList { height: auto; max-height: 12; }
    """

    def __init__(self, title: Content, actions: list[Action]):
        super().__init__()
        self.title_text = title
        self.actions = actions

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield OptionList(*(Option(literal(f"{ACTIONS[a][0]}  {ACTIONS[a][1]}"), id=a.value) for a in self.actions))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Action(event.option.id))

    def on_key(self, event) -> None:
        for action in self.actions:
            if event.key == ACTIONS[action][0]:
                event.stop()
                self.dismiss(action)


def describe(targets: list[DomainView]) -> str:
    names = ", ".join(v.name for v in targets[:5]) + (" …" if len(targets) > 5 else "")
    return targets[0].name if len(targets) == 1 else f"{len(targets)} domains ({names})"


class DomainActions:
    """Mixed into the App: needs ``source``, ``poller``, ``snapshot``, ``targets()``, ``notify``."""

    def request(self, wanted: list[Action]) -> None:
        """The key for ``wanted`` (e.g. p = pause or resume): the first one offered for the targets."""
        targets = self.targets()
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

    def action_menu(self) -> None:
        targets = self.targets()
        if not targets:
            return
        actions = [a for a in ACTIONS if any(fits(a, v) for v in targets)]
        if not actions:
            self.notify(f"no action is offered for {describe(targets)} now", severity="warning")
            return

        def chosen(action: Action | None) -> None:
            if action is not None:
                self.request([action])

        mode = " (read-only: start with --write to act)" if self.source.readonly else ""
        self.push_screen(ActionMenu(literal(f"Act on {describe(targets)}{mode}"), actions), chosen)

    def action_cache_monitor(self) -> None:
        """A: attach the domain's Cache QoS monitoring, or detach it; says why when the host has none."""
        targets = self.targets()
        if not targets:
            return
        if self.snapshot is not None and self.snapshot.host.cache_monitoring:
            self.notify(f"Cache QoS: {self.snapshot.host.cache_monitoring}", severity="warning", timeout=10)
            return
        wanted = cache_action(targets[0])
        if wanted is None:
            self.notify(f"no Cache QoS source for {targets[0].name}", severity="warning")
            return
        self.request([wanted])

    def confirm_then_act(self, action: Action, targets: list[DomainView], skipped: list[DomainView]) -> None:
        _key, label, confirm = ACTIONS[action]
        who = describe(targets)
        if skipped:
            self.notify(f"{action.value} skips {describe(skipped)}: not offered in its state", severity="warning")
        if action is Action.BALLOON:
            from xentui.ui.screens import PromptScreen

            def size_given(text: str | None) -> None:
                if not text or not text.strip():
                    return
                try:
                    parse_memory_kib(text)
                except ActionError as err:
                    self.notify(one_line(str(err)), severity="error")
                    return
                self.run_actions(action, targets, memory=text.strip())

            self.push_screen(PromptScreen(literal(f"Balloon memory for {who} (e.g. 512M, 2G, 262144k):"), "",
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
            self.push_screen(ConfirmScreen(question, word), answered)
        else:
            question = markup("[b]$what $who?[/]", what=label[0].upper() + label[1:], who=who)
            self.push_screen(ConfirmScreen(question), answered)

    def run_actions(self, action: Action, targets: list[DomainView], **params: object) -> None:
        samples = [v.sample for v in targets]
        host = self.snapshot.host
        source = self.source

        async def work() -> None:
            for sample in samples:
                try:
                    took = await self.poller.act(lambda s=sample: perform(source, s, action, host=host, **params))
                except (ActionError, NoAnswer) as err:
                    self.notify(one_line(str(err)), severity="error", timeout=10)
                else:
                    self.notify(f"{action.value} {sample.name}: done in {took * 1000:.0f} ms")
            self.poller.wake()

        self.run_worker(work(), group="actions")
