"""The domain table's columns: header, width, how to show, sort and colour each figure.

Every xentop column is here (cumulative NET/VBD counters included) plus rates.  A column's
``priority`` decides which go first when the terminal is too narrow (higher goes first).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from xentui.guest_config import DEFAULTS as GUEST_DEFAULTS
from xentui.guest_config import GuestOptions
from xentui.history import History
from xentui.model import SECTOR_BYTES, DomainState, DomainView, Snapshot
from xentui.sources.cache_qos.status import CacheStatus
from xentui.text import visible
from xentui.ui.agent_render import agent_cell, agent_level, ip_text, ip_value
from xentui.ui.alert_render import AlertsShown
from xentui.ui.job_text import job_cell
from xentui.ui.levels import level_of
from xentui.ui.pressure_render import numa_level, numa_text, numa_value, psi_level, psi_text, psi_value
from xentui.units import human_bytes, human_kib, number

# Level thresholds: CPU as % of the domain's own vCPUs, memory as % of the host.
CPU_WARN, CPU_CRIT = 70.0, 90.0


def cpu_bar(pct: float, width: int) -> str:
    """``||||      `` markup for a busy % (clipped to 0-100), coloured by level: header and pCPU view."""
    filled = round(pct / 100 * width)
    level = f"$level-{found}" if (found := level_of(pct, CPU_WARN, CPU_CRIT)) else "$dom-running"
    return f"[{level}]{'|' * filled}[/]{' ' * (width - filled)}"


MEM_WARN, MEM_CRIT = 50.0, 80.0
LLC_WARN, LLC_CRIT = 50.0, 80.0  # share of one socket's L3 held by one domain
DISK_WARN_MS, DISK_CRIT_MS = 50.0, 200.0  # ms per disk request (config: disk_warn_ms, disk_crit_ms)
STEAL_WARN, STEAL_CRIT = 10.0, 25.0  # steal as % of the domain's online vCPUs' time (config: steal_warn_pct, ...)
STATE_ORDER = {DomainState.RUNNING: 0, DomainState.BLOCKED: 1, DomainState.PAUSED: 2, DomainState.PMSUSPENDED: 2,
               DomainState.SHUTDOWN: 3, DomainState.CRASHED: 4, DomainState.DYING: 5, DomainState.NOSTATE: 6,
               DomainState.SHUTOFF: 7}


@dataclass(frozen=True)
class Context:
    """What a cell's text depends on besides its domain."""

    cpu_mode: str = "pcpu"  # "pcpu": % of one pCPU (xentop); "host": % of the whole host (virt-top)
    history: History | None = None  # for the CPU sparkline
    attach_key: str = "A"  # the keys the UI names, as the user's keymap has them (keys.key_hint)
    cpu_key: str = "t"
    hosts_key: str = "f"
    groups: Mapping[str, str] = field(default_factory=dict)  # a fleet: host -> its group (GROUP column, filter)
    alerts: AlertsShown = field(default_factory=AlertsShown)  # what fires: the header's line, the rows' marks
    guest: GuestOptions = GUEST_DEFAULTS  # [guest]: swap-in and major-fault levels of the memory cells
    steal_levels: tuple[float, float] = (STEAL_WARN, STEAL_CRIT)  # STEAL(%)'s warn, crit (% of the vCPUs' time)
    disk_ms_levels: tuple[float, float] = (DISK_WARN_MS, DISK_CRIT_MS)  # RD ms and WR ms's warn, crit

    def group(self, v: DomainView) -> str:
        return self.groups.get(v.host, "")


SPARK = " ▁▂▃▄▅▆▇█"
SPARK_TICKS = 12


def _cpu_recent(v: DomainView, c: Context) -> list[float]:
    dom = c.history.domains.get(v.key) if c.history is not None else None
    return dom.series["cpu_pct"].last(SPARK_TICKS) if dom is not None else []


