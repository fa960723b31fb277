"""The pCPU view: every physical CPU, its use and which domains' vCPUs run on it (virt-top -1, xentop -p)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.widgets import Footer, Static

from xentui.model import Snapshot
from xentui.ui.literal import markup, stack
from xentui.ui.placement_render import pcpu_lines
from xentui.ui.views.base import Interest, LiveView


class PcpuScreen(LiveView):
    """Every physical CPU: its use and which domains' vCPUs run on it (virt-top -1, xentop -p)."""

    BINDINGS = [Binding("1", "close", "Back", show=False)]
    TITLE_ID = "pcpu-title"

    @property
    def interest(self) -> Interest:
        return (None, True)

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        with ScrollableContainer(id="pcpu-body"):
            yield Static(id="pcpu-lines")
        yield Footer()

    def show(self, snapshot: Snapshot) -> None:
        host = snapshot.host
        usage = ("use unknown here (local KVM hosts and Xen only)" if not snapshot.pcpu_pct
                 else "use from Xen's idle time" if host.hypervisor == "Xen" else "use from this host's /proc/stat")
        self.set_title(markup(
            "[b]pCPUs of $host[/b]  $size pCPUs @ ${mhz}MHz, $nodes NUMA node(s); $usage; vCPUs shown as "
            "domain/vCPU (placement re-read every few seconds while open)", host=host.hostname,
            size=host.cpumap_size, mhz=host.mhz, nodes=len(host.nodes()), usage=usage))
        self.query_one("#pcpu-lines", Static).update(stack(pcpu_lines(snapshot)))
