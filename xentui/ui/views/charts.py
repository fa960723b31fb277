"""History charts (plotext via textual-plotext): one domain's screen and the host's.

Charts draw from the bounded :class:`~xentui.history.History` and are redrawn only while their
screen is the one shown (the app calls ``show`` on the active screen only).  Line colours are
the app theme's variables; the plot's own colours follow the theme through textual-plotext.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Footer
from textual_plotext import PlotextPlot

from xentui.history import CACHE_SERIES, History, Ring
from xentui.model import Snapshot
from xentui.sources.base import HistoryPoint, SourceError
from xentui.text import one_line
from xentui.ui.cache_render import status_words
from xentui.ui.literal import markup
from xentui.ui.views.base import LiveView
from xentui.units import byte_scale

CHARTS = 6  # two rows: CPU, memory, LLC occupancy / network, disk, memory bandwidth
PALETTE = ("primary", "accent", "warning", "success", "error", "secondary")


def byte_unit(peak: float) -> tuple[int, str]:
    scale, unit = byte_scale(peak)
    return scale, f"{unit}/s"


class Chart(PlotextPlot):
    """One plot of several series against seconds before the last tick."""

    def draw(self, title: str, times: list[float], series: list[tuple[str, list[float]]], scale: float = 1.0,
             ylabel: str = "", ymax: float | None = None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        plt.xlabel("seconds ago")
        plt.ylabel(ylabel)
        theme = self.app.theme_variables
        now = times[-1] if times else 0.0
        drawn, peak = False, 0.0
        for n, (label, values) in enumerate(series):
            xs = times[-len(values):] if values else []
            points = [(x - now, v / scale) for x, v in zip(xs, values, strict=False) if not math.isnan(v)]
            if not points:
                continue
            colour = theme.get(PALETTE[n % len(PALETTE)], "#ffffff").lstrip("#")
            rgb = (int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)) if len(colour) >= 6 else None
            plt.plot([p[0] for p in points], [p[1] for p in points], label=label, color=rgb or "white",
                     marker="hd")  # half blocks: every terminal font has them
            drawn = True
            peak = max(peak, max(p[1] for p in points))
        # from 0, a little above the highest of the line and ``ymax``: a flat line is not drawn on the frame
        top = max(peak, ymax or 0.0)
        plt.ylim(0, top * 1.1 if top > 0 else 1.0)  # all zero (an idle NIC): 0 to 1, not 0 to 1e-9
        if not drawn and series:  # no series at all: the title already says why
            plt.title(f"{title}: no data yet")
        self.refresh()


def draw_rates(chart: Chart, title: str, times: list[float], *series: tuple[str, Ring], note: str = "") -> None:
    """Byte rates in the unit their peak calls for: ``title (MiB/s<note>)``."""
    lines = [(label, ring.values()) for label, ring in series]
    scale, unit = byte_unit(_peak(*(values for _label, values in lines)))
    chart.draw(f"{title} ({unit}{note})", times, lines, scale=scale, ylabel=unit)


def _peak(*lists: Iterable[float]) -> float:
    return max((v for values in lists for v in values if not math.isnan(v)), default=0.0)


def draw_cache(llc: Chart, mbm: Chart, times: list[float], series: dict[str, Ring] | None, who: str = "") -> None:
    """LLC occupancy and memory bandwidth (Cache QoS) over time, or "none"."""
    of = f", {who}" if who else ""
    if series is None:  # the screen's title line says why (a chart drops a title wider than itself)
        llc.draw("LLC occupancy: none", times, [])
        mbm.draw("Memory bandwidth: none", times, [])
        return
    llc.draw(f"LLC occupancy (MiB{of})", times, [("held", series["llc_bytes"].values())], scale=float(1 << 20),
             ylabel="MiB")
    draw_rates(mbm, "Memory bandwidth", times, ("total", series["mbm_total_bytes_s"]),
               ("local", series["mbm_local_bytes_s"]), note=of)


class ChartsScreen(LiveView):
    """Six charts of the history under a title line."""

    BINDINGS = [Binding("h,H", "close", "Back", show=False)]
    TITLE_ID = "charts-title"

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        with Grid():
            for n in range(CHARTS):
                yield Chart(id=f"chart-{n}")
        yield Footer()

    def charts(self) -> list[Chart]:
        return [self.query_one(f"#chart-{n}", Chart) for n in range(CHARTS)]


class DomainChartsScreen(ChartsScreen):
    """One domain: CPU % per vCPU, memory, network and disk rates."""

    STORED_S = 3600.0  # a source that keeps history (Prometheus) is asked for this much of CPU and memory
    REFRESH_S = 15.0  # and asked again this often while the screen is open (its newest points move on)

    def __init__(self, key: str):
        super().__init__()
        self.key = key  # DomainView.key: the UUID (host/UUID in a fleet)
        self.stored: list[HistoryPoint] | None = None  # the source's own history, once it has answered
        self.stored_problem = ""
        self._asked_at: float | None = None  # when the source was last asked (None: an answer is awaited)

    def on_mount(self) -> None:
        super().on_mount()
        self.run_worker(self._ask_source(), exclusive=True)

    async def _ask_source(self) -> None:
        """The source's own store (Prometheus's query_range) for CPU and memory, in the poller's thread."""
        source, key = self.xentui.source, self.key
        self._asked_at = None
        try:
            points = await self.xentui.poller.call(lambda: source.history(key, self.STORED_S))
        except SourceError as err:
            self.stored_problem = f"  history from the source failed: {one_line(str(err))}"
            points = None
        else:
            self.stored_problem = ""
        self._asked_at = time.monotonic()
        if points is not None and self.is_attached:
            self.stored = points
            if self.xentui.snapshot is not None:
                self.show(self.xentui.snapshot)

    def show(self, snapshot: Snapshot) -> None:
        if self.stored is not None and self._asked_at is not None \
                and time.monotonic() - self._asked_at >= self.REFRESH_S:  # else the store's charts stand still
            self._asked_at = None
            self.run_worker(self._ask_source(), exclusive=True)
        history: History = self.xentui.history
        times = history.times()
        view = snapshot.by_key().get(self.key)
        dom = history.domains.get(self.key)
        if view is None or dom is None:
            self.set_title(markup("[b]this domain is gone[/b] (its history went with it): Esc returns"))
            return
        s = dom.series
        span = f"{len(s['cpu_pct'])} updates"
        status = view.cache.status if view.cache is not None else ""
        why = status_words(status, self.xentui.context.attach_key) if status else snapshot.host.cache_monitoring
        no_cache = "" if dom.cache is not None else f"  Cache QoS: {(why or 'none for this domain').strip()}"
        stored = self.stored
        kept = f"; CPU and memory: the source's last {len(stored)} points" if stored else ""
        self.set_title(markup("[b]$name[/b]  history of the last $span$kept  Esc: back$why$problem", name=view.name,
                              span=span, kept=kept, why=no_cache, problem=self.stored_problem))
        cpu, mem, llc, net, disk, mbm = self.charts()
        if stored:  # the source's own store reaches further back than this session's memory
            at = [p.wall for p in stored]
            cpu.draw("CPU % (of one pCPU), from the source's store", at,
                     [("domain", [math.nan if p.cpu_pct is None else p.cpu_pct for p in stored])], ylabel="%",
                     ymax=100.0)
            mem.draw("Memory (MiB), from the source's store", at,
                     [("current", [math.nan if p.mem_kib is None else float(p.mem_kib) for p in stored])],
                     scale=1024.0, ylabel="MiB")
        else:
            vcpus = sorted(dom.vcpus.items())
            cpu.draw("CPU % per vCPU (of one pCPU)", times, [(f"vCPU {n}", ring.values()) for n, ring in vcpus],
                     ylabel="%", ymax=100.0)
            mem.draw("Memory (MiB)", times, [("current", s["mem_kib"].values())], scale=1024.0, ylabel="MiB")
        draw_rates(net, "Network", times, ("rx", s["net_rx_bytes_s"]), ("tx", s["net_tx_bytes_s"]))
        draw_rates(disk, "Disk", times, ("read", s["blk_rd_bytes_s"]), ("write", s["blk_wr_bytes_s"]))
        draw_cache(llc, mbm, times, dom.cache)


