"""Which columns have a figure here: each figure's test written once, and one result per snapshot (``frame.present``)
giving both the columns shown only where some domain has their figure and those the chooser and the help list."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xentui.model import DomainView

CACHE_COLUMNS = frozenset({"llc", "llc_pct", "mbm_total", "mbm_local"})  # shown only when the host has Cache QoS
PCI_COLUMNS = frozenset({"pci"})  # shown only when some domain has a PCI host device
LATENCY_COLUMNS = frozenset({"rd_ms", "wr_ms"})  # shown only when some domain's disks report request times
HOST_SIDE_COLUMNS = frozenset({"psi", "numa"})  # this host's kernel's figures of a local QEMU guest
AGENT_COLUMNS = frozenset({"ip", "agent"})  # shown only when some domain's guest agent answered
GMEM_COLUMNS = frozenset({"gmem_pct"})  # shown only when some guest reports its balloon statistics
# In the default set, shown only where some domain has the figure (the others listed are chosen by the user).
CONDITIONAL_COLUMNS = CACHE_COLUMNS | PCI_COLUMNS | LATENCY_COLUMNS | HOST_SIDE_COLUMNS | AGENT_COLUMNS | GMEM_COLUMNS


def _has_latency(v: DomainView) -> bool:
    return any(b.rd_times_ns is not None or b.wr_times_ns is not None for b in v.sample.blocks)


def _has_agent(v: DomainView) -> bool:
    return v.sample.agent is not None and v.sample.agent.has_facts


# Each group of columns and whether one domain has its figure.
FIGURES: tuple[tuple[frozenset[str], Callable[[DomainView], bool]], ...] = (
    (CACHE_COLUMNS, lambda v: v.cache is not None),
    (PCI_COLUMNS, lambda v: bool(v.sample.hostdevs)),
    (LATENCY_COLUMNS, _has_latency),
    (frozenset({"psi"}), lambda v: v.sample.pressure is not None),
    (frozenset({"numa"}), lambda v: v.sample.numa is not None),
    (AGENT_COLUMNS, _has_agent),
    (GMEM_COLUMNS, lambda v: v.guest_mem is not None),
    (frozenset({"ovh_pct"}), lambda v: v.sample.overhead_ns is not None),
    (frozenset({"type"}), lambda v: v.sample.domain_type is not None),
    (frozenset({"steal_pct"}), lambda v: any(c.delay_ns is not None for c in v.sample.vcpus)),
)


def present(views: Sequence[DomainView]) -> frozenset[str]:
    """The keys of the columns whose figure some domain has (each test stops at the first domain that has it)."""
    return frozenset().union(*(keys for keys, has in FIGURES if any(map(has, views))))
