"""Which optional figures some domain of a snapshot has: one pass over its domains.

The table shows an optional column, and the column chooser and the help list it, only where some domain has its
figure; what "has" means for each figure is the model's to say (the UI maps figures to its columns)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from xentui.model.latency import has_block_times
from xentui.model.views import DomainView

CACHE = "cache"  # Cache QoS (LLC occupancy, memory bandwidth)
HOSTDEVS = "hostdevs"  # a PCI host device passed through
PRESSURE = "pressure"  # its cgroup's PSI
NUMA = "numa"  # its NUMA placement
AGENT = "agent"  # its guest agent answered with facts
GUEST_MEM = "guest_mem"  # the guest's balloon statistics
BLOCK_TIMES = "block_times"  # its disks' request times (RD ms, WR ms)
OVERHEAD = "overhead"  # CPU beyond its vCPUs (OVH(%))
DOMAIN_TYPE = "domain_type"  # pv, pvh, hvm
VCPU_DELAY = "vcpu_delay"  # its vCPUs' run delay (steal)

_HAS: tuple[tuple[str, Callable[[DomainView], bool]], ...] = (
    (CACHE, lambda v: v.cache is not None),
    (HOSTDEVS, lambda v: bool(v.sample.hostdevs)),
    (PRESSURE, lambda v: v.sample.pressure is not None),
    (NUMA, lambda v: v.sample.numa is not None),
    (AGENT, lambda v: v.sample.agent is not None and v.sample.agent.has_facts),
    (GUEST_MEM, lambda v: v.guest_mem is not None),
    (BLOCK_TIMES, lambda v: has_block_times(v.sample.blocks)),
    (OVERHEAD, lambda v: v.sample.overhead_ns is not None),
    (DOMAIN_TYPE, lambda v: v.sample.domain_type is not None),
    (VCPU_DELAY, lambda v: any(c.delay_ns is not None for c in v.sample.vcpus)),
)
FIGURES = frozenset(name for name, _has in _HAS)


def present(views: Iterable[DomainView]) -> frozenset[str]:
    """The FIGURES some domain of ``views`` has; each figure is looked for only until a domain has it."""
    left = list(_HAS)
    found: list[str] = []
    for view in views:
        still = []
        for name, has in left:
            if has(view):
                found.append(name)
            else:
                still.append((name, has))
        if not still:
            break
        left = still
    return frozenset(found)
