"""The batch JSON's ``psi`` and ``numa`` of a domain (issue 18): present only where the host has them."""

from __future__ import annotations

from typing import Any

from xentui.model import DomainView
from xentui.model.pressure import KINDS, RESOURCES, Stall
from xentui.output.numbers import rounded

_FIGURES = {kind: (f"{kind}_pct", f"{kind}_avg10_pct", f"{kind}_total_us") for kind in KINDS}


def psi_record(view: DomainView) -> dict[str, Any] | None:
    """Per resource, ``some``/``full``: % of the interval stalled (the totals' rate; the kernel's avg10 where
    ``measured`` is false), the kernel's avg10, and the cumulative total (us); ``age_s`` only where the files were
    read on an earlier update (in turns)."""
    psi, sample = view.psi, view.sample.pressure
    if psi is None or sample is None:
        return None
    stalls: dict[tuple[str, str], Stall] = {}
    for resource, kind, line in sample.stalls:
        stalls.setdefault((resource, kind), line)  # (the first of a pair counts, as PressureSample.get)
    pcts: dict[tuple[str, str], float | None] = {}
    for resource, kind, pct in psi.pct:
        pcts.setdefault((resource, kind), pct)
    out: dict[str, Any] = {"cgroup": sample.cgroup, "measured": psi.measured}
    if psi.age_s is not None:  # read on an earlier update (batch --fast: in turns)
        out["age_s"] = rounded(psi.age_s, 2)
    for resource in RESOURCES:
        figures: dict[str, Any] = {}
        for kind in KINDS:
            if (stall := stalls.get((resource, kind))) is not None:
                pct_key, avg10_key, total_key = _FIGURES[kind]
                figures[pct_key] = rounded(pcts.get((resource, kind)), 2)
                figures[avg10_key] = stall.avg10
                figures[total_key] = stall.total_us
        out[resource] = figures or None
    return out


def numa_record(view: DomainView) -> dict[str, Any] | None:
    """The nodes holding the domain's memory (KiB) and those of its vCPUs; ``misplaced``: some vCPU runs on a
    node other than the one holding most of its memory (``home_node``)."""
    sample, shown = view.sample.numa, view.numa
    if sample is None or shown is None:
        return None
    return {"source": sample.source or None, "partial": sample.partial,
            "memory_kib_by_node": {str(node): kib for node, kib in sample.memory_kib},
            "home_node": shown.home, "home_pct": rounded(shown.home_pct, 2),
            "vcpu_nodes": {str(vcpu): node for vcpu, node in sample.vcpu_nodes},
            "remote_vcpus": list(shown.remote_vcpus), "misplaced": shown.misplaced}


def host_side_record(view: DomainView) -> dict[str, Any]:
    """``psi`` and ``numa``, each only when the domain has it (older consumers' lines stay as they were)."""
    out = {}
    if (psi := psi_record(view)) is not None:
        out["psi"] = psi
    if (numa := numa_record(view)) is not None:
        out["numa"] = numa
    return out
