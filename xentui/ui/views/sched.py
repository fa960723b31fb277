"""The scheduler view: cpupools, their schedulers and pCPUs, each domain's parameters; edits with --write.

Edits go through :func:`xentui.actions.perform` (read-only, replaced-domain and state guards) in the poller's
action thread, never on the event loop; the result, or xl's / libvirt's refusal in its own words, is one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Static

from xentui.actions import READ_ONLY, Action, ActionError, perform, validate
from xentui.model import DomainSample, DomainScheduling, HostSample, SchedulingState, Snapshot
from xentui.sources.deadlines import NoAnswer
from xentui.text import one_line
from xentui.ui import sched_edit
from xentui.ui.dialogs.confirm import ConfirmScreen
from xentui.ui.dialogs.prompt import PromptScreen
from xentui.ui.literal import literal, markup, stack
from xentui.ui.sched_render import Row, layout, lines
from xentui.ui.views.base import LiveView

if TYPE_CHECKING:
    from xentui.ui.app import XentuiApp

NONE_HERE = ("no schedulers or cpupools from this source (a replay and Prometheus have none; a live host's first "
             "read may be on its way)")


class SchedulerKeys:
    """The App's key for this view (a mixin: app.py is at its size cap)."""

    def action_sched_view(self: XentuiApp) -> None:  # type: ignore[misc]
        """Never over a dialog: the key is guarded (keys.py, check_action)."""
        view = self.selected()  # in a fleet: the domain's host opened alone first, as the pCPU view does
        if not (self.snapshot and self.snapshot.fleet) or (view is not None and self.fleet.opened_for(view)):
            self.show_view(SchedulerScreen(view.key if view is not None else None))


