"""Raw samples: the counters a source reports for one tick, as the hypervisor gives them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import field
from typing import ClassVar, TypeVar

from xentui.model._fast_record import frozen_record
from xentui.model.guest_agent import GuestAgent
from xentui.model.guest_memory import BalloonStats
from xentui.model.pressure import NumaSample, PressureSample
from xentui.model.scheduling import SchedulingState

N = TypeVar("N", int, float)

NS_PER_S = 1_000_000_000
SECTOR_BYTES = 512  # xentop's RSECT/WSECT are 512-byte sectors


def sum_parts(parts: Iterable[N | None], empty: int | None = 0) -> N | int | None:
    """The sum of the parts, or None when any part is unknown (a partial sum lies); ``empty`` for no parts.

    The one rule for every total xentui shows: a domain's devices, a domain's L3s, the host's domains.
    """
    values = parts if isinstance(parts, list) else list(parts)
    if not values:
        return empty
    return None if None in values else sum(values)


def sum_attr(items: Iterable[object], attr: str) -> int | None:
    """``sum_parts(getattr(i, attr) for i in items)``, spelt as a loop: it runs for every device every tick."""
    total = 0
    for item in items:
        value = getattr(item, attr)
        if value is None:
            return None
        total += value
    return total


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


@frozen_record
class VcpuSample:
    number: int
    online: bool = True
    time_ns: int | None = None
    delay_ns: int | None = None  # time runnable but not running (steal)
    pcpu: int | None = None
    hard_affinity: frozenset[int] | None = None  # pCPUs it may run on (None: not fetched)
    soft_affinity: frozenset[int] | None = None  # pCPUs it prefers (Xen)


@frozen_record
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


@frozen_record
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
    # Time spent on requests, cumulative ns (libvirt's block.N.rd.times, wr.times, fl.times); None: unknown.
    rd_times_ns: int | None = None
    wr_times_ns: int | None = None
    fl_reqs: int | None = None  # flush requests
    fl_times_ns: int | None = None


@frozen_record
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


@frozen_record
class CacheSample:
    """A domain's Cache QoS: from which source and group, per L3; or why there is none."""

    source: str  # "libvirt", "resctrl", "xen", "perf"
    group: str = ""  # monitoring group / monitor name: counters restart when it changes
    banks: tuple[CacheBank, ...] = ()
    status: str = ""  # why no numbers, e.g. "not attached: press A to attach"
    counter_bits: int = 64  # MBM counter width: resctrl's files are 64-bit (the kernel folds hardware overflow)


@frozen_record
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
        if len(nets) == 1 and len(blocks) == 1:  # the usual guest: its devices' own counters (no sum to make)
            n, b = nets[0], blocks[0]
            return cls(net_rx_bytes=n.rx_bytes, net_tx_bytes=n.tx_bytes, net_rx_packets=n.rx_packets,
                       net_tx_packets=n.tx_packets, blk_rd_reqs=b.rd_reqs, blk_wr_reqs=b.wr_reqs,
                       blk_rd_bytes=b.rd_bytes, blk_wr_bytes=b.wr_bytes, blk_oo_reqs=b.oo_reqs)
        return cls(
            net_rx_bytes=sum_attr(nets, "rx_bytes"),
            net_tx_bytes=sum_attr(nets, "tx_bytes"),
            net_rx_packets=sum_attr(nets, "rx_packets"),
            net_tx_packets=sum_attr(nets, "tx_packets"),
            blk_rd_reqs=sum_attr(blocks, "rd_reqs"),
            blk_wr_reqs=sum_attr(blocks, "wr_reqs"),
            blk_rd_bytes=sum_attr(blocks, "rd_bytes"),
            blk_wr_bytes=sum_attr(blocks, "wr_bytes"),
            blk_oo_reqs=sum_attr(blocks, "oo_reqs"),
        )


NO_IO = IoTotals()


# Every JobSample.operation a source writes (sources/libvirt/jobs.py, migration.py): a recording's are checked
# against it, so the STATE cell and the detail line only ever show these words.
JOB_OPERATIONS = ("migration", "migration out", "migration in", "save", "restore", "dump", "snapshot",
                  "snapshot revert", "snapshot delete", "backup", "start", "job", "block pull", "block copy",
                  "block commit", "block backup", "block job")


@frozen_record
class JobSample:
    """A domain's running job (a migration, save, dump, ..., a block job) as libvirt's ``jobStats()`` (or
    ``blockJobInfo()``) reports it; None: not given."""

    operation: str = "migration"  # "migration out", "migration in", "save", "dump", "block copy", ... (jobs.py)
    elapsed_ms: int | None = None
    data_processed: int | None = None  # bytes
    data_remaining: int | None = None
    data_total: int | None = None
    dirty_rate_bytes_s: int | None = None  # memory dirtied per second (pages/s x page size)
    iteration: int | None = None  # memory passes so far
    downtime_ms: int | None = None  # the expected (while running) or actual downtime

    @property
    def percent(self) -> float | None:
        """% of the data done, (total - remaining) / total, as ``virsh domjobinfo`` reads it (free and zero pages
        count as done); None when libvirt gives no total yet."""
        if not self.data_total or self.data_remaining is None:
            return None
        return max(0.0, min(100.0, 100.0 * (self.data_total - self.data_remaining) / self.data_total))


