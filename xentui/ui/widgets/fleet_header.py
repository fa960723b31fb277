"""The fleet's header: hosts up/down/stale, domains by state, CPU and memory committed vs available over the
live hosts, and the sick hosts, one line each (a bounded number; the host list has them all)."""

from __future__ import annotations

import time

from textual.content import Content

from xentui.model import HostState, Snapshot
from xentui.text import one_line
from xentui.ui import frame
from xentui.ui.fleet import FleetSums, sick_hosts
from xentui.ui.literal import literal, markup
from xentui.ui.widgets.host_header import summary_line
from xentui.units import human_kib

HEALTH_WELL = "[b]fleet[/b]  $count hosts: $health  $clock   "
HEALTH_SICK = "[b]fleet[/b]  [b $level-crit]$count hosts: $health[/]  $clock   "
MAX_SICK = 5  # sick-host lines in the header; the rest are counted
MAX_MESSAGES = 3  # notice and error lines each
STATE_WORD = {HostState.DOWN: "DOWN", HostState.STALE: "STALE", HostState.CONNECTING: "CONNECTING"}


def _pct(part: float, whole: float) -> str:
    return f" ({100.0 * part / whole:.0f}%)" if whole > 0 else ""


def committed_line(sums: FleetSums) -> str:
    """CPU and memory committed against the live hosts' own; a figure no live host knows is "-", never 0."""
    busy = "" if sums.busy_pcpus is None else f", {sums.busy_pcpus:.1f} busy"
    cpu = (f"{sums.vcpus} vCPUs on {sums.pcpus} pCPUs{_pct(sums.vcpus, sums.pcpus)}{busy}" if sums.cpu_sized
           else "-")
    mem = (f"{human_kib(sums.mem_kib)} of {human_kib(sums.mem_total_kib)}{_pct(sums.mem_kib, sums.mem_total_kib)}"
           if sums.mem_sized else "-")
    hosts = f"{sums.live} live host{'s' if sums.live != 1 else ''}"
    if sums.live and not (sums.cpu_sized or sums.mem_sized):
        over = f"   {hosts}: none reports its pCPUs or memory"
    else:
        over = f"   committed over {hosts}" + (f" ({sums.unsized} of unknown size left out)" if sums.unsized else "")
    return f"CPU: {cpu}   Mem: {mem}{over}"


def fleet_lines(snapshot: Snapshot, *, mode_line: Content, alert: str | None = None,
                hosts_key: str = "f") -> list[Content]:
    """The header's lines for a fleet's snapshot; host names and reasons are literal text."""
    figures = frame.fleet(snapshot)  # prepared in the poller's thread
    sums = figures.sums
    clock = time.strftime("%H:%M:%S", time.localtime(snapshot.wall))
    health = [f"{sums.by_state[HostState.UP]} up"]
    health += [f"{sums.by_state[s]} {s.value}" for s in (HostState.DOWN, HostState.STALE, HostState.CONNECTING)
               if sums.by_state[s]]
    template = HEALTH_SICK if sums.live < sums.hosts else HEALTH_WELL
    lines = [markup(template, count=sums.hosts, health=", ".join(health), clock=clock) + mode_line]
    if alert:
        lines.append(markup("[b $level-crit]$alert[/]", alert=one_line(alert)))
    lines.append(literal(committed_line(sums)))
    old_rows = figures.old_rows  # as the sums: the rows of hosts not up are from before
    lines.append(summary_line(figures.by_state, figures.domains)
                 + literal(f"   (+{old_rows} rows from hosts not up)" if old_rows else ""))
    ill = sick_hosts(snapshot)
    for host in ill[:MAX_SICK]:
        group = f" ({host.group})" if host.group else ""
        lines.append(markup("[b $level-crit]$state[/] $name$group: $why", state=STATE_WORD[host.state],
                            name=host.name, group=group, why=one_line(host.reason) or "no answer yet"))
    if len(ill) > MAX_SICK:
        lines.append(markup("[$level-crit]… $more more hosts not up[/] ([b]$key[/b]: every host)",
                            more=len(ill) - MAX_SICK, key=hosts_key))
    lines += _bounded(snapshot.notices, "[$level-warn]$text[/]", "notices")
    lines += _bounded(snapshot.errors, "[$level-crit]$text[/]", "errors")
    return lines


def _bounded(messages: tuple[str, ...], template: str, kind: str) -> list[Content]:
    """The hosts' messages, MAX_MESSAGES of them and a count of the rest (each host alone shows all its own)."""
    shown = [markup(template, text=one_line(m)) for m in messages[:MAX_MESSAGES]]
    if len(messages) > MAX_MESSAGES:
        shown.append(literal(f"… {len(messages) - MAX_MESSAGES} more {kind} (open a host to see its own)"))
    return shown
