"""Which columns have a figure here: each figure's test written once, and one result per snapshot (``frame.present``)
giving both the columns shown only where some domain has their figure and those the chooser and the help list."""

from __future__ import annotations

from collections.abc import Sequence

from xentui.model import DomainView
from xentui.model import present as figures

CACHE_COLUMNS = frozenset({"llc", "llc_pct", "mbm_total", "mbm_local"})  # shown only when the host has Cache QoS
PCI_COLUMNS = frozenset({"pci"})  # shown only when some domain has a PCI host device
LATENCY_COLUMNS = frozenset({"rd_ms", "wr_ms"})  # shown only when some domain's disks report request times
HOST_SIDE_COLUMNS = frozenset({"psi", "numa"})  # this host's kernel's figures of a local QEMU guest
AGENT_COLUMNS = frozenset({"ip", "agent"})  # shown only when some domain's guest agent answered
GMEM_COLUMNS = frozenset({"gmem_pct"})  # shown only when some guest reports its balloon statistics
# In the default set, shown only where some domain has the figure (the others listed are chosen by the user).
CONDITIONAL_COLUMNS = CACHE_COLUMNS | PCI_COLUMNS | LATENCY_COLUMNS | HOST_SIDE_COLUMNS | AGENT_COLUMNS | GMEM_COLUMNS


# The columns of each figure the model tells present (model.present: what "has" means is the model's to say).
COLUMNS_OF: dict[str, frozenset[str]] = {
    figures.CACHE: CACHE_COLUMNS,
    figures.HOSTDEVS: PCI_COLUMNS,
    figures.BLOCK_TIMES: LATENCY_COLUMNS,
    figures.PRESSURE: frozenset({"psi"}),
    figures.NUMA: frozenset({"numa"}),
    figures.AGENT: AGENT_COLUMNS,
    figures.GUEST_MEM: GMEM_COLUMNS,
    figures.OVERHEAD: frozenset({"ovh_pct"}),
    figures.DOMAIN_TYPE: frozenset({"type"}),
    figures.VCPU_DELAY: frozenset({"steal_pct"}),
}
assert set(COLUMNS_OF) == figures.FIGURES, "every figure the model can tell present has its columns"


def present(views: Sequence[DomainView]) -> frozenset[str]:
    """The keys of the columns whose figure some domain has (each test stops at the first domain that has it)."""
    return frozenset().union(*(COLUMNS_OF[name] for name in figures.present(views)))
