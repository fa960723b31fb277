"""Text for the vCPU and pCPU views: vCPU table, vCPU x pCPU matrix, pCPUs by node.

Returns lines of Content (names go in through :mod:`xentui.ui.literal`); meaning is carried by the
characters too (``@`` current pCPU, ``#`` allowed, ``.`` not allowed, ``*`` proposed), so it reads without colour.
"""

from __future__ import annotations

from textual.content import Content

from xentui.cpulist import format_cpulist
from xentui.model import DomainView, HostSample, Pcpu, Snapshot
from xentui.ui.columns import cpu_bar
from xentui.ui.literal import literal, markup
from xentui.units import pct

CELL_CURRENT, CELL_ALLOWED, CELL_DENIED, CELL_SOFT, CELL_PROPOSED, CELL_OFFLINE = "@", "#", ".", "+", "*", "x"
LEGEND = (f"{CELL_CURRENT} runs there now   {CELL_ALLOWED} allowed (hard affinity)   {CELL_SOFT} also preferred "
          f"(soft affinity, Xen)\n"
          f"{CELL_DENIED} not allowed   {CELL_OFFLINE} pCPU offline   {CELL_PROPOSED} proposed pin")


VCPU_HEADER = (f"[b]{'':2}{'vCPU':>4} {'state':<8} {'pCPU':>4} {'CPU(%)':>7} {'time(s)':>10} {'steal%':>7}  "
               f"{'hard affinity':<20} soft affinity[/b]")


def groups(host: HostSample) -> list[tuple[str, list[Pcpu]]]:
    """pCPUs grouped by (NUMA node, socket), labelled ``node 0`` (``node 0/s1`` when a node spans sockets)."""
    out: dict[tuple[int, int], list[Pcpu]] = {}
    for p in host.pcpu_list():
        out.setdefault((p.node, p.socket), []).append(p)
    nodes = [node for node, _socket in out]
    return [(f"node {node}" + (f"/s{socket}" if nodes.count(node) > 1 else ""), cpus)
            for (node, socket), cpus in sorted(out.items())]


def vcpu_table(view: DomainView, host: HostSample, chosen: set[int]) -> list[Content]:
    """One line per vCPU: state, pCPU now, CPU%, time, steal%, hard and soft affinity."""
    size = host.cpumap_size
    rates = {r.number: r for r in view.rates.vcpus}
    lines = [markup(VCPU_HEADER)]
    for v in view.sample.vcpus:
        rate = rates.get(v.number)
        state = "online" if v.online else "offline"
        hard = "?" if v.hard_affinity is None else format_cpulist(v.hard_affinity, size)
        soft = "-" if v.soft_affinity is None else format_cpulist(v.soft_affinity, size)
        seconds = "-" if v.time_ns is None else f"{v.time_ns / 1e9:.1f}"
        mark = ">" if v.number in chosen else " "
        line = (f"{mark:2}{v.number:>4} {state:<8} {'-' if v.pcpu is None else v.pcpu:>4} "
                f"{pct(rate.cpu_pct if rate else None):>7} {seconds:>10} {pct(rate.steal_pct if rate else None):>7}  "
                f"{hard:<20} {soft}")  # numbers: cpu lists such as 0-3,8
        lines.append(markup("[reverse]$line[/]", line=line) if v.number in chosen else literal(line))
    return lines


def matrix(view: DomainView, host: HostSample, chosen: set[int], proposed: frozenset[int] | None) -> list[Content]:
    """vCPU x pCPU grid, pCPUs grouped by node/socket; ``proposed`` previews a pin of ``chosen``."""
    grouped = groups(host)
    label = 9
    heads, tens, ones = [" " * label], [" " * label], [" " * label]
    for name, cpus in grouped:
        width = len(cpus)
        short = name.replace("node ", "n")
        heads.append(" " + (name if len(name) <= width else short if len(short) <= width else "")[:width].ljust(width))
        tens.append(" " + "".join(str(p.number // 10 % 10) if p.number >= 10 else " " for p in cpus))
        ones.append(" " + "".join(str(p.number % 10) for p in cpus))
    lines = ["".join(heads), "[dim]" + "".join(tens) + "[/]", "[dim]" + "".join(ones) + "[/]"]
    for v in view.sample.vcpus:
        row = [f"vCPU {v.number:>3} "]
        preview = proposed is not None and v.number in chosen
        for _name, cpus in grouped:
            cells = []
            for p in cpus:
                cells.append(_cell(p, v.pcpu, v.hard_affinity, v.soft_affinity, proposed if preview else None))
            row.append(" " + "".join(cells))
        line = "".join(row)
        if v.hard_affinity is None and not preview:
            line += "  [dim]affinity not read yet[/]"
        lines.append(line)
    return list(map(markup, lines))  # node labels and numbers only


def _cell(p: Pcpu, current: int | None, hard: frozenset[int] | None, soft: frozenset[int] | None,
          proposed: frozenset[int] | None) -> str:
    if not p.online:
        return f"[$level-crit]{CELL_OFFLINE}[/]"
    if proposed is not None:
        return f"[b $level-warn]{CELL_PROPOSED}[/]" if p.number in proposed else f"[dim]{CELL_DENIED}[/]"
    if p.number == current:
        return f"[b reverse $dom-running]{CELL_CURRENT}[/]"
    if hard is None:
        return "?"
    if p.number not in hard:
        return f"[dim]{CELL_DENIED}[/]"
    if soft is not None and p.number in soft and soft != hard:
        return f"[$accent]{CELL_SOFT}[/]"
    return CELL_ALLOWED


def pcpu_lines(snapshot: Snapshot, bar: int = 20) -> list[Content]:
    """Each pCPU's use and the vCPUs (``domain/vcpu``) running on it, grouped by node and socket."""
    host = snapshot.host
    on: dict[int, list[str]] = {}
    for view in snapshot.domains:
        for v in view.sample.vcpus:
            if v.pcpu is not None and v.online:
                on.setdefault(v.pcpu, []).append(f"{view.name}/{v.number}")
    usage = snapshot.pcpu_pct
    lines = []
    for name, cpus in groups(host):
        sockets = ", ".join(f"socket {s}" for s in sorted({p.socket for p in cpus}))
        numbers = format_cpulist(frozenset(p.number for p in cpus))
        lines.append(markup("[b]NUMA $name[/b] ($sockets)  pCPUs $numbers", name=name, sockets=sockets,
                            numbers=numbers))
        for p in cpus:
            if not p.online:
                lines.append(markup("  $cpu  [$level-crit]offline[/]", cpu=f"{p.number:>3}"))
                continue
            value = usage[p.number] if usage is not None and p.number < len(usage) else None
            if value is None:
                meter = f"\\[{' ' * bar}]     -%"
            else:
                clipped = max(0.0, min(100.0, value))
                meter = f"\\[{cpu_bar(clipped, bar)}] {clipped:5.1f}%"
            vcpus = " ".join(sorted(on.get(p.number, [])))  # names: literal, made visible
            lines.append(literal(f"  {p.number:>3}  ") + markup(meter) + literal("  ")
                         + (literal(vcpus) if vcpus else markup("[dim]-[/]")))
    return lines