class HostChartsScreen(ChartsScreen):
    """The host: CPU busy, memory used, all domains' network and disk rates."""

    def show(self, snapshot: Snapshot) -> None:
        history: History = self.xentui.history
        # a host of a fleet opened alone: its own series, not the fleet's
        times, h = history.times(), history.host_series(self.xentui.fleet.focus or None)
        host = snapshot.host
        why = f"  Cache QoS: {host.cache_monitoring.strip()}" if host.cache_monitoring else ""
        self.set_title(markup(
            "[b]$host[/b]  host history, last $ticks updates  Esc: back$why", host=host.hostname, ticks=len(times),
            why=why))
        cpu, mem, llc, net, disk, mbm = self.charts()
        cpu.draw("CPU busy (% of the whole host)", times, [("busy", h["cpu_pct"].values())], ylabel="%",
                 ymax=100.0)
        size = f"of {host.mem_total_kib / (1 << 20):.1f}" if host.mem_total_kib else "of - : the source does not say"
        mem.draw(f"Memory used (GiB {size})", times,
                 [("used", h["mem_used_kib"].values())], scale=float(1 << 20), ylabel="GiB")
        draw_rates(net, "Network, all domains", times, ("rx", h["net_rx_bytes_s"]), ("tx", h["net_tx_bytes_s"]))
        draw_rates(disk, "Disk, all domains", times, ("read", h["blk_rd_bytes_s"]), ("write", h["blk_wr_bytes_s"]))
        monitored = {name: h[name] for name in CACHE_SERIES}
        any_cache = _peak(h["llc_bytes"].data, h["mbm_total_bytes_s"].data)  # the rings as they are: no copy
        draw_cache(llc, mbm, times, monitored if any_cache else None, who="monitored domains")
