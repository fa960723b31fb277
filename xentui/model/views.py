"""Shown figures: rates and derived values per domain, and the Snapshot the outputs draw."""

from __future__ import annotations

from xentui.model._fast_record import frozen_record
from xentui.model.guest_memory import GuestMemView
from xentui.model.pressure import NumaView, PressureView
from xentui.model.samples import DomainSample, HostSample, HostState
from xentui.model.scheduling import SchedulingState


@frozen_record
class VcpuRates:
    number: int
    cpu_pct: float | None  # % of one pCPU
    steal_pct: float | None


@frozen_record
class BlockLatency:
    """One block device's ms per request over the window, per kind (None: unknown, or no request)."""

    name: str
    rd_ms: float | None = None
    wr_ms: float | None = None
    fl_ms: float | None = None


@frozen_record
class DomainRates:
    cpu_pct: float | None = None  # % of one pCPU (xentop)
    cpu_host_pct: float | None = None  # % of the whole host (virt-top)
    vcpus: tuple[VcpuRates, ...] = ()
    net_rx_bytes_s: float | None = None
    net_tx_bytes_s: float | None = None
    net_rx_packets_s: float | None = None
    net_tx_packets_s: float | None = None
    blk_rd_bytes_s: float | None = None
    blk_wr_bytes_s: float | None = None
    blk_rd_reqs_s: float | None = None
    blk_wr_reqs_s: float | None = None
    overhead_pct: float | None = None  # % of one pCPU the domain cost beyond its vCPUs (OVH(%))
    steal_pct: float | None = None  # its online vCPUs' steal (runnable, not running) summed, % of one pCPU
    blk_rd_ms: float | None = None  # ms per read request, over every disk's requests (None: unknown or none)
    blk_wr_ms: float | None = None
    blk_latency: tuple[BlockLatency, ...] = ()  # per disk, in the sample's order; empty: no disk has times


@frozen_record
class CacheBankView:
    cache_id: int | None
    occupancy_bytes: int | None
    occupancy_pct: float | None  # of that L3
    mbm_total_bytes_s: float | None
    mbm_local_bytes_s: float | None


@frozen_record
class CacheView:
    """A domain's Cache QoS as shown: per L3, and summed over them."""

    source: str
    banks: tuple[CacheBankView, ...] = ()
    status: str = ""  # why no numbers
    occupancy_bytes: int | None = None  # summed over the L3s
    occupancy_pct: float | None = None  # the largest share the domain holds of one L3
    mbm_total_bytes_s: float | None = None
    mbm_local_bytes_s: float | None = None


@frozen_record
class DomainView:
    """A domain as shown: its sample, its rates and derived figures."""

    sample: DomainSample
    rates: DomainRates
    mem_pct: float | None
    maxmem_pct: float | None
    cache: CacheView | None = None
    psi: PressureView | None = None  # its cgroup's stalls over the window (None: no PSI here)
    guest_mem: GuestMemView | None = None  # the guest's own memory figures (balloon statistics), when reported
    numa: NumaView | None = None  # its NUMA placement read (None: no NUMA figures here)
    monitor_age_s: float | None = None  # its monitor's figures were read this long ago, on an earlier tick (None: now)

    @property
    def uuid(self) -> str:
        return self.sample.uuid

    @property
    def name(self) -> str:
        return self.sample.name

    @property
    def host(self) -> str:
        return self.sample.host

    @property
    def key(self) -> str:
        return self.sample.key


@frozen_record
class HostView:
    """A fleet host as shown: its health, its own facts, the window of its rates."""

    name: str
    state: HostState
    group: str = ""
    uri: str = ""
    reason: str = ""  # why it is not up
    host: HostSample | None = None  # its facts (None: it never answered)
    interval_s: float | None = None  # the window of its domains' rates
    behind_s: float | None = None  # Prometheus: how old its figures are
    domains: int = 0
    pcpu_pct: tuple[float | None, ...] | None = None
    labels: tuple[tuple[str, str], ...] = ()


@frozen_record
class Snapshot:
    seq: int
    wall: float
    interval_s: float | None  # None on the first snapshot (no rates yet)
    host: HostSample
    domains: tuple[DomainView, ...]
    errors: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    pcpu_pct: tuple[float | None, ...] | None = None  # busy % of each physical CPU
    hosts: tuple[HostView, ...] = ()  # a fleet's hosts (empty: one host, ``host`` is it)
    scheduling: SchedulingState | None = None  # the current RawSample's (None: not read by this source)

    @property
    def fleet(self) -> bool:
        return bool(self.hosts)

    def by_key(self) -> dict[str, DomainView]:
        return {d.key: d for d in self.domains}

    def by_uuid(self) -> dict[str, DomainView]:
        return {d.uuid: d for d in self.domains}