class SchedulerScreen(LiveView):
    """Every cpupool and its domains' scheduler parameters; the cursor starts on, and the table follows, a domain."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-20)", show=False),
        Binding("pagedown", "move(20)", show=False),
        Binding("e,enter", "edit", "Edit"),
        Binding("m", "move_pool", "Move to pool"),
        Binding("w", "close", "Back", show=False),
    ]
    TITLE_ID = "sched-title"

    def __init__(self, key: str | None):
        super().__init__()
        self.spot: tuple[str | None, int | None] = (key, None)  # the cursor: (domain key, RTDS vCPU)
        self.snapshot: Snapshot | None = None
        self.rows: list[Row] = []
        self.busy = False
        self.note: Content | None = None  # the last result or refusal, shown until the next key

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        with VerticalScroll(id="sched-body"):
            yield Static(id="sched-lines")
        yield Static(id="sched-status")
        yield Footer()

    def on_mount(self) -> None:  # Textual calls LiveView's too, after this one
        self.xentui.source.watch_scheduling(True)  # read every tick while shown

    def on_unmount(self) -> None:
        self.xentui.source.watch_scheduling(False)

    @property
    def state(self) -> SchedulingState | None:
        return self.snapshot.scheduling if self.snapshot is not None else None

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.render_view()

    def render_view(self) -> None:
        snapshot, state = self.snapshot, self.state
        if snapshot is None:
            return
        host = self.xentui.fleet.focus
        if state is None:
            self.set_title(markup("[b]Schedulers and cpupools of $host[/b]", host=snapshot.host.hostname))
            self.rows = []
            self.query_one("#sched-lines", Static).update(markup("[$level-warn]$why[/]", why=NONE_HERE))
            self.update_status()
            return
        self.rows = layout(state, host)
        spots = [r.spot for r in self.rows if r.key is not None]
        if self.spot not in spots:  # the domain went (or the view opened on none): the nearest one there is
            self.spot = next((s for s in spots if s[0] == self.spot[0]), spots[0] if spots else (None, None))
        domains = sum(1 for r in self.rows if r.key is not None and r.vcpu is None)
        self.set_title(markup("[b]Schedulers and cpupools of $host[/b]  $pools pool(s), $domains domain(s)$age",
                              host=snapshot.host.hostname, pools=len(self.pools()), domains=domains,
                              age=self.age(snapshot, state)))
        body = lines(state, snapshot.by_key(), self.spot, host)
        if state.error:
            body.insert(0, markup("[$level-warn]could not read: $error[/]", error=one_line(state.error)))
        self.query_one("#sched-lines", Static).update(stack(body))
        self.keep_cursor_visible(1 + bool(state.error))
        self.update_status()

    def age(self, snapshot: Snapshot, state: SchedulingState) -> str:
        """``, read 12 s ago`` when older than a tick; else ""."""
        seconds = snapshot.wall - state.wall
        tick = snapshot.interval_s or self.xentui.poller.delay
        return f", read {seconds:.0f} s ago" if seconds > tick else ""

    def keep_cursor_visible(self, above: int) -> None:
        line = next((n for n, r in enumerate(self.rows) if r.spot == self.spot), 0) + above
        body = self.query_one("#sched-body", VerticalScroll)
        top, height = int(body.scroll_offset.y), body.size.height
        if height and not top <= line < top + height:
            body.scroll_to(y=max(0, line - height // 2), animate=False)

    def update_status(self, message: Content | None = None) -> None:
        if message is not None:
            self.note = message
        domain = self.domain()
        if self.note is not None:
            text = self.note
        elif domain is None:
            text = literal("no domain to edit here")
        else:
            what = ("the marked vCPU's period/budget" if self.spot[1] is not None else
                    "every vCPU's period/budget (a vCPU line: that vCPU only)" if domain.vcpus else "its parameters")
            text = markup("[b]e[/b]/Enter: edit $what of $name   [b]m[/b]: move it to another cpupool",
                          what=what, name=domain.name)
        self.query_one("#sched-status", Static).update(text)

    def pools(self) -> list[str]:
        """The names of the pools shown (in a fleet, the open host's)."""
        host = self.xentui.fleet.focus
        return [p.name for p in self.state.pools if host is None or p.host == host] if self.state else []

    def domain(self) -> DomainScheduling | None:
        state = self.state
        if state is None or self.spot[0] is None:
            return None
        return next((d for d in state.domains if d.key == self.spot[0]), None)

    # --- keys ----------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        spots = [r.spot for r in self.rows if r.key is not None]
        if not spots or self.busy:
            return
        now = spots.index(self.spot) if self.spot in spots else 0
        self.spot = spots[max(0, min(len(spots) - 1, now + step))]
        self.note = None
        if self.spot[0] is not None:
            self.xentui.table.select(self.spot[0])  # the table follows: its cursor is here on return
        self.render_view()

    def _may_edit(self) -> DomainScheduling | None:
        """The domain to edit, or None and one line why not."""
        self.note = None
        domain = self.domain()
        if domain is None or self.busy:
            return None
        source = self.xentui.source
        why = (READ_ONLY if source.readonly else "this source takes no scheduler edits" if not source.CAN_ACT
               else f"{domain.name} is not running here: nothing to edit"
               if self.snapshot is None or domain.key not in self.snapshot.by_key() else "")
        if why:
            self.app.notify(why, severity="warning")
            self.update_status(markup("[$level-warn]$why[/]", why=why))
            return None
        return domain

    def refused(self, err: Exception) -> None:
        self.app.notify(one_line(str(err)), severity="error", timeout=10)
        self.update_status(markup("[$level-crit]$err[/]", err=one_line(str(err))))

    def action_edit(self) -> None:
        domain = self._may_edit()
        if domain is None:
            return
        vcpu = self.spot[1]
        target = f"vCPU {vcpu} of " if vcpu is not None else "every vCPU of " if domain.vcpus else ""

        def typed(text: str | None) -> None:
            if text is None or self.snapshot is None:
                return
            before = sched_edit.current(domain, vcpu)
            try:
                changes = sched_edit.parse(text, domain, vcpu)
                if not changes:
                    raise ActionError(f"nothing changed for {domain.name}: nothing done")
                params = {"sched": changes, "vcpu": "all" if vcpu is None else vcpu}
                view = self.snapshot.by_key()[domain.key]
                validate(Action.SCHEDULE, params, self.snapshot.host, view.sample.vcpus_max or len(view.sample.vcpus))
            except (ActionError, KeyError) as err:
                self.refused(err if isinstance(err, ActionError) else ActionError(f"{domain.name} is gone"))
                return
            question = markup("[b]Set $changes of $target$name ($sched in $pool)?[/b]", target=target,
                              changes=sched_edit.describe(changes, before), name=domain.name,
                              sched=domain.scheduler, pool=domain.pool or "the host")
            self.confirm(question, domain, Action.SCHEDULE, params, f"set {sched_edit.describe(changes, {})} of "
                                                                    f"{target}{domain.name}")

        self.app.push_screen(PromptScreen(literal(f"{domain.scheduler} parameters of {target}{domain.name} "
                                                  f"(name=value ...):"), sched_edit.prefill(domain, vcpu),
                                          "e.g. weight=512 cap=50"), typed)

    def action_move_pool(self) -> None:
        domain = self._may_edit()
        if domain is None or self.state is None:
            return
        others = [name for name in self.pools() if name != domain.pool]
        if domain.pool is None or not others:
            self.refused(ActionError(f"{domain.name}: this host has no other cpupool to move it to"))
            return

        def typed(text: str | None) -> None:
            name = (text or "").strip()
            if not name or self.snapshot is None:
                return
            if name not in others:
                self.refused(ActionError(f"no cpupool {name[:40]!r} to move to; the others are: {', '.join(others)}"))
                return
            try:
                validate(Action.CPUPOOL, {"pool": name}, self.snapshot.host, 1)
            except ActionError as err:
                self.refused(err)
                return
            question = markup("[b]Move $name from cpupool $old to $new?[/b]", name=domain.name, old=domain.pool,
                              new=name)
            self.confirm(question, domain, Action.CPUPOOL, {"pool": name}, f"moved {domain.name} to cpupool {name}")

        self.app.push_screen(PromptScreen(literal(f"Move {domain.name} (now in {domain.pool}) to cpupool: "
                                                  f"{', '.join(others)}"), others[0] if len(others) == 1 else "",
                                          "a cpupool's name"), typed)

    def confirm(self, question: Content, domain: DomainScheduling, action: Action, params: dict[str, object],
                done: str) -> None:
        def answered(yes: bool | None) -> None:
            snapshot = self.snapshot
            view = snapshot.by_key().get(domain.key) if snapshot is not None else None
            if not yes:
                self.update_status(literal(f"{action.value}: cancelled, nothing done"))
            elif view is None or snapshot is None:
                self.refused(ActionError(f"{domain.name} is gone: nothing done"))
            else:
                self.busy = True
                self.update_status(literal("applying…"))
                host = self.xentui.fleet.host_of(view) or snapshot.host
                self.run_worker(self._apply(view.sample, host, action, params, done), exclusive=True)

        self.app.push_screen(ConfirmScreen(question), answered)

    async def _apply(self, sample: DomainSample, host: HostSample, action: Action, params: dict[str, object],
                     done: str) -> None:
        app, source = self.xentui, self.xentui.source
        try:
            took = await app.poller.act(lambda: perform(source, sample, action, host=host, **params))
        except (ActionError, NoAnswer) as err:
            self.refused(err)
        else:
            done = f"{done} in {took * 1000:.0f} ms"
            app.notify(done)
            self.update_status(markup("[$dom-running]$done[/]; shown from the next read", done=done))
            app.poller.wake()
        finally:
            self.busy = False

