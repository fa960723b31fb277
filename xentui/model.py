"""Immutable samples and the one place where counters become rates.

Sources return a :class:`RawSample` each tick (counters as the hypervisor reports
them).  :func:`build_snapshot` turns the previous and the current raw sample into a
:class:`Snapshot`: every rate xentui shows is computed here and nowhere else.

Pure standard library: no I/O, no libvirt, no textual.
"""

from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")

NS_PER_S = 1_000_000_000
SECTOR_BYTES = 512  # xentop's RSECT/WSECT are 512-byte sectors


def record(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True, slots=True)`` with an ``__init__`` twice as fast.

    A frozen dataclass sets each field through ``object.__setattr__``; at 1000 domains a
    tick builds ~10 000 of these objects, so the generated ``__init__`` stores through
    the slot descriptors instead. Instances stay immutable: ``__setattr__`` still raises.
    """
    cls = dataclass(frozen=True, slots=True)(cls)
    namespace: dict[str, Any] = {}
    params, body = [], []
    for f in fields(cls):
        if not f.init:
            continue
        if f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: default_factory is not supported")
        if f.default is MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        body.append(f"    _set_{f.name}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    exec(f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"]), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init
    return cls



class DomainState(enum.Enum):
    """Domain state, with xentop's six flag letters ``dsbcpr``."""

    NOSTATE = "nostate"
    RUNNING = "running"
    BLOCKED = "blocked"
    PAUSED = "paused"
    SHUTDOWN = "shutdown"  # shutting down
    SHUTOFF = "shutoff"  # defined, not running
    CRASHED = "crashed"
    PMSUSPENDED = "pmsuspended"
    DYING = "dying"

    @property
    def flags(self) -> str:
        """xentop's STATE column: one letter per flag in the order d s b c p r."""
        letter = _STATE_LETTER.get(self)
        return "".join(ch if ch == letter else "-" for ch in "dsbcpr")


_STATE_LETTER = {
    DomainState.DYING: "d",
    DomainState.SHUTDOWN: "s",
    DomainState.BLOCKED: "b",
    DomainState.CRASHED: "c",
    DomainState.PAUSED: "p",
    DomainState.PMSUSPENDED: "p",
    DomainState.RUNNING: "r",
}


@record
class VcpuSample:
    number: int
    online: bool = True
    time_ns: int | None = None
    delay_ns: int | None = None  # time runnable but not running (steal)
    pcpu: int | None = None
    hard_affinity: frozenset[int] | None = None  # pCPUs it may run on (None: not fetched)
    soft_affinity: frozenset[int] | None = None  # pCPUs it prefers (Xen)


@record
class NetSample:
    name: str
    rx_bytes: int | None = None
    rx_packets: int | None = None
    rx_errs: int | None = None
    rx_drop: int | None = None
    tx_bytes: int | None = None
    tx_packets: int | None = None
    tx_errs: int | None = None
    tx_drop: int | None = None


@record
class BlockSample:
    name: str
    path: str = ""
    rd_reqs: int | None = None
    rd_bytes: int | None = None
    wr_reqs: int | None = None
    wr_bytes: int | None = None
    oo_reqs: int | None = None  # Xen blkback "out of requests"; unknown elsewhere
    errors: int | None = None
    kind: str = ""  # Xen back-end type, e.g. "BlkBack"
    devno: int | None = None  # Xen virtual device number, e.g. 51712 (xvda)


@record
class CacheBank:
    """Cache QoS of one domain on one L3 cache (one socket, usually).

    Occupancy is bytes now; the MBM figures are cumulative byte counters (resctrl, libvirt),
    or rates the source measured itself (``xl psr-cmt-show``, libvirt's legacy perf events).
    """

    cache_id: int | None  # the L3's id (resctrl mon_L3_XX, Xen socket); None: every L3 together
    occupancy_bytes: int | None = None
    mbm_total_bytes: int | None = None  # cumulative
    mbm_local_bytes: int | None = None  # cumulative
    mbm_total_bytes_s: float | None = None  # measured by the source (no counter to difference)
    mbm_local_bytes_s: float | None = None


