"""The full-screen app: a host line and a live domain table fed by the poller.

Widgets never call libvirt: a worker drives the :class:`~xentui.poller.Poller`
(whose blocking calls run in its own thread) and hands each Snapshot to the table.
"""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from xentui.model import Snapshot
from xentui.output.units import human_bytes, human_kib, pct
from xentui.poller import Poller
from xentui.sources import Source, SourceError

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "NAME"),
    ("state", "STATE"),
    ("cpu_pct", "CPU(%)"),
    ("cpu_s", "CPU(sec)"),
    ("mem", "MEM"),
    ("mem_pct", "MEM(%)"),
    ("maxmem", "MAXMEM"),
    ("vcpus", "VCPUS"),
    ("net_rx", "NET RX/s"),
    ("net_tx", "NET TX/s"),
    ("blk_rd", "DISK RD/s"),
    ("blk_wr", "DISK WR/s"),
)


def row_cells(view) -> dict[str, str]:
    d, r = view.sample, view.rates
    return {
        "name": d.name,
        "state": d.state.flags if d.active else "off",
        "cpu_pct": pct(r.cpu_pct),
        "cpu_s": "-" if d.cpu_ns is None else str(d.cpu_ns // 1_000_000_000),
        "mem": human_kib(d.mem_kib),
        "mem_pct": pct(view.mem_pct),
        "maxmem": "no limit" if d.maxmem_kib is None else human_kib(d.maxmem_kib),
        "vcpus": "-" if d.vcpus_current is None else str(d.vcpus_current),
        "net_rx": human_bytes(r.net_rx_bytes_s, "/s"),
        "net_tx": human_bytes(r.net_tx_bytes_s, "/s"),
        "blk_rd": human_bytes(r.blk_rd_bytes_s, "/s"),
        "blk_wr": human_bytes(r.blk_wr_bytes_s, "/s"),
    }


def host_line(snapshot: Snapshot) -> str:
    h = snapshot.host
    states: dict[str, int] = {}
    for view in snapshot.domains:
        states[view.sample.state.value] = states.get(view.sample.state.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no domains"
    used = h.mem_total_kib - h.mem_free_kib
    return (
        f"xentui - {time.strftime('%H:%M:%S', time.localtime(snapshot.wall))}   {h.hostname}   "
        f"{h.hypervisor} {h.hypervisor_version}   CPUs: {h.pcpus} @ {h.mhz}MHz\n"
        f"{len(snapshot.domains)} domains: {summary}   "
        f"Mem: {human_kib(h.mem_total_kib)} total, {human_kib(used)} used, {human_kib(h.mem_free_kib)} free   "
        f"CPU(%) = % of one pCPU"
        + "".join(f"\n{note}" for note in snapshot.notices)
        + (f"\nCache QoS: {h.cache_monitoring}" if h.cache_monitoring else "")
    )


class XentuiApp(App):
    TITLE = "xentui"
    CSS = """
    #host { height: auto; padding: 0 1; }
    DataTable { height: 1fr; }
    """
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("escape", "quit", "Quit", show=False)]

    def __init__(self, source: Source, delay: float):
        super().__init__()
        self.poller = Poller(source, delay, prime=min(1.0, delay))

    def compose(self) -> ComposeResult:
        yield Static("connecting…", id="host")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.run_worker(self._poll(), name="poller", exclusive=True)

    async def _poll(self) -> None:
        try:
            async for snapshot in self.poller.snapshots():
                self.show(snapshot)
        except SourceError as err:
            self.query_one("#host", Static).update(f"[b]{err}[/b]")

    def show(self, snapshot: Snapshot) -> None:
        """Update rows by domain key, only the cells that changed."""
        self.query_one("#host", Static).update(host_line(snapshot))
        table = self.query_one(DataTable)
        present = set()
        for view in sorted(snapshot.domains, key=lambda v: v.name.lower()):
            present.add(view.uuid)
            cells = row_cells(view)
            if view.uuid not in table.rows:
                table.add_row(*cells.values(), key=view.uuid)
                continue
            for key, text in cells.items():
                if table.get_cell(view.uuid, key) != text:
                    table.update_cell(view.uuid, key, text)
        for key in [k for k in table.rows if k.value not in present]:
            table.remove_row(key)

    def on_unmount(self) -> None:
        self.poller.close()


def run_app(source: Source, delay: float) -> int:
    XentuiApp(source, delay).run()
    return 0
