"""The vCPU view: placement and pinning of one domain, with a preview before a pin is applied."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Static

from xentui.actions import READ_ONLY, Action, ActionError, perform, validate
from xentui.cpulist import format_cpulist
from xentui.model import DomainSample, DomainView, HostSample, Snapshot
from xentui.sources.deadlines import NoAnswer
from xentui.text import one_line
from xentui.ui.dialogs.prompt import PromptScreen
from xentui.ui.literal import literal, markup, stack
from xentui.ui.placement_render import LEGEND, matrix, vcpu_table
from xentui.ui.views.base import Interest, LiveView


class VcpuScreen(LiveView):
    """One domain's vCPUs: where each runs, where it may run, and pinning with a preview."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("a", "all", "All vCPUs"),
        Binding("p,enter", "pin", "Pin"),
        Binding("y", "confirm", "Apply", show=False),
        Binding("n", "cancel", "Cancel", show=False),
        Binding("c", "persistent", "Config too"),
    ]
    TITLE_ID = "vcpu-title"

    def __init__(self, key: str):
        super().__init__()
        self.key = key  # DomainView.key: the UUID (host/UUID in a fleet: a fleet source reads that host only)
        self.uuid = key.rpartition("/")[2]
        self.view: DomainView | None = None
        self.snapshot: Snapshot | None = None
        self.cursor = 0
        self.all_vcpus = False
        self.persistent = False
        self.proposed: tuple[str, frozenset[int]] | None = None  # (cpu list as typed, pCPUs)
        self.busy = False
        self.note: Content | None = None  # the last result or refusal, shown until the next key

    @property
    def interest(self) -> Interest:
        return (self.key, False)

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        with VerticalScroll(id="vcpu-table"):
            yield Static(id="vcpu-rows")
        with ScrollableContainer(id="vcpu-matrix"):
            yield Static(id="vcpu-grid")
        yield Static(id="vcpu-status")
        yield Footer()

    def chosen(self) -> set[int]:
        if self.view is None:
            return set()
        numbers = [v.number for v in self.view.sample.vcpus]
        if self.all_vcpus:
            return set(numbers)
        return {numbers[min(self.cursor, len(numbers) - 1)]} if numbers else set()

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        view = snapshot.by_key().get(self.key)
        if view is None:
            gone = self.view.name if self.view else "the domain"
            self.set_title(markup("[$level-crit]$gone is gone[/] (Esc: back)", gone=gone))
            self.proposed = None
            return
        self.view = view
        self.render_view()

    def render_view(self) -> None:
        view, snapshot = self.view, self.snapshot
        if view is None or snapshot is None:
            return
        host = snapshot.host
        chosen = self.chosen()
        nodes = ", ".join(f"node {n}: {format_cpulist(c)}" for n, c in host.nodes().items())
        offline = host.offline()
        self.set_title(markup(
            "[b]vCPUs of $name[/b] ($count, $state)   host: $size pCPUs ($nodes)$offline", name=view.name,
            count=len(view.sample.vcpus), state=view.sample.state.value, size=host.cpumap_size, nodes=nodes,
            offline=f", offline: {format_cpulist(offline)}" if offline else ""))
        self.query_one("#vcpu-rows", Static).update(stack(vcpu_table(view, host, chosen)))
        proposed = self.proposed[1] if self.proposed else None
        legend = map(literal, ["", *LEGEND.splitlines()])
        self.query_one("#vcpu-grid", Static).update(stack([*matrix(view, host, chosen, proposed), *legend]))
        self.update_status()

    def update_status(self, message: Content | None = None) -> None:
        where = "live and in the persistent config" if self.persistent else "live only (c: also the persistent config)"
        if message is not None:
            self.note = message
        if self.note is not None and self.proposed is None:
            text = self.note
        elif self.proposed is not None and self.view is not None:
            text = markup("[b $level-warn]Pin vCPU $vcpus of $name to pCPUs $pcpus, $where?[/]  "
                          "[b]y[/b] apply, [b]n[/b]/Esc cancel", vcpus=format_cpulist(frozenset(self.chosen())),
                          name=self.view.name, pcpus=format_cpulist(self.proposed[1]), where=where)
        else:
            target = "all vCPUs" if self.all_vcpus else "the marked vCPU"
            text = markup("[b]p[/b]/Enter: pin $target   [b]a[/b]: one / all vCPUs   pinning applies $where",
                          target=target, where=where)
        self.query_one("#vcpu-status", Static).update(text)

    # --- keys ----------------------------------------------------------------------

    def action_close(self) -> None:
        if self.proposed is not None:
            self.action_cancel()
        else:
            self.dismiss(None)

    def action_move(self, step: int) -> None:
        self.note = None
        if self.view is not None and self.view.sample.vcpus and self.proposed is None:
            self.all_vcpus = False
            self.cursor = max(0, min(len(self.view.sample.vcpus) - 1, self.cursor + step))
            self.render_view()

    def action_all(self) -> None:
        self.note = None
        if self.proposed is None:
            self.all_vcpus = not self.all_vcpus
            self.render_view()

    def action_persistent(self) -> None:
        self.persistent = not self.persistent
        self.update_status()

    def action_pin(self) -> None:
        if self.view is None or self.snapshot is None or self.busy:
            return
        self.note = None
        if self.app.source.readonly:
            self.app.notify(READ_ONLY, severity="warning")
            self.update_status(markup("[$level-warn]$text[/]", text=READ_ONLY))
            return
        if not self.app.source.CAN_ACT:
            self.app.notify("this source cannot pin vCPUs", severity="warning")
            return
        targets = format_cpulist(frozenset(self.chosen()))

        def done(text: str | None) -> None:
            if text is None or not text.strip() or self.view is None or self.snapshot is None:
                return
            try:
                params = validate(Action.PIN, {"vcpu": self._vcpu_param(), "hard": text.strip()},
                                  self.snapshot.host, self.view.sample.vcpus_max or len(self.view.sample.vcpus))
            except ActionError as err:
                self.app.notify(one_line(str(err)), severity="error")
                self.update_status(markup("[$level-crit]$err[/]", err=one_line(str(err))))
                return
            self.proposed = (text.strip(), params["hard"])
            self.render_view()

        self.app.push_screen(PromptScreen(literal(f"Pin vCPU {targets} of {self.view.name} to pCPUs:"), "",
                                          "e.g. 0-3,^2 or nodes:0 or all"), done)

    def _vcpu_param(self) -> int | str:
        chosen = self.chosen()
        return "all" if self.all_vcpus or len(chosen) != 1 else next(iter(chosen))

    def action_cancel(self) -> None:
        if self.proposed is not None:
            self.proposed = None
            self.render_view()

    def action_confirm(self) -> None:
        if self.proposed is None or self.view is None or self.snapshot is None or self.busy:
            return
        text, _cpus = self.proposed
        sample, host, vcpu = self.view.sample, self.snapshot.host, self._vcpu_param()
        self.busy = True
        self.update_status(literal("pinning…"))
        self.run_worker(self._apply(sample, host, vcpu, text), exclusive=True)

    async def _apply(self, sample: DomainSample, host: HostSample, vcpu: int | str, text: str) -> None:
        source, persistent = self.xentui.source, self.persistent
        try:
            took = await self.xentui.poller.act(
                lambda: perform(source, sample, Action.PIN, host=host, vcpu=vcpu,  # type: ignore[arg-type]
                                hard=text, persistent=persistent))
        except (ActionError, NoAnswer) as err:
            self.app.notify(one_line(str(err)), severity="error", timeout=10)
            self.note = markup("[$level-crit]$err[/]", err=one_line(str(err)))
        else:
            where = "live + config" if persistent else "live"
            done = f"pinned vCPU {vcpu} of {sample.name} to {text} ({where}) in {took * 1000:.0f} ms"
            self.app.notify(done)
            self.note = markup("[$dom-running]$done[/]; the matrix shows it from the next update", done=done)
        finally:
            self.busy = False
            self.proposed = None
            self.render_view()