@record
class CacheSample:
    """A domain's Cache QoS: from which source and group, per L3; or why there is none."""

    source: str  # "libvirt", "resctrl", "xen", "perf"
    group: str = ""  # monitoring group / monitor name: counters restart when it changes
    banks: tuple[CacheBank, ...] = ()
    status: str = ""  # why no numbers, e.g. "not attached: press A to attach"
    counter_bits: int = 64  # MBM counter width: resctrl's files are 64-bit (the kernel folds hardware overflow)


@record
class DomainSample:
    """One domain's counters at one instant, keyed by ``uuid``."""

    uuid: str
    name: str
    domid: int | None
    state: DomainState
    cpu_ns: int | None = None
    vcpus_current: int | None = None
    vcpus_max: int | None = None
    mem_kib: int | None = None
    maxmem_kib: int | None = None  # None: no limit
    rss_kib: int | None = None
    vcpus: tuple[VcpuSample, ...] = ()
    nets: tuple[NetSample, ...] = ()
    blocks: tuple[BlockSample, ...] = ()
    ssid: int = 0
    flags: str | None = None  # exact xentop flags when the source has them (Xen)
    cache: CacheSample | None = None  # Cache QoS (None: the host has none; HostSample.cache_monitoring says why)
    stale: str = ""  # why some figures are old (the domain is not answering), else ""
    io: IoTotals = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "io", IoTotals.of(self.nets, self.blocks))

    @property
    def active(self) -> bool:
        return self.state is not DomainState.SHUTOFF

    @property
    def state_flags(self) -> str:
        """xentop's STATE column, ``dsbcpr``."""
        return self.flags if self.flags is not None else self.state.flags


@record
class Pcpu:
    """One physical CPU and where it sits (from libvirt's capabilities or ``xl info -n``)."""

    number: int
    node: int = 0  # NUMA node
    socket: int = 0
    core: int | None = None
    online: bool = True


@record
class L3Cache:
    cache_id: int
    size_bytes: int


@record
class HostSample:
    hostname: str
    hypervisor: str  # e.g. "QEMU", "Xen", "TEST"
    hypervisor_version: str
    uri: str
    pcpus: int
    mhz: int
    mem_total_kib: int
    mem_free_kib: int
    cpu_model: str = ""
    libvirt_version: str = ""
    cache_monitoring: str = ""  # why there is no Cache QoS data, when there is none
    boot_time: float | None = None  # epoch seconds the host booted, when known
    topology: tuple[Pcpu, ...] = ()  # one per pCPU, by number; empty: unknown (one node, all online)
    l3_caches: tuple[L3Cache, ...] = ()  # size of each L3 (cache id), when Cache QoS knows it
    cache_rmids: int | None = None  # monitoring ids the hardware has (RMIDs), when known

    def l3_bytes(self, cache_id: int | None) -> int | None:
        """Size of one L3 (None: all of them together)."""
        sizes = {c.cache_id: c.size_bytes for c in self.l3_caches}
        if cache_id is None:
            return sum(sizes.values()) or None
        return sizes.get(cache_id)

    @property
    def cpumap_size(self) -> int:
        """pCPU numbers run 0..cpumap_size-1 (more than ``pcpus`` when some are offline)."""
        return max(self.pcpus, max((p.number + 1 for p in self.topology), default=0))

    def pcpu_list(self) -> tuple[Pcpu, ...]:
        """Every pCPU by number with its node and socket (node 0, online, when unknown)."""
        known = {p.number: p for p in self.topology}
        return tuple(known.get(n) or Pcpu(n) for n in range(self.cpumap_size))

    def nodes(self) -> dict[int, frozenset[int]]:
        """NUMA node -> its pCPUs."""
        out: dict[int, set[int]] = {}
        for p in self.pcpu_list():
            out.setdefault(p.node, set()).add(p.number)
        return {node: frozenset(cpus) for node, cpus in sorted(out.items())}

    def offline(self) -> frozenset[int]:
        return frozenset(p.number for p in self.topology if not p.online)