def _spark_text(v: DomainView, c: Context) -> str:
    """The last ticks' CPU as blocks; full = every vCPU busy; blank = unknown."""
    top = 100.0 * (v.sample.vcpus_current or 1)
    cells = []
    for pct in _cpu_recent(v, c):
        if math.isnan(pct):
            cells.append(" ")
        else:
            cells.append(SPARK[max(1, min(8, round(8 * pct / top)))] if pct > 0 else SPARK[1])
    return "".join(cells).rjust(SPARK_TICKS)


def _spark_value(v: DomainView, c: Context) -> float | None:
    known = [p for p in _cpu_recent(v, c) if not math.isnan(p)]
    return sum(known) / len(known) if known else None


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: int
    priority: int  # 0 never dropped; higher numbers are dropped first when narrow
    value: Callable[[DomainView, Context], object]  # what sorting compares
    text: Callable[[DomainView, Context], str]
    numeric: bool = True
    level: Callable[[DomainView, Context], str | None] = lambda _v, _c: None
    help: str = ""


def _cpu(v: DomainView, c: Context) -> float | None:
    return v.rates.cpu_host_pct if c.cpu_mode == "host" else v.rates.cpu_pct


def _per_vcpu(pct: float | None, v: DomainView) -> float | None:
    """A % of one pCPU as the share of each of the domain's online vCPUs."""
    return None if pct is None else pct / (v.sample.vcpus_current or 1)


def _cpu_level(v: DomainView, _c: Context) -> str | None:
    return level_of(_per_vcpu(v.rates.cpu_pct, v), CPU_WARN, CPU_CRIT)


def _guest_mem_level(v: DomainView, c: Context) -> str | None:
    """The guest's own pressure: its swap-in and major faults per second ([guest] levels)."""
    g = v.guest_mem
    return None if g is None else c.guest.level(g.swap_in_kib_s, g.major_faults_s)


def _mem_level(v: DomainView, c: Context) -> str | None:
    """The worse of the host's share and the guest's own pressure."""
    host = level_of(v.mem_pct, MEM_WARN, MEM_CRIT)
    return host if host == "crit" else _guest_mem_level(v, c) or host


def _state_level(v: DomainView, _c: Context) -> str | None:
    return "crit" if v.sample.stale else "warn" if v.sample.job is not None else v.sample.state.value


def _state_text(v: DomainView, _c: Context) -> str:
    if v.sample.stale:
        return "stale"
    return v.sample.state_flags if v.sample.job is None else job_cell(v.sample.job)


def _sectors(n: int | None) -> int | None:
    return None if n is None else n // SECTOR_BYTES


def _kib(n: int | None) -> int | None:
    return None if n is None else n // 1024


def _rate(attr: str) -> tuple[Callable, Callable]:
    def value(v: DomainView, _c: Context) -> float | None:
        return getattr(v.rates, attr)

    def text(v: DomainView, _c: Context) -> str:
        return human_bytes(getattr(v.rates, attr), "/s")

    return value, text


def _cache(attr: str, pct: bool = False) -> tuple[Callable, Callable]:
    """A Cache QoS figure; a domain not monitored says how to attach it instead of a blank."""

    def value(v: DomainView, _c: Context) -> float | None:
        return None if v.cache is None else getattr(v.cache, attr)

    def text(v: DomainView, _c: Context) -> str:
        if v.cache is not None and v.cache.status:  # the LLC cell says what to do, the header and detail why
            not_attached = CacheStatus.of(v.cache.status) is CacheStatus.NOT_ATTACHED
            return f"press {_c.attach_key}" if attr == "occupancy_bytes" and not_attached else "-"
        figure = value(v, _c)
        if pct:
            return number(figure)
        return human_bytes(figure, "" if attr == "occupancy_bytes" else "/s")

    return value, text


def _llc_level(v: DomainView, _c: Context) -> str | None:
    return None if v.cache is None else level_of(v.cache.occupancy_pct, LLC_WARN, LLC_CRIT)


def _count(get: Callable[[DomainView], int | None]) -> tuple[Callable, Callable]:
    return (lambda v, _c: get(v)), (lambda v, _c: number(get(v), "{}"))


