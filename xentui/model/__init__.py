"""Immutable samples and the one place where counters become rates.

Sources return a :class:`RawSample` each tick (counters as the hypervisor reports them,
``samples``).  :func:`build_snapshot` (``rates``) turns the previous and the current raw
sample into a :class:`Snapshot` (``views``): every rate xentui shows is computed there and
nowhere else.  Pure standard library: no I/O, no libvirt, no textual.
"""

from xentui.model._fast_record import evolve, frozen_record
from xentui.model.guest_memory import BalloonStats, GuestMemView
from xentui.model.rates import (
    MAX_MBM_BYTES_S,
    build_snapshot,
    cache_view,
    counter_rate,
    domain_rates,
    guest_memory_view,
    same_incarnation,
    wrapping_rate,
)
from xentui.model.samples import (
    NO_IO,
    NS_PER_S,
    SECTOR_BYTES,
    BlockSample,
    CacheBank,
    CacheSample,
    DomainSample,
    DomainState,
    HostPart,
    HostSample,
    HostState,
    IoTotals,
    JobSample,
    L3Cache,
    NetSample,
    Pcpu,
    RawSample,
    VcpuSample,
    sum_parts,
)
from xentui.model.scheduling import CpuPool, DomainScheduling, SchedulingState, VcpuBudget
from xentui.model.views import (
    BlockLatency,
    CacheBankView,
    CacheView,
    DomainRates,
    DomainView,
    HostView,
    Snapshot,
    VcpuRates,
)

__all__ = [
    "MAX_MBM_BYTES_S",
    "NO_IO",
    "NS_PER_S",
    "SECTOR_BYTES",
    "BalloonStats",
    "BlockLatency",
    "BlockSample",
    "CacheBank",
    "CacheBankView",
    "CacheSample",
    "CacheView",
    "CpuPool",
    "DomainRates",
    "DomainSample",
    "DomainScheduling",
    "DomainState",
    "DomainView",
    "GuestMemView",
    "HostPart",
    "HostSample",
    "HostState",
    "HostView",
    "IoTotals",
    "JobSample",
    "L3Cache",
    "NetSample",
    "Pcpu",
    "RawSample",
    "SchedulingState",
    "Snapshot",
    "VcpuBudget",
    "VcpuRates",
    "VcpuSample",
    "build_snapshot",
    "cache_view",
    "counter_rate",
    "domain_rates",
    "evolve",
    "frozen_record",
    "guest_memory_view",
    "same_incarnation",
    "sum_parts",
    "wrapping_rate",
]