@record
class RawSample:
    """What a source returns for one tick."""

    monotonic: float  # seconds, for intervals
    wall: float  # seconds since the epoch, for display
    host: HostSample
    domains: tuple[DomainSample, ...]
    errors: tuple[str, ...] = ()  # what failed this tick
    notices: tuple[str, ...] = ()  # what the admin must know about what is shown
    pcpu_busy_ns: tuple[int, ...] | None = None  # per physical CPU, cumulative (None: unknown)


@record
class VcpuRates:
    number: int
    cpu_pct: float | None  # % of one pCPU
    steal_pct: float | None


@record
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


@record
class CacheBankView:
    cache_id: int | None
    occupancy_bytes: int | None
    occupancy_pct: float | None  # of that L3
    mbm_total_bytes_s: float | None
    mbm_local_bytes_s: float | None


@record
class CacheView:
    """A domain's Cache QoS as shown: per L3, and summed over them."""

    source: str
    banks: tuple[CacheBankView, ...] = ()
    status: str = ""  # why no numbers
    occupancy_bytes: int | None = None  # summed over the L3s
    occupancy_pct: float | None = None  # the largest share the domain holds of one L3
    mbm_total_bytes_s: float | None = None
    mbm_local_bytes_s: float | None = None


@record
class DomainView:
    """A domain as shown: its sample, its rates and derived figures."""

    sample: DomainSample
    rates: DomainRates
    mem_pct: float | None
    maxmem_pct: float | None
    cache: CacheView | None = None

    @property
    def uuid(self) -> str:
        return self.sample.uuid

    @property
    def name(self) -> str:
        return self.sample.name


@record
class Snapshot:
    seq: int
    wall: float
    interval_s: float | None  # None on the first snapshot (no rates yet)
    host: HostSample
    domains: tuple[DomainView, ...]
    errors: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    pcpu_pct: tuple[float | None, ...] | None = None  # busy % of each physical CPU

    def by_uuid(self) -> dict[str, DomainView]:
        return {d.uuid: d for d in self.domains}


# --- rate maths -------------------------------------------------------------


def counter_rate(prev: int | None, cur: int | None, seconds: float) -> float | None:
    """Per-second rate of a monotonic counter, or None when it cannot be true.

    A counter that went backwards was reset (device re-plugged, domain restarted):
    no rate is better than a negative or giant one.
    """
    if prev is None or cur is None or seconds <= 0 or cur < prev:
        return None
    return (cur - prev) / seconds


def _pct_of_ns(prev: int | None, cur: int | None, seconds: float) -> float | None:
    rate = counter_rate(prev, cur, seconds)
    return None if rate is None else 100.0 * rate / NS_PER_S


def _total(devices: tuple, attr: str) -> int | None:
    """Sum of one counter over devices; None when any is unknown (a partial sum lies)."""
    total = 0
    for device in devices:
        value = getattr(device, attr)
        if value is None:
            return None
        total += value
    return total