def _col(key, header, width, priority, pair, **kw) -> Column:
    value, text = pair
    return Column(key, header, width, priority, value, text, **kw)


COLUMNS: tuple[Column, ...] = (
    Column("name", "NAME", 16, 0, lambda v, _c: v.name.lower(), lambda v, _c: visible(v.name), numeric=False,
           level=lambda v, c: c.alerts.levels.get(v.key), help="domain name, in full"),
    Column("state", "STATE", 6, 1, lambda v, _c: STATE_ORDER[v.sample.state], _state_text,
           numeric=False, level=_state_level,
           help="xentop's flags dsbcpr; 'stale'; a job's code and %: sav rst dmp snp blk, → ← migration"),
    Column("cpu_pct", "CPU(%)", 7, 0, _cpu, lambda v, c: number(_cpu(v, c)), level=_cpu_level,
           help="% of one pCPU (xentop) or of the whole host (virt-top): t"),
    Column("cpu_hist", "CPU HISTORY", SPARK_TICKS, 4, _spark_value, _spark_text, level=_cpu_level,
           help=f"CPU over the last {SPARK_TICKS} updates (full: every vCPU busy); sorts by their mean"),
    _col("cpu_s", "CPU(sec)", 9, 4, _count(lambda v: None if v.sample.cpu_ns is None else v.sample.cpu_ns // 10**9),
         help="CPU seconds used since the domain started"),
    Column("mem", "MEM", 9, 1, lambda v, _c: v.sample.mem_kib, lambda v, _c: human_kib(v.sample.mem_kib),
           level=_mem_level, help="current memory (balloon)"),
    Column("mem_pct", "MEM(%)", 6, 3, lambda v, _c: v.mem_pct, lambda v, _c: number(v.mem_pct), level=_mem_level,
           help="current memory as % of the host's"),
    Column("maxmem", "MAXMEM", 9, 5, lambda v, _c: math.inf if v.sample.maxmem_kib is None else v.sample.maxmem_kib,
           lambda v, _c: "no limit" if v.sample.maxmem_kib is None else human_kib(v.sample.maxmem_kib),
           help="maximum memory"),
    Column("maxmem_pct", "MAXMEM(%)", 9, 8, lambda v, _c: v.maxmem_pct,
           lambda v, _c: "n/a" if v.maxmem_pct is None else number(v.maxmem_pct), help="maximum memory as % of host"),
    _col("vcpus", "VCPUS", 5, 2, _count(lambda v: v.sample.vcpus_current), help="vCPUs online"),
    _col("nets", "NETS", 4, 7, _count(lambda v: len(v.sample.nets)), help="network interfaces"),
    _col("net_rx_s", "NET RX/s", 10, 2, _rate("net_rx_bytes_s"), help="bytes received per second"),
    _col("net_tx_s", "NET TX/s", 10, 2, _rate("net_tx_bytes_s"), help="bytes sent per second"),
    _col("nettx", "NETTX(k)", 9, 9, _count(lambda v: _kib(v.sample.io.net_tx_bytes)),
         help="KiB sent since start (xentop)"),
    _col("netrx", "NETRX(k)", 9, 9, _count(lambda v: _kib(v.sample.io.net_rx_bytes)),
         help="KiB received since start (xentop)"),
    _col("vbds", "VBDS", 4, 7, _count(lambda v: len(v.sample.blocks)), help="block devices"),
    _col("rd_s", "DISK RD/s", 10, 3, _rate("blk_rd_bytes_s"), help="bytes read per second"),
    _col("wr_s", "DISK WR/s", 10, 3, _rate("blk_wr_bytes_s"), help="bytes written per second"),
    _col("vbd_oo", "VBD_OO", 8, 9, _count(lambda v: v.sample.io.blk_oo_reqs), help="requests blocked (Xen blkback)"),
    _col("vbd_rd", "VBD_RD", 8, 9, _count(lambda v: v.sample.io.blk_rd_reqs), help="read requests since start"),
    _col("vbd_wr", "VBD_WR", 8, 9, _count(lambda v: v.sample.io.blk_wr_reqs), help="write requests since start"),
    _col("vbd_rsect", "VBD_RSECT", 10, 9, _count(lambda v: _sectors(v.sample.io.blk_rd_bytes)),
         help="sectors read since start"),
    _col("vbd_wsect", "VBD_WSECT", 10, 9, _count(lambda v: _sectors(v.sample.io.blk_wr_bytes)),
         help="sectors written since start"),
    _col("llc", "LLC", 9, 4, _cache("occupancy_bytes"), level=_llc_level,
         help="last-level cache held now (Cache QoS), all L3s"),
    _col("llc_pct", "LLC(%)", 6, 5, _cache("occupancy_pct", pct=True), level=_llc_level,
         help="largest share of one socket's L3 the domain holds"),
    _col("mbm_total", "MBM TOT/s", 10, 5, _cache("mbm_total_bytes_s"), help="memory bandwidth, total (MBM)"),
    _col("mbm_local", "MBM LOC/s", 10, 6, _cache("mbm_local_bytes_s"), help="memory bandwidth, local node (MBM)"),
    _col("ssid", "SSID", 4, 9, _count(lambda v: v.sample.ssid), help="Xen security label id"),
    _col("id", "ID", 5, 6, _count(lambda v: v.sample.domid), help="domain id"),
)
# Figures of QEMU's monitor: a local KVM host reads them in turns for the rows off screen (libvirt's fast path);
# a cell of one read on an earlier update is dim.
AGED = frozenset({"mem", "mem_pct", "maxmem", "maxmem_pct", "vbds", "rd_s", "wr_s", "vbd_rd", "vbd_wr", "vbd_rsect",
                  "vbd_wsect", "rd_ms", "wr_ms", "gmem_pct"})
AGED_HELP = ("memory and disk figures read on an earlier update, with their rates over their last two reads: a "
             "local KVM host reads them every update for the rows on screen, for the others in turns")
# Listed (chooser, help) only where the source measures it: KVM's QEMU, Xen's device models.
OVERHEAD = Column("ovh_pct", "OVH(%)", 6, 5, lambda v, _c: v.rates.overhead_pct,
                  lambda v, _c: number(v.rates.overhead_pct),
                  help="host CPU beyond the vCPUs, % of one pCPU (KVM: QEMU's emulator and I/O threads; "
                       "Xen: its device model in dom0, or its stub domain)")
# Guest type and device model, in fixed words: hvm/qemu, hvm/trad (qemu-xen-traditional), hvm/stub, pvh, pv.
DM_SHORT = {"qemu": "qemu", "qemu-xen": "qemu", "qemu-xen-traditional": "trad", "stubdom": "stub"}


def guest_type(v: DomainView) -> str:
    sample = v.sample
    kind = sample.domain_type if sample.domain_type in ("pv", "pvh", "hvm") else "-"
    model = DM_SHORT.get(sample.device_model or "", "")
    return f"{kind}/{model}" if model else kind


TYPE = Column("type", "TYPE", 8, 6, lambda v, _c: guest_type(v), lambda v, _c: guest_type(v), numeric=False,
              help="guest type (pv, pvh, hvm) / device model (qemu, trad: qemu-xen-traditional, stub: stub domain)")
PCI = Column("pci", "PCI", 3, 4, lambda v, _c: len(v.sample.hostdevs), lambda v, _c: str(len(v.sample.hostdevs)),
             help="PCI host devices passed through (list: v); the column shows when some domain has one")
# What this host's kernel says of a local QEMU guest: listed and shown only where some domain has it.
PSI = Column("psi", "PSI", 9, 4, psi_value, psi_text, level=psi_level,
             help="pressure: the resource the guest's cgroup stalled on most, % of the interval (cgroup v2 PSI)")
NUMA = Column("numa", "NUMA", 9, 5, numa_value, numa_text, numeric=False, level=numa_level,
              help="m: node holding most of its memory, c: its vCPUs' nodes; ! a vCPU runs off the memory's node")
# The guest agent's (issue 18): listed and shown only where some domain's agent answered.
IP = Column("ip", "IP", 15, 3, ip_value, ip_text, numeric=False,
            help="the guest's first address neither link-local nor loopback, from its guest agent")
AGENT = Column("agent", "AGENT", 5, 7, agent_cell, agent_cell, numeric=False, level=agent_level,
               help="its guest agent: yes, no (none), hung (not answering), ro (needs read-write), err")
# A fleet's own columns: listed (chooser, help) and shown by default only when a fleet is watched.
HOST_WIDTH = 12  # HOST's cells until a fleet's host names are measured (frame.hosts_width: 4 to MAX_HOST_WIDTH)
MAX_HOST_WIDTH = 32
FLEET_ONLY: tuple[Column, ...] = (
    Column("host", "HOST", HOST_WIDTH, 1, lambda v, _c: v.host.lower(), lambda v, _c: visible(v.host), numeric=False,
           help="the fleet's name for the domain's host"),
    Column("group", "GROUP", 8, 3, lambda v, c: c.group(v).lower(), lambda v, c: visible(c.group(v)),
           numeric=False, help="the host's group in the fleet file"),
)
GMEM = Column("gmem_pct", "GMEM(%)", 7, 3, lambda v, _c: _gmem_pct(v), lambda v, _c: number(_gmem_pct(v)),
              level=_guest_mem_level,
              help="memory the guest uses, its caches not counted: its own MemTotal - MemAvailable, % of MemTotal "
                   "(balloon statistics); shown where some guest reports them")


def _gmem_pct(v: DomainView) -> float | None:
    return None if v.guest_mem is None else v.guest_mem.used_pct


def ms_text(value: float | None) -> str:
    """Milliseconds: two decimals below 10 (a fast disk's 0.05 ms is not 0.1)."""
    return number(value, "{:.2f}" if value is not None and value < 10 else "{:.1f}")


def _steal_level(v: DomainView, c: Context) -> str | None:
    """STEAL(%) judged per online vCPU (as CPU(%)): 30 % over 4 vCPUs is 7.5 % of each one's time."""
    return level_of(_per_vcpu(v.rates.steal_pct, v), *c.steal_levels)


# Disk latency: shown by default where some domain's disks report request times (libvirt's QEMU); STEAL(%): off
# by default (every source with vCPU delays has it), in the chooser where measured.
LATENCY: tuple[Column, ...] = (
    Column("rd_ms", "RD ms", 7, 4, lambda v, _c: v.rates.blk_rd_ms, lambda v, _c: ms_text(v.rates.blk_rd_ms),
           level=lambda v, c: level_of(v.rates.blk_rd_ms, *c.disk_ms_levels),
           help="ms per disk read over the interval, all disks' reads together (-: no read done; per disk: b); "
                "coloured from disk_warn_ms, disk_crit_ms"),
    Column("wr_ms", "WR ms", 7, 4, lambda v, _c: v.rates.blk_wr_ms, lambda v, _c: ms_text(v.rates.blk_wr_ms),
           level=lambda v, c: level_of(v.rates.blk_wr_ms, *c.disk_ms_levels),
           help="ms per disk write over the interval, all disks' writes together (-: no write done; per disk: b)"),
)
STEAL = Column("steal_pct", "STEAL(%)", 8, 5, lambda v, _c: v.rates.steal_pct,
               lambda v, _c: number(v.rates.steal_pct), level=_steal_level,
               help="time the vCPUs were runnable but not running (steal), summed, % of one pCPU; "
                    "coloured by its share of the vCPUs' time (steal_warn_pct, steal_crit_pct)")
# Listed last, each only where some domain has its figure (frame.measured).
OPTIONAL = (OVERHEAD, TYPE, PCI, PSI, NUMA, GMEM, IP, AGENT, *LATENCY, STEAL)
OPTIONAL_KEYS = frozenset(c.key for c in OPTIONAL)
BY_KEY = {c.key: c for c in (*COLUMNS, *FLEET_ONLY, *OPTIONAL)}
DEFAULT_COLUMNS = ("name", "state", "cpu_pct", "cpu_hist", "cpu_s", "mem", "mem_pct", "gmem_pct", "maxmem", "vcpus",
                   "net_rx_s", "net_tx_s", "rd_s", "wr_s", "rd_ms", "wr_ms",
                   "llc", "llc_pct", "mbm_total", "mbm_local", "nets", "vbds",
                   "pci", "psi", "numa", "ip", "agent", "id")
FLEET_COLUMNS = tuple(c.key for c in FLEET_ONLY)


def known(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The keys that name columns, in order; ``name`` always first."""
    chosen = [k for k in keys if k in BY_KEY and k != "name"]
    return ("name", *chosen)


def listed(fleet: bool, optional: Collection[str] = ()) -> tuple[Column, ...]:
    """The columns the chooser and the help list: a fleet's HOST and GROUP after NAME, for a fleet only; the
    optional columns last, those of them ``optional`` names (where some domain has the figure)."""
    shown = (COLUMNS[0], *FLEET_ONLY, *COLUMNS[1:]) if fleet else COLUMNS
    return (*shown, *(c for c in OPTIONAL if c.key in optional))


def fleet_keys(snapshot: Snapshot) -> tuple[str, ...]:
    """The fleet columns a snapshot is shown with by default: HOST, and GROUP where some host has a group; none for
    one host."""
    if not snapshot.fleet:
        return ()
    return FLEET_COLUMNS if any(h.group for h in snapshot.hosts) else ("host",)


def with_fleet(keys: tuple[str, ...], fleet: tuple[str, ...]) -> tuple[str, ...]:
    """``keys`` (NAME first) with the ``fleet`` columns (:func:`fleet_keys`) after NAME unless the user placed some
    fleet column (then as placed); none for one host."""
    if not fleet:
        return tuple(k for k in keys if k not in FLEET_COLUMNS)
    if any(k in FLEET_COLUMNS for k in keys):
        return keys
    return (keys[0], *fleet, *keys[1:])


def fit(keys: tuple[str, ...], width: int, name_width: int, host_width: int = HOST_WIDTH) -> tuple[str, ...]:
    """Drop columns, least important first, until the row fits ``width`` cells (no wrapping); NAME and HOST are as
    wide as their texts need (``name_width``, ``host_width``)."""
    shown = list(known(keys))
    own = {"name": name_width, "host": host_width}

    def total() -> int:
        return sum(own.get(k, BY_KEY[k].width) + 2 for k in shown)

    while total() > width:
        droppable = [k for k in shown if BY_KEY[k].priority > 0]
        if not droppable:
            break
        worst = max(droppable, key=lambda k: (BY_KEY[k].priority, shown.index(k)))
        shown.remove(worst)
    return tuple(shown)


def _shown_value(value: object) -> object:
    return round(value, 1) if isinstance(value, float) else value


def ordered(views: list[DomainView], column: Column, ctx: Context, reverse: bool) -> list[DomainView]:
    """Views sorted by ``column`` (ties by name); unknown figures last in either direction.

    Each figure and name key is computed once (10,000 rows in a fleet), then positions are sorted."""
    value = column.value
    values = [value(v, ctx) for v in views]
    names = [(v.name.lower(), v.host) for v in views]
    known_ = [i for i, x in enumerate(values) if x is not None]
    unknown = [i for i, x in enumerate(values) if x is None]
    known_.sort(key=names.__getitem__)
    # Compare what is shown (one decimal), so that equal-looking rows keep their order by name
    # instead of swapping on invisible jitter every tick.
    shown = [_shown_value(x) for x in values]
    known_.sort(key=shown.__getitem__, reverse=reverse)
    unknown.sort(key=names.__getitem__)
    return [views[i] for i in known_] + [views[i] for i in unknown]