@frozen_record
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
    host: str = ""  # the fleet's name for the domain's host ("" when one host is watched)
    job: JobSample | None = None  # a job in progress (libvirt: migration, save, dump, block job, ...), else None
    # Host CPU the domain used beyond its vCPUs, cumulative ns (KVM: libvirt's cpu.time minus its vcpu.N.time,
    # QEMU's emulator and I/O threads; Xen: its device model's processes in dom0, or its stub domain's CPU); None:
    # unknown.  Not monotonic: the vCPU times are in clock ticks, so a tick-sized step back is measurement.
    overhead_ns: int | None = None
    # What the guest is (issue 17), read once per domain incarnation: "pv", "pvh", "hvm" (None: unknown); its
    # device model: "qemu-xen", "qemu-xen-traditional", "stubdom", "none", KVM "qemu" (None: unknown); its PCI
    # host devices, "0000:03:00.1" (" VF" appended for an SR-IOV virtual function, where known).
    domain_type: str | None = None
    device_model: str | None = None
    hostdevs: tuple[str, ...] = ()
    # What this host's kernel says of the guest (issue 18): its cgroup's PSI, its NUMA placement (None: not here).
    pressure: PressureSample | None = None
    numa: NumaSample | None = None
    agent: GuestAgent | None = None  # what its guest agent said, read in the background (None: never asked)
    balloon: BalloonStats | None = None  # the guest's own memory figures (virtio-balloon statistics), when reported
    # When (monotonic s) its QEMU monitor's figures (memory, disks, balloon statistics) were read, where the source
    # reads them in turns (libvirt's fast path); None: read with the sample.  Their rates span two such reads.
    monitor_at: float | None = None
    # When (monotonic s) this host's kernel files gave its CPU, vCPU and network counters (libvirt's fast path
    # reads them itself, a guest at a time); None: somewhere inside the sample's stats call.
    kernel_at: float | None = None
    io: IoTotals = field(init=False, repr=False, compare=False)
    _post_init_reads: ClassVar[tuple[str, ...]] = ("nets", "blocks")  # evolve(): io is kept when neither changes

    def __post_init__(self) -> None:
        object.__setattr__(self, "io", IoTotals.of(self.nets, self.blocks))

    @property
    def key(self) -> str:
        """Unique among the domains shown: the UUID, prefixed by the host in a fleet (a migrating domain is on
        two hosts at once)."""
        return f"{self.host}/{self.uuid}" if self.host else self.uuid

    @property
    def active(self) -> bool:
        return self.state is not DomainState.SHUTOFF

    @property
    def state_flags(self) -> str:
        """xentop's STATE column, ``dsbcpr``."""
        return self.flags if self.flags is not None else self.state.flags


@frozen_record
class Pcpu:
    """One physical CPU and where it sits (from libvirt's capabilities or ``xl info -n``)."""

    number: int
    node: int = 0  # NUMA node
    socket: int = 0
    core: int | None = None
    online: bool = True


@frozen_record
class L3Cache:
    cache_id: int
    size_bytes: int


@frozen_record
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
    # What the kernel could hand out without swapping (Linux's MemAvailable: free plus reclaimable page cache);
    # None: the source does not say (Xen's free memory is all there is).
    mem_available_kib: int | None = None

    def l3_bytes(self, cache_id: int | None) -> int | None:
        """Size of one L3 (None: all of them together)."""
        sizes = {c.cache_id: c.size_bytes for c in self.l3_caches}
        if cache_id is None:
            return sum(sizes.values()) or None
        return sizes.get(cache_id)

    @property
    def mem_used_kib(self) -> int | None:
        """Memory in use; None when the source does not know the host's size (``mem_total_kib`` 0)."""
        return self.mem_total_kib - self.mem_free_kib if self.mem_total_kib else None

    @property
    def mem_pressure_pct(self) -> float | None:
        """% of the memory not available (page cache counts as available where the source says how much)."""
        if not self.mem_total_kib:
            return None
        spare = self.mem_available_kib if self.mem_available_kib is not None else self.mem_free_kib
        return 100.0 * (self.mem_total_kib - spare) / self.mem_total_kib

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


@frozen_record
class RawSample:
    """What a source returns for one tick."""

    monotonic: float  # seconds, for intervals
    wall: float  # seconds since the epoch, for display
    host: HostSample
    domains: tuple[DomainSample, ...]
    errors: tuple[str, ...] = ()  # what failed this tick
    notices: tuple[str, ...] = ()  # what the admin must know about what is shown
    pcpu_busy_ns: tuple[int, ...] | None = None  # per physical CPU, cumulative (None: unknown)
    parts: tuple[HostPart, ...] = ()  # a fleet's hosts, each with its own samples (empty: one host)
    scheduling: SchedulingState | None = None  # pools and schedulers, read in the background (None: not read)


class HostState(enum.Enum):
    """A fleet host's health this tick."""

    CONNECTING = "connecting"  # not answered yet
    UP = "up"  # answered this tick
    STALE = "stale"  # answered before, not within this tick's deadline: its rows are from before
    DOWN = "down"  # refused or unreachable: its rows (if any) are from before

    @property
    def live(self) -> bool:
        return self is HostState.UP


@frozen_record
class HostPart:
    """One host of a fleet's RawSample: its last two good samples (its rates come from its own clock, even
    when the fleet's tick did not wait for it) and its health.  ``cur`` is None until it first answers."""

    name: str  # the fleet's name for it (HOST column); unique in the fleet
    state: HostState
    group: str = ""
    uri: str = ""
    reason: str = ""  # why it is not up, one line
    prev: RawSample | None = None
    cur: RawSample | None = None
    behind_s: float | None = None  # how old ``cur`` is when the source is not a live poll (Prometheus)
    labels: tuple[tuple[str, str], ...] = ()  # from the fleet file