@record
class IoTotals:
    """A domain's network and block counters summed over its devices."""

    net_rx_bytes: int | None = 0
    net_tx_bytes: int | None = 0
    net_rx_packets: int | None = 0
    net_tx_packets: int | None = 0
    blk_rd_reqs: int | None = 0
    blk_wr_reqs: int | None = 0
    blk_rd_bytes: int | None = 0
    blk_wr_bytes: int | None = 0
    blk_oo_reqs: int | None = 0

    @classmethod
    def of(cls, nets: tuple[NetSample, ...], blocks: tuple[BlockSample, ...]) -> IoTotals:
        if not nets and not blocks:
            return NO_IO
        return cls(
            net_rx_bytes=_total(nets, "rx_bytes"),
            net_tx_bytes=_total(nets, "tx_bytes"),
            net_rx_packets=_total(nets, "rx_packets"),
            net_tx_packets=_total(nets, "tx_packets"),
            blk_rd_reqs=_total(blocks, "rd_reqs"),
            blk_wr_reqs=_total(blocks, "wr_reqs"),
            blk_rd_bytes=_total(blocks, "rd_bytes"),
            blk_wr_bytes=_total(blocks, "wr_bytes"),
            blk_oo_reqs=_total(blocks, "oo_reqs"),
        )


NO_IO = IoTotals()


def same_incarnation(prev: DomainSample, cur: DomainSample) -> bool:
    """True when both samples come from one run of one domain.

    Same UUID is required by the caller; a changed domain id (destroyed and started
    again between ticks) or an inactive side means the counters restarted.
    """
    return prev.active and cur.active and prev.domid == cur.domid


def _vcpu_rates(prev: DomainSample, cur: DomainSample, seconds: float) -> tuple[VcpuRates, ...]:
    old_vcpus = {v.number: v for v in prev.vcpus}
    out = []
    for v in cur.vcpus:
        old = old_vcpus.get(v.number)
        if old is None:
            out.append(VcpuRates(v.number, None, None))
        else:
            out.append(VcpuRates(v.number, _pct_of_ns(old.time_ns, v.time_ns, seconds),
                                 _pct_of_ns(old.delay_ns, v.delay_ns, seconds)))
    return tuple(out)


NO_RATES = (None, None, None, None)


def domain_rates(prev: DomainSample | None, cur: DomainSample, seconds: float, pcpus: int) -> DomainRates:
    if prev is None or not same_incarnation(prev, cur) or seconds <= 0:
        return DomainRates()
    cpu_pct = _pct_of_ns(prev.cpu_ns, cur.cpu_ns, seconds)
    host_pct = None if cpu_pct is None or pcpus <= 0 else cpu_pct / pcpus
    vcpus = _vcpu_rates(prev, cur, seconds)
    a, b = prev.io, cur.io
    # Devices must match one to one, else a hot-plug would make totals jump.
    if [n.name for n in prev.nets] == [n.name for n in cur.nets]:
        net = (counter_rate(a.net_rx_bytes, b.net_rx_bytes, seconds),
               counter_rate(a.net_tx_bytes, b.net_tx_bytes, seconds),
               counter_rate(a.net_rx_packets, b.net_rx_packets, seconds),
               counter_rate(a.net_tx_packets, b.net_tx_packets, seconds))
    else:
        net = NO_RATES
    # Kept figures of a domain that does not answer give no rate, neither while kept nor once fresh again.
    if not (prev.stale or cur.stale) and [d.name for d in prev.blocks] == [d.name for d in cur.blocks]:
        blk = (counter_rate(a.blk_rd_bytes, b.blk_rd_bytes, seconds),
               counter_rate(a.blk_wr_bytes, b.blk_wr_bytes, seconds),
               counter_rate(a.blk_rd_reqs, b.blk_rd_reqs, seconds),
               counter_rate(a.blk_wr_reqs, b.blk_wr_reqs, seconds))
    else:
        blk = NO_RATES
    return DomainRates(cpu_pct, host_pct, vcpus, *net, *blk)


# MBM: a counter that went backwards wrapped only if the difference modulo its width is a
# bandwidth memory can carry; else the group was re-created (RMID reused) and there is no rate.
MAX_MBM_BYTES_S = 2**40  # 1 TiB/s: no socket's memory moves more


