"""The host header: who, what hypervisor, uptime, pCPUs, memory, domains by state, pCPU bars."""

from __future__ import annotations

import time
from collections.abc import Sequence

from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget

from xentui.model import DomainState, DomainView, Snapshot
from xentui.text import one_line
from xentui.ui.alert_render import header_line
from xentui.ui.cache_render import host_cache_line
from xentui.ui.columns import Context, cpu_bar
from xentui.ui.fleet import state_counts
from xentui.ui.literal import literal, markup, stack
from xentui.units import human_kib

SUMMARY = (("running", DomainState.RUNNING), ("blocked", DomainState.BLOCKED), ("paused", DomainState.PAUSED),
           ("crashed", DomainState.CRASHED), ("dying", DomainState.DYING), ("shutdown", DomainState.SHUTDOWN))
STATE_MARKUP = {name: f"[$dom-{name}]$n $name[/]" for name, _state in SUMMARY}  # coloured when n > 0
BAR = 10  # cells of one pCPU bar


def uptime(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h" if days else f"{hours}h {rest // 60}m"


def live_mode_line(*, readonly: bool, delay: float, events: bool, paused: bool, stale: bool,
                   filter_text: str) -> Content:
    """``read-only  every 3 s + events  PAUSED  STALE  filter: web``: how the live view is running."""
    parts = [markup("[$level-warn]read-only[/]" if readonly else "[$level-crit]WRITE[/]"),
             literal(f"every {delay:g} s" + (" + events" if events else ""))]
    if paused:
        parts.append(markup("[reverse] PAUSED [/]"))
    if stale:
        parts.append(markup("[reverse $level-crit] STALE [/]"))
    if filter_text:
        parts.append(markup("filter: $text", text=filter_text))
    return literal("  ").join(parts)


def pcpu_bars(pcts: tuple[float | None, ...], width: int) -> list[str]:
    """``0[|||||     42%]`` per pCPU, as many per line as fit; markup coloured by level."""
    cells = []
    label = len(str(len(pcts) - 1))
    for cpu, pct in enumerate(pcts):
        value = 0.0 if pct is None else max(0.0, min(100.0, pct))
        cells.append(f"{cpu:>{label}}\\[{cpu_bar(value, BAR)}{'  -' if pct is None else f'{value:3.0f}'}%]")
    per_line = max(1, width // (label + BAR + 7))
    return ["  ".join(cells[i:i + per_line]) for i in range(0, len(cells), per_line)]


def state_summary(domains: Sequence[DomainView]) -> Content:
    """``12 domains: 3 running, 9 blocked, ...`` (xentop's summary), a state coloured when some are in it."""
    return summary_line(state_counts(domains), len(domains))


def summary_line(by_state: dict[DomainState, int], total: int) -> Content:
    """:func:`state_summary` of ``total`` domains counted by state."""
    counts = {name: by_state.get(state, 0) for name, state in SUMMARY}
    summary = [markup(STATE_MARKUP[name] if n else "$n $name", n=n, name=name) for name, n in counts.items()]
    return literal(f"{total} domains: ") + literal(", ").join(summary)


class HostHeader(Widget):
    """Repaints only its lines that changed (the clock, the bars), never the whole screen."""

    DEFAULT_CSS = "HostHeader { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }"

    def __init__(self, text: str = "", **kwargs):
        super().__init__(**kwargs)
        self.lines: list[Content] = [literal(text)]

    def render(self) -> Content:
        return stack(self.lines)

    @property
    def text(self) -> str:
        """What the header shows, as plain text."""
        return "\n".join(line.plain for line in self.lines)

    def show(self, snapshot: Snapshot, *, ctx: Context, mode_line: Content, width: int,
             alert: str | None = None) -> None:
        """``alert``: the source stopped answering; said on the second line, the data kept (stale).  Alerts that
        fire (``ctx.alerts``) are said on the line after."""
        if snapshot.fleet:
            from xentui.ui.widgets.fleet_header import fleet_lines

            lines = fleet_lines(snapshot, mode_line=mode_line, alert=alert, hosts_key=ctx.hosts_key)
        else:
            lines = self.host_lines(snapshot, ctx=ctx, mode_line=mode_line, width=width, alert=alert)
        if (alerts := header_line(ctx.alerts, snapshot.wall, snapshot.fleet)) is not None:
            lines.insert(2 if alert else 1, alerts)
        self.show_lines(lines)

    @staticmethod
    def host_lines(snapshot: Snapshot, *, ctx: Context, mode_line: Content, width: int,
                   alert: str | None) -> list[Content]:
        """The lines of one host's header."""
        h = snapshot.host
        clock = time.strftime("%H:%M:%S", time.localtime(snapshot.wall))
        up = f"  up {uptime(snapshot.wall - h.boot_time)}" if h.boot_time else ""
        used = h.mem_used_kib
        cpu_text = "% of one pCPU" if ctx.cpu_mode == "pcpu" else "% of the whole host"
        lines = [
            markup("[b]$host[/b]  $hypervisor $version  $clock$up   ", host=h.hostname, hypervisor=h.hypervisor,
                   version=h.hypervisor_version, clock=clock, up=up) + mode_line,
            markup("CPUs: $pcpus @ $mhz   CPU(%) = $mode ([b]$key[/b] toggles)", pcpus=h.pcpus or "-",
                   mhz=f"{h.mhz}MHz" if h.mhz else "-", mode=cpu_text, key=ctx.cpu_key),
            literal(f"Mem: {human_kib(h.mem_total_kib)} total, {human_kib(used)} used, "
                    f"{human_kib(h.mem_free_kib)} free" if used is not None else "Mem: - (the source does not say)"),
        ]
        if alert:
            lines.insert(1, markup("[b $level-crit]$alert[/]", alert=one_line(alert)))
        lines.append(state_summary(snapshot.domains))
        if snapshot.pcpu_pct:
            lines.extend(map(markup, pcpu_bars(snapshot.pcpu_pct, width - 2)))
        lines.extend(markup("[$level-warn]$note[/]", note=one_line(note)) for note in snapshot.notices)
        cache = host_cache_line(snapshot, ctx.attach_key)
        if cache:
            lines.append(literal(cache))
        lines.extend(markup("[$level-crit]$err[/]", err=one_line(err)) for err in snapshot.errors)
        return lines

    def show_lines(self, lines: list[Content]) -> None:
        """Repaint only the lines that changed (the whole widget when their number changes)."""
        old, self.lines = self.lines, lines
        if len(old) != len(lines):
            self.styles.height = len(lines)  # a layout change: only when the line count changes
            return
        for y, (a, b) in enumerate(zip(old, lines, strict=True)):
            if a.plain != b.plain or a.spans != b.spans:  # Content's == compares the text only
                self.refresh(Region(0, y, self.size.width, 1))
