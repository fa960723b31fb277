"""PSI and NUMA as the table and the detail pane show them (issue 18, item 6): fixed words and numbers, and the
cgroup's path (outside text: the detail pane's lines() makes it visible)."""

from __future__ import annotations

from xentui.model import DomainView
from xentui.model.pressure import KINDS, RESOURCES
from xentui.ui.levels import level_of
from xentui.units import human_kib, number

PSI_WARN, PSI_CRIT = 10.0, 40.0  # % of the window some task stalled
SHORT = {"cpu": "cpu", "memory": "mem", "io": "io"}


def psi_value(v: DomainView, _c: object = None) -> float | None:
    worst = v.psi.worst() if v.psi is not None else None
    return None if worst is None else worst[1]


def psi_text(v: DomainView, _c: object = None) -> str:
    """The resource stalled most (``some``) and its %: ``io 12.5``; ``-`` when unknown."""
    worst = v.psi.worst() if v.psi is not None else None
    return "-" if worst is None else f"{SHORT[worst[0]]} {number(worst[1])}"


def psi_level(v: DomainView, _c: object = None) -> str | None:
    return level_of(psi_value(v), PSI_WARN, PSI_CRIT)


def numa_text(v: DomainView, _c: object = None) -> str:
    """``m0 c0,1``: the node holding most of the memory, the nodes the vCPUs run on (``!``: some run elsewhere)."""
    shown = v.numa
    if shown is None:
        return "-"
    memory = "-" if shown.home is None else str(shown.home)
    cpus = ",".join(map(str, shown.vcpu_nodes)) or "-"
    return f"m{memory} c{cpus}" + ("!" if shown.misplaced else "")


def numa_value(v: DomainView, _c: object = None) -> float | None:
    """Sorts by the share of the vCPUs away from the memory's node."""
    shown, sample = v.numa, v.sample.numa
    if shown is None or sample is None or not sample.vcpu_nodes:
        return None
    return 100.0 * len(shown.remote_vcpus) / len(sample.vcpu_nodes)


def numa_level(v: DomainView, _c: object = None) -> str | None:
    shown = v.numa
    return "warn" if shown is not None and shown.misplaced else None


def host_side_lines(v: DomainView) -> list[str]:
    """The detail pane's PSI and NUMA lines, where the host has them (none otherwise)."""
    out = []
    if v.psi is not None and v.sample.pressure is not None:
        parts = [f"{r} {'/'.join(number(v.psi.get(r, k)) for k in KINDS)}"
                 for r in RESOURCES if any(v.sample.pressure.get(r, k) for k in KINDS)]
        how = "" if v.psi.measured else " (kernel's avg10)"
        out.append(f"PSI some/full % {', '.join(parts)}{how}; cgroup {v.sample.pressure.cgroup}")
    numa, shown = v.sample.numa, v.numa
    if numa is not None and shown is not None:
        memory = ", ".join(f"node {n} {human_kib(kib)}" for n, kib in numa.memory_kib if kib) or "-"
        vcpus = ", ".join(f"{n}: {sum(1 for _v, m in numa.vcpu_nodes if m == n)}" for n in shown.vcpu_nodes) or "-"
        line = f"NUMA memory {memory}{' (partial)' if numa.partial else ''}; vCPUs by node {vcpus}"
        if shown.misplaced:
            line += (f"; vCPU {','.join(map(str, shown.remote_vcpus))} off node {shown.home}, which holds "
                     f"{number(shown.home_pct)} % of its memory")
        out.append(line)
    return out