def wrapping_rate(prev: int | None, cur: int | None, seconds: float, bits: int = 64) -> float | None:
    """Per-second rate of a ``bits``-wide counter that may have wrapped once; None when implausible."""
    if prev is None or cur is None or seconds <= 0:
        return None
    rate = ((cur - prev) % (1 << bits)) / seconds
    return rate if rate <= MAX_MBM_BYTES_S else None


def _sum(values) -> float | int | None:
    """Sum over the L3s; None when any is unknown (a partial sum lies, as in IoTotals)."""
    values = list(values)
    return None if not values or None in values else sum(values)


def cache_view(prev: DomainSample | None, cur: DomainSample, seconds: float, host: HostSample) -> CacheView | None:
    """Occupancy as % of each L3, MBM counters as bytes/s (wrap-safe), summed over the L3s."""
    cache = cur.cache
    if cache is None:
        return None
    old_cache = prev.cache if prev is not None and same_incarnation(prev, cur) else None
    comparable = (old_cache is not None and old_cache.source == cache.source and old_cache.group == cache.group
                  and seconds > 0)
    old = {b.cache_id: b for b in old_cache.banks} if comparable else {}
    banks = []
    for b in cache.banks:
        a = old.get(b.cache_id)
        total, local = b.mbm_total_bytes_s, b.mbm_local_bytes_s
        if a is not None:
            if total is None:
                total = wrapping_rate(a.mbm_total_bytes, b.mbm_total_bytes, seconds, cache.counter_bits)
            if local is None:
                local = wrapping_rate(a.mbm_local_bytes, b.mbm_local_bytes, seconds, cache.counter_bits)
        size = host.l3_bytes(b.cache_id)
        banks.append(CacheBankView(b.cache_id, b.occupancy_bytes, _pct_of(b.occupancy_bytes, size or 0), total, local))
    return CacheView(
        source=cache.source,
        banks=tuple(banks),
        status=cache.status,
        occupancy_bytes=_sum(v.occupancy_bytes for v in banks),
        occupancy_pct=max((v.occupancy_pct for v in banks if v.occupancy_pct is not None), default=None),
        mbm_total_bytes_s=_sum(v.mbm_total_bytes_s for v in banks),
        mbm_local_bytes_s=_sum(v.mbm_local_bytes_s for v in banks),
    )


def _pct_of(part: int | None, whole: int) -> float | None:
    if part is None or whole <= 0:
        return None
    return 100.0 * part / whole


def build_snapshot(prev: RawSample | None, cur: RawSample, seq: int = 0) -> Snapshot:
    """Combine two raw samples into what the outputs show."""
    seconds = cur.monotonic - prev.monotonic if prev is not None else 0.0
    old = {d.uuid: d for d in prev.domains} if prev is not None else {}
    total = cur.host.mem_total_kib
    views = tuple(
        DomainView(
            sample=d,
            rates=domain_rates(old.get(d.uuid), d, seconds, cur.host.pcpus),
            mem_pct=_pct_of(d.mem_kib, total),
            maxmem_pct=_pct_of(d.maxmem_kib, total),
            cache=None if d.cache is None else cache_view(old.get(d.uuid), d, seconds, cur.host),
        )
        for d in cur.domains
    )
    return Snapshot(
        seq=seq,
        wall=cur.wall,
        interval_s=seconds if prev is not None else None,
        host=cur.host,
        domains=views,
        errors=cur.errors,
        notices=cur.notices,
        pcpu_pct=_pcpu_pct(prev, cur, seconds),
    )


def _pcpu_pct(prev: RawSample | None, cur: RawSample, seconds: float) -> tuple[float | None, ...] | None:
    if prev is None or cur.pcpu_busy_ns is None or prev.pcpu_busy_ns is None:
        return None
    if len(prev.pcpu_busy_ns) != len(cur.pcpu_busy_ns):
        return None
    return tuple(_pct_of_ns(a, b, seconds) for a, b in zip(prev.pcpu_busy_ns, cur.pcpu_busy_ns, strict=True))
