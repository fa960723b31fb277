"""libvirt: KVM/QEMU, Xen through libxl, remote URIs, the test driver.

Each tick makes ONE ``getAllDomainStats`` call.  What a driver does not give in
bulk (libxl has no bulk call at all; the test driver returns only ``state.*``) is
filled from per-domain calls; which groups are missing is learnt at run time from
what the driver returns, never guessed from the URI.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import libvirt

from xentui.limits import MAX_CPUS, MAX_DEVICES, MAX_VCPUS, count, counter
from xentui.model import (
    BlockSample,
    CacheSample,
    DomainSample,
    DomainState,
    HostSample,
    NetSample,
    RawSample,
    VcpuSample,
)
from xentui.sources import Source, SourceError, cache_qos, deadlines
from xentui.sources import host as local_host
from xentui.sources.deadlines import NoAnswer
from xentui.sources.placement import Key, PlacementCache, VcpuPlace, parse_topology, placement_from_vcpus
from xentui.sources.resctrl import Resctrl

# libvirt must never print to stderr: it would corrupt a full-screen UI.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

STATS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
    | libvirt.VIR_DOMAIN_STATS_BLOCK
    | libvirt.VIR_DOMAIN_STATS_PERF  # legacy perf.cmt/mbmt/mbml, when enabled
    | libvirt.VIR_DOMAIN_STATS_MEMORY  # memory.bandwidth.monitor.* (cpu.cache.monitor.* is in CPU_TOTAL)
)
STATS_FLAGS = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT

STATE_BY_CODE = {
    libvirt.VIR_DOMAIN_NOSTATE: DomainState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: DomainState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: DomainState.BLOCKED,
    libvirt.VIR_DOMAIN_PAUSED: DomainState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: DomainState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: DomainState.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: DomainState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: DomainState.PMSUSPENDED,
}

STUCK_AFTER_MS = 2000  # a QEMU monitor busy this long on one command is not answering
MONITOR_KEYS = ("balloon.", "block.")  # figures QEMU gives only through its monitor (under the domain's job)
CONNECT_DEADLINE_S = 10.0  # to open a connection and read the host's facts
MIN_DEADLINE_S = 2.0  # a stats call taking longer is left running in the background
SLOW_CALL_LIMIT_S = 30.0  # a stats call of a busy (answering) libvirtd is waited for this long
ACTION_DEADLINE_S = 10.0  # an action (pause, set memory, ...) that has not returned by then may still take effect
CALL_DEADLINE_S = 5.0  # a lookup, an event registration
KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 4, 3  # libvirt closes a connection after ~4 * (3 + 1) s of silence

# A domain that vanished between listing and asking: normal churn, not a failure.
VANISHED = {libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID}
UNSUPPORTED = {libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED}

# Per-domain calls used when a group is missing from the bulk answer.
PROBE_KEYS = {"cpu": "cpu.time", "balloon": "balloon.current", "vcpu": "vcpu.current",
              "net": "net.count", "block": "block.count"}


def _close_quietly(conn: libvirt.virConnect) -> None:
    with contextlib.suppress(libvirt.libvirtError):
        conn.close()


def _version(number: int) -> str:
    major, rest = divmod(number, 1_000_000)
    minor, micro = divmod(rest, 1_000)
    return f"{major}.{minor}.{micro}"


def error_line(err: libvirt.libvirtError) -> str:
    return (err.get_error_message() or str(err)).strip().splitlines()[0]


VCPU_FIELDS = ("state", "time", "delay", "pcpu")
NET_FIELDS = ("name", "rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts", "tx.errs", "tx.drop")
BLOCK_FIELDS = ("name", "path", "rd.reqs", "rd.bytes", "wr.reqs", "wr.bytes", "errors")


@functools.cache
def stat_keys(group: str, index: int, fields: tuple[str, ...]) -> tuple[str, ...]:
    """('net', 0, ('name', ...)) -> ('net.0.name', ...): made once, not per tick."""
    return tuple(f"{group}.{index}.{f}" for f in fields)


def parse_stats(uuid: str, name: str, domid: int | None, rec: dict,
                placement: dict[int, VcpuPlace] | None = None, cache: CacheSample | None = None,
                stale: str = "") -> DomainSample:
    """A bulk-stats record (``{'cpu.time': ..., ...}``) as a :class:`DomainSample`.

    ``placement`` ({vcpu: (pcpu, hard affinity)}) adds what bulk stats do not carry; ``cache``
    (from resctrl) is used when libvirt has no cache monitor of its own for the domain.
    """
    get = rec.get
    vcpus = []
    for n in range(count(get("vcpu.maximum"), MAX_VCPUS)):
        k_state, k_time, k_delay, k_pcpu = stat_keys("vcpu", n, VCPU_FIELDS)
        if k_state in rec or k_time in rec:
            online = get(k_state, 1) != libvirt.VIR_VCPU_OFFLINE
            pcpu, hard = placement.get(n, (None, None)) if placement else (None, None)
            pcpu = get(k_pcpu, pcpu)
            vcpus.append(VcpuSample(n, online, counter(get(k_time)), counter(get(k_delay)),
                                    pcpu if type(pcpu) is int and 0 <= pcpu < MAX_CPUS else None, hard))
    nets = []
    for i in range(count(get("net.count"), MAX_DEVICES)):
        keys = stat_keys("net", i, NET_FIELDS)
        nets.append(NetSample(_text(get(keys[0]), f"net{i}"), *(counter(get(k)) for k in keys[1:])))
    blocks = []
    for i in range(count(get("block.count"), MAX_DEVICES)):
        k_name, k_path, k_rd_reqs, k_rd_bytes, k_wr_reqs, k_wr_bytes, k_errors = stat_keys("block", i, BLOCK_FIELDS)
        blocks.append(BlockSample(
            name=_text(get(k_name), f"block{i}"), path=_text(get(k_path), ""), rd_reqs=counter(get(k_rd_reqs)),
            rd_bytes=counter(get(k_rd_bytes)), wr_reqs=counter(get(k_wr_reqs)), wr_bytes=counter(get(k_wr_bytes)),
            errors=counter(get(k_errors)),
        ))
    state = get("state.state", 0)
    return DomainSample(
        uuid=uuid,
        name=name,
        domid=domid,
        state=STATE_BY_CODE.get(state, DomainState.NOSTATE) if type(state) is int else DomainState.NOSTATE,
        cpu_ns=counter(get("cpu.time")),
        vcpus_current=counter(get("vcpu.current")),
        vcpus_max=counter(get("vcpu.maximum")),
        mem_kib=counter(get("balloon.current")),
        maxmem_kib=counter(get("balloon.maximum")),
        rss_kib=counter(get("balloon.rss")),
        vcpus=tuple(vcpus),
        nets=tuple(nets),
        blocks=tuple(blocks),
        cache=cache_qos.libvirt_cache(rec) or cache,
        stale=stale,
    )


def _text(v: object, default: str) -> str:
    return v if type(v) is str else default


NO_LIBVIRT_MONITOR = "no domain has a libvirt <cachetune><monitor> either"


@dataclass(frozen=True)
class Devices:
    """Device names from a domain's XML, cached per (uuid, domid)."""

    nets: tuple[str, ...]
    disks: tuple[tuple[str, str], ...]  # (target, source path)


def parse_devices(xml: str) -> Devices:
    root = ET.fromstring(xml)
    nets = tuple(
        t.get("dev", "")
        for t in root.findall("./devices/interface/target")
        if t.get("dev")
    )
    disks = []
    for disk in root.findall("./devices/disk"):
        target = disk.find("target")
        if target is None or not target.get("dev"):
            continue
        source = disk.find("source")
        path = ""
        if source is not None:
            path = source.get("file") or source.get("dev") or source.get("name") or ""
        disks.append((target.get("dev", ""), path))
    return Devices(nets=nets, disks=tuple(disks))


class LibvirtSource(Source):
    HAS_EVENTS = True
    HAS_PLACEMENT = True

    def set_interest(self, uuid: str | None, all_pcpus: bool = False) -> None:
        self.placement.watch, self.placement.want_all = uuid, all_pcpus

    """Read one libvirt connection; read-only unless asked otherwise."""

    def __init__(self, uri: str, *, readonly: bool = True, conn: libvirt.virConnect | None = None,
                 resctrl: Resctrl | None = None):
        self.uri = uri
        self.readonly = readonly
        if conn is None:
            self.conn, self._host_static = self._open_within_deadline()
        else:
            self.conn, self._host_static = conn, self._read_host_static(conn)
        self.bulk_supported: bool | None = None  # learnt on the first tick
        self.missing_groups: frozenset[str] = frozenset()
        self._groups_learnt = False  # judged once, on the first tick with an active domain
        self._devices: dict[tuple[str, int | None], Devices] = {}
        self._node_memstats = True
        # This machine's per-CPU load is the hypervisor's when libvirt is local (not on Xen: dom0 is a guest).
        local = local_host.is_local_uri(uri)
        self._local_pcpus = local and self._host_static["hypervisor"] in ("QEMU", "KVM")
        self._boot_time = local_host.boot_time() if local else None
        self._xenstat = None  # on a Xen dom0: counts the domains libvirt cannot see
        self._xenstat_failed = False
        self.placement = PlacementCache()  # vCPU pCPUs and affinity, read sparingly
        self._answered: dict[Key, dict] = {}  # each domain's last record with its monitor's figures
        self._busy_since: dict[Key, float] = {}  # when a domain's monitor began its current command
        self._abandoned: libvirt.virConnect | None = None  # the dead connection reconnect() let go
        self._bounded_calls = deadlines.OnePerKey()  # a tick's calls besides the stats call
        self._fill_hung: tuple[Key | None, deadlines.Call] | None = None  # a per-domain pass left hanging
        self._last_fill_s: float | None = None
        self._acting: dict[str, tuple[str, float, deadlines.Call]] = {}  # uuid -> an action left hanging
        self._replaced: set[str] = set()  # acted on (from another thread): read their placement again
        self._resctrl_lock = threading.Lock()
        self._last_memory: tuple[int, int] | None = None
        # Cache QoS: libvirt's own monitors, else this host's resctrl groups (local QEMU/KVM only).
        # Tests pass their own tree as ``resctrl``; nothing in the environment redirects it.
        self.resctrl = resctrl if resctrl is not None else Resctrl() if self._local_pcpus else None
        self._cache_status = ""
        self._resctrl_facts: tuple | None = None  # (L3 caches, RMIDs) of this host's resctrl
        self._last_call_s = 0.0
        self._answer_started = 0.0  # when the stats call that answered this tick began
        self._event_ids: list[int] = []
        self._on_change = None  # the lifecycle callback, registered again after a reconnect
        self.calls = 0  # libvirt round trips made by collect(), for tests and bench

    def _open_within_deadline(self) -> tuple[libvirt.virConnect, dict]:
        """A new connection and the host's static facts, or SourceError after CONNECT_DEADLINE_S."""
        def connect() -> tuple[libvirt.virConnect, dict]:
            conn = self._open()
            return conn, self._read_host_static(conn)

        try:
            call = deadlines.start(connect, f"connect to {self.uri!r}")
            return call.wait(CONNECT_DEADLINE_S)
        except deadlines.AtCap as err:
            raise SourceError(f"cannot connect: {err}") from None
        except NoAnswer:
            # A late answer must not leave an open connection behind.
            call.future.add_done_callback(lambda f: f.exception() is None and _close_quietly(f.result()[0]))
            raise SourceError(f"cannot connect to {self.uri!r}: no answer within {CONNECT_DEADLINE_S:.0f} s "
                              "(is the link to the host down?)") from None

    def _open(self) -> libvirt.virConnect:
        try:
            conn = libvirt.openReadOnly(self.uri) if self.readonly else libvirt.open(self.uri)
        except libvirt.libvirtError as err:
            raise SourceError(f"cannot connect to {self.uri!r}: {error_line(err)} "
                              "(is libvirtd running? choose another hypervisor with -c URI)") from None
        from xentui.sources import events

        if events.registered():  # keepalive needs an event loop: a dead link is noticed within ~20 s
            with contextlib.suppress(libvirt.libvirtError):
                conn.setKeepAlive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT)
        return conn

    def reconnect(self) -> None:
        """A new connection after the old one died (libvirtd restarted, link down); events again.

        Over a dead link, opening a new connection and closing the old one can each wait for an
        answer that never comes: both run in daemon threads, the open given CONNECT_DEADLINE_S, the
        close (once the new one is open) not waited for.  Actions still hanging keep their rows stale.
        """
        old = self.conn
        self.conn, self._host_static = self._open_within_deadline()
        if old is not self._abandoned:
            self._abandoned = old  # referenced until closed: a dropped virConnect closes itself, blocking
            with contextlib.suppress(NoAnswer):  # at the cap, left open: the process is refusing calls anyway
                deadlines.start(lambda: _close_quietly(old), "close a dead connection")
        self._devices.clear()
        self._answered.clear()
        self._busy_since.clear()
        self._bounded_calls.clear()
        self._fill_hung = None
        self.placement.entries.clear()
        self._event_ids.clear()  # they died with the old connection
        if self._on_change is not None:
            self.subscribe(self._on_change)

    def reachable(self) -> bool | None:
        """Cheap check that libvirtd accepts connections again (None: cannot tell for this URI)."""
        return local_host.daemon_reachable(self.uri, self.readonly)

    # --- host --------------------------------------------------------------

    def _read_host_static(self, conn: libvirt.virConnect) -> dict:
        try:
            model, _mem_mib, cpus, mhz, *_ = conn.getInfo()
            hv_type = conn.getType()
            try:
                hv_version = _version(conn.getVersion())
            except libvirt.libvirtError:
                hv_version = "?"
            try:
                hostname = conn.getHostname()
            except libvirt.libvirtError:
                hostname = socket.gethostname()
            return {
                **self._from_capabilities(conn),
                "hostname": hostname,
                "hypervisor": hv_type,
                "hypervisor_version": hv_version,
                "pcpus": cpus,
                "mhz": mhz,
                "cpu_model": model,
                "libvirt_version": _version(conn.getLibVersion()),
            }
        except libvirt.libvirtError as err:
            raise SourceError(f"cannot read host information from {self.uri!r}: {error_line(err)}") from None

    @staticmethod
    def _from_capabilities(conn: libvirt.virConnect) -> dict:
        """pCPUs by NUMA node and socket, with which are online, and each L3's size (libvirt shows the
        ``<cache>`` banks when resctrl is mounted); () when the driver cannot say."""
        try:
            _size, online, _count = conn.getCPUMap()
        except libvirt.libvirtError:
            online = None
        try:
            caps = conn.getCapabilities()
        except libvirt.libvirtError:
            return {"topology": (), "l3_caches": ()}
        try:
            topology = parse_topology(caps, online)
        except (ET.ParseError, ValueError):
            topology = ()
        return {"topology": topology, "l3_caches": cache_qos.capabilities_l3(caps)}

    def _memory(self) -> tuple[int, int]:
        """(total, free) KiB of the hypervisor's host; the last figures while libvirtd does not answer."""
        if self._local_pcpus:  # this machine is the host: /proc/meminfo, as libvirt reads it, without a call
            return local_host.memory_kib()
        try:
            memory = self._bounded("memory", self._read_memory)
        except NoAnswer:
            if self._last_memory is None:
                raise SourceError(f"{self.uri!r}: libvirtd did not say how much memory the host has") from None
            return self._last_memory
        self._last_memory = memory
        return memory

    def _read_memory(self) -> tuple[int, int]:
        if self._node_memstats:
            try:
                self.calls += 1
                stats = self.conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
                return stats["total"], stats["free"]
            except libvirt.libvirtError as err:
                if err.get_error_code() not in UNSUPPORTED:
                    raise
                self._node_memstats = False
        self.calls += 2
        total = self.conn.getInfo()[1] * 1024
        free = self.conn.getFreeMemory() // 1024
        return total, free

    def host_sample(self) -> HostSample:
        total, free = self._memory()
        static, rmids = self._host_static, None
        if self.resctrl is not None and not self._cache_status:
            if self._resctrl_facts is None:  # hardware facts, read once (sysfs has a cache dir per CPU and level)
                self._resctrl_facts = (self.resctrl.l3_caches(), self.resctrl.num_rmids())
            l3_caches, rmids = self._resctrl_facts
            if not static["l3_caches"]:
                static = static | {"l3_caches": l3_caches}
        return HostSample(uri=self.uri, mem_total_kib=total, mem_free_kib=free, boot_time=self._boot_time,
                          cache_monitoring=self._cache_status, cache_rmids=rmids, **static)

    # --- domains -------------------------------------------------------------

    def _within_deadline(self, call):
        """``call()`` in a helper thread, given ``deadline_s`` to answer.

        A domain whose qemu hangs (SIGSTOP, a stuck monitor) blocks a stats call for good, holding
        that domain's job.  The call is left to finish in the background and made once more: with
        NOWAIT the second call skips the domain the first one holds, so every other row stays live.
        A second slow call is waited for (up to SLOW_CALL_LIMIT_S) while libvirtd answers a trivial
        call: it is busy (guests starting and stopping hold their domains' locks), not gone.
        Abandoned calls count against the process-wide cap (:mod:`deadlines`); at the cap the source
        is reported unreachable.
        """
        for attempt in range(2):
            started = time.monotonic()
            try:
                pending = deadlines.start(call, "libvirt statistics")
                try:
                    result = pending.wait(self.deadline_s)
                except NoAnswer:
                    if attempt == 0 or not self._answers():
                        continue
                    result = pending.wait(SLOW_CALL_LIMIT_S)
            except deadlines.AtCap as err:
                raise SourceError(f"{self.uri!r}: {err}") from None
            except NoAnswer:
                continue
            self._last_call_s = time.monotonic() - started
            self._answer_started = started
            return result
        raise SourceError(f"{self.uri!r}: libvirtd did not answer within {2 * self.deadline_s:.1f} s")

    def _bounded(self, key: object, call, deadline_s: float | None = None):
        """``call()`` given ``deadline_s`` (MIN_DEADLINE_S), for the calls of a tick besides the stats call (a host's
        memory, a domain's control info or vCPUs), any of which can hang behind a stuck QEMU monitor.
        Raises NoAnswer when it does not return in time, or while the last such call (same ``key``)
        is still running: a hung call is never made again on top of itself."""
        return self._bounded_calls.call(key, call, MIN_DEADLINE_S if deadline_s is None else deadline_s)

    def _answers(self) -> bool:
        """Whether libvirtd answers a trivial call within a second or two."""
        try:
            deadlines.call(self.conn.getLibVersion, MIN_DEADLINE_S)
        except (NoAnswer, libvirt.libvirtError):
            return False
        return True

    def _call(self, call, what: str, deadline_s: float = CALL_DEADLINE_S):
        """``call()`` that must answer for the tick to go on: SourceError when it does not."""
        try:
            return deadlines.call(call, deadline_s, what)
        except NoAnswer as err:
            raise SourceError(f"{self.uri!r}: {err}") from None

    @property
    def deadline_s(self) -> float:
        """Time allowed to one stats call: generous next to what it usually takes."""
        return max(MIN_DEADLINE_S, 4 * self._last_call_s)

    def _bulk(self) -> list[tuple[libvirt.virDomain, dict]] | None:
        if self.bulk_supported is False:
            return None
        try:
            self.calls += 1
            records = self._within_deadline(lambda: self.conn.getAllDomainStats(STATS, STATS_FLAGS))
        except libvirt.libvirtError as err:
            if err.get_error_code() not in UNSUPPORTED:
                raise
            self.bulk_supported = False
            return None
        self.bulk_supported = True
        return records

    def _listed(self) -> list[tuple[libvirt.virDomain, dict]]:
        """Fallback when there is no bulk call: every domain, with no statistics yet."""
        self.calls += 1
        return [(dom, {}) for dom in self._call(lambda: self.conn.listAllDomains(0), "list domains")]

    def _learn_missing(self, records: list[tuple[libvirt.virDomain, dict]]) -> None:
        """Which groups this driver leaves out, judged on the active domains."""
        active = [rec for _dom, rec in records if rec.get("state.state") not in (None, libvirt.VIR_DOMAIN_SHUTOFF)]
        if not active:
            return
        missing = {group for group, key in PROBE_KEYS.items() if not any(key in rec for rec in active)}
        self.missing_groups = frozenset(missing)
        self._groups_learnt = True

    def _fill_all(self, records: list[tuple[libvirt.virDomain, dict]], missing: frozenset[str]
                  ) -> tuple[list[tuple[libvirt.virDomain, dict, Key]], list[str], dict[Key, str]]:
        """Each domain's record completed by per-domain calls, in ONE pass under a deadline (a thread per
        domain would cost more than the calls).  A domain whose calls hang ends the pass: the domains it
        did not reach keep their bulk figures, marked stale, and later passes skip the hung domain (its
        row stale) until its call returns.  Returns (filled, errors, stale rows)."""
        hung_key = self._fill_hung[0] if self._fill_hung and not self._fill_hung[1].done() else None
        lock = threading.Lock()
        filled: list[tuple[libvirt.virDomain, dict, Key]] = []
        errors: list[str] = []
        stale: dict[Key, str] = {}
        state: dict = {"at": None, "over": False}

        def one(dom: libvirt.virDomain, rec: dict) -> None:
            domid = dom.ID()  # ID, UUID and name are held by the client: no round trip
            key = (dom.UUIDString(), domid if domid >= 0 else None)
            if key == hung_key:
                stale[key] = "not answering: its per-domain statistics call has not returned"
            elif missing or "state.state" not in rec:
                state["at"] = key
                try:
                    rec = self._fill(dom, key, rec, missing)
                except libvirt.libvirtError as err:
                    if err.get_error_code() not in VANISHED:
                        errors.append(f"{dom.name()}: {error_line(err)}")
                    return
            with lock:
                if not state["over"]:
                    filled.append((dom, rec, key))

        def run() -> None:
            for dom, rec in records:
                one(dom, rec)
                if state["over"]:
                    return

        if not missing and all("state.state" in rec for _dom, rec in records):
            run()  # nothing to ask: no round trip, no thread
            return filled, errors, stale
        started = time.monotonic()
        try:
            pending = deadlines.start(run, "per-domain statistics")
            pending.wait(max(MIN_DEADLINE_S, 4 * self._last_fill_s) if self._last_fill_s else CONNECT_DEADLINE_S)
        except deadlines.AtCap as err:
            raise SourceError(f"{self.uri!r}: {err}") from None
        except NoAnswer:
            with lock:  # the pass may still go on: it must not touch what this tick returns
                state["over"] = True
                got, said, marked = list(filled), list(errors), dict(stale)
            self._fill_hung = (state["at"], pending)
            done = {key for _dom, _rec, key in got}
            for dom, rec in records:
                domid = dom.ID()
                key = (dom.UUIDString(), domid if domid >= 0 else None)
                if key not in done:
                    got.append((dom, rec, key))
                    marked[key] = "not answering: its per-domain statistics calls did not return in time"
            return got, said, marked
        self._last_fill_s = time.monotonic() - started
        return filled, errors, stale

    def _fill(self, dom: libvirt.virDomain, key: Key, rec: dict, missing: frozenset[str]) -> dict:
        """Add what the bulk call left out, by per-domain calls. May raise libvirtError."""
        rec = dict(rec)
        if "state.state" not in rec or missing & {"cpu", "balloon"}:
            self.calls += 1
            state, max_kib, cur_kib, nr_vcpus, cpu_ns = dom.info()
            rec.setdefault("state.state", state)
            if state == libvirt.VIR_DOMAIN_SHUTOFF:
                return rec
            rec.setdefault("cpu.time", cpu_ns)
            rec.setdefault("balloon.current", cur_kib)
            rec.setdefault("balloon.maximum", max_kib)
            rec.setdefault("vcpu.current", nr_vcpus)
        if rec.get("state.state") == libvirt.VIR_DOMAIN_SHUTOFF:
            return rec
        if "vcpu" in missing:
            self._fill_vcpus(dom, key, rec)
        if missing & {"net", "block"}:
            self._fill_devices(dom, key, rec, missing)
        return rec

    def _fill_vcpus(self, dom: libvirt.virDomain, key: Key, rec: dict) -> None:
        self.calls += 1
        try:
            infos, maps = dom.vcpus()
        except libvirt.libvirtError as err:
            if err.get_error_code() in VANISHED:
                raise
            return
        self.placement.store(key, placement_from_vcpus(infos, maps))  # comes free with the call
        rec["vcpu.current"] = sum(1 for i in infos if i[1] != libvirt.VIR_VCPU_OFFLINE)
        rec.setdefault("vcpu.maximum", len(infos))
        for number, state, cpu_ns, pcpu in infos:
            k_state, k_time, _k_delay, k_pcpu = stat_keys("vcpu", number, VCPU_FIELDS)
            rec[k_state] = state
            rec[k_time] = cpu_ns
            rec[k_pcpu] = pcpu

    def _fill_devices(self, dom: libvirt.virDomain, key: Key, rec: dict, missing: frozenset[str]) -> None:
        devices = self._devices.get(key)
        if devices is None:
            self.calls += 1
            devices = parse_devices(dom.XMLDesc(0))
            self._devices[key] = devices
        if "net" in missing:
            rec["net.count"] = len(devices.nets)
            for i, name in enumerate(devices.nets):
                keys = stat_keys("net", i, NET_FIELDS)
                rec[keys[0]] = name
                self.calls += 1
                try:
                    stats = dom.interfaceStats(name)
                except libvirt.libvirtError as err:
                    if err.get_error_code() in VANISHED:
                        raise
                    continue
                rec.update(zip(keys[1:], stats, strict=False))
        if "block" in missing:
            rec["block.count"] = len(devices.disks)
            for i, (name, path) in enumerate(devices.disks):
                keys = stat_keys("block", i, BLOCK_FIELDS)
                rec[keys[0]] = name
                rec[keys[1]] = path
                self.calls += 1
                try:
                    stats = dom.blockStats(name)  # rd_req, rd_bytes, wr_req, wr_bytes, errs (-1: unknown)
                except libvirt.libvirtError as err:
                    if err.get_error_code() in VANISHED:
                        raise
                    continue
                rec.update(zip(keys[2:6], stats[:4], strict=True))
                if stats[4] >= 0:
                    rec[keys[6]] = stats[4]

    def collect_domains(self) -> tuple[tuple[DomainSample, ...], tuple[str, ...]]:
        records = self._bulk()
        if records is None:
            records = self._listed()
            self.missing_groups = frozenset(PROBE_KEYS)
        elif not self._groups_learnt:
            self._learn_missing(records)
        while self._replaced:
            self.placement.forget(self._replaced.pop())
        filled, errors, unfilled = self._fill_all(records, self.missing_groups)
        stale = self._not_answering(filled) | unfilled | self._hung_actions(filled)
        if "vcpu" not in self.missing_groups:  # else _fill_vcpus read the placement already
            self._read_placement([entry for entry in filled if entry[2] not in stale])
        named = [(dom.name(), rec, key) for dom, rec, key in filled]
        resctrl = self._resctrl_caches(named)
        samples = tuple(parse_stats(key[0], name, key[1], rec, self.placement.get(key), resctrl.get(key[0]),
                                    stale.get(key, ""))
                        for name, rec, key in named)
        live = {key for _dom, _rec, key in filled}
        for cache in (self._devices, self._answered, self._busy_since):
            for key in [k for k in list(cache) if k not in live]:  # list(): a pass left hanging may still add
                cache.pop(key, None)
        self.placement.prune(live)
        return samples, tuple(errors)

    def _not_answering(self, filled: list[tuple[libvirt.virDomain, dict, Key]]) -> dict[Key, str]:
        """Domains whose QEMU monitor hangs (qemu stopped, stuck), each with why its row is stale.

        NOWAIT skips a domain whose job is held, so its record lacks the monitor's figures
        (``balloon.rss``, block counters).  That also happens when another client holds the job
        for a moment, so the domain's control info decides: only a monitor busy on one command for
        STUCK_AFTER_MS marks the row.  Its last monitor figures are kept, marked stale.
        """
        stale: dict[Key, str] = {}
        for dom, rec, key in filled:
            if rec.get("state.state") in (None, libvirt.VIR_DOMAIN_SHUTOFF):
                continue
            if "balloon.rss" in rec:
                self._answered[key] = rec  # kept whole (no copy each tick); its monitor figures are taken if needed
                continue
            last = self._answered.get(key)
            if last is None:  # never answered through a monitor here (not QEMU, or just started)
                continue
            busy_ms = self._monitor_busy_ms(dom, key)
            if busy_ms is not None and busy_ms >= STUCK_AFTER_MS:
                for k, v in last.items():
                    if k.startswith(MONITOR_KEYS):
                        rec.setdefault(k, v)
                stale[key] = (f"not answering: its QEMU monitor has been busy on one command for "
                              f"{busy_ms / 1000:.0f} s; memory and disk figures are the last it gave")
        return stale

    def _monitor_busy_ms(self, dom: libvirt.virDomain, key: Key) -> int | None:
        """How long the domain's monitor has been busy on one command (None: it is not, or unknown)."""
        self.calls += 1
        try:
            state, _details, busy_ms = self._bounded(("control", key), dom.controlInfo)
        except libvirt.libvirtError:
            return None
        except NoAnswer:  # even the question hangs: it has not answered since before the last one
            since = self._busy_since.setdefault(key, time.monotonic() - MIN_DEADLINE_S)
            return int((time.monotonic() - since) * 1000)
        if state != libvirt.VIR_DOMAIN_CONTROL_OCCUPIED:
            self._busy_since.pop(key, None)
            return None
        self._busy_since[key] = time.monotonic() - busy_ms / 1000
        return busy_ms

    def _resctrl_caches(self, named: list[tuple[str, dict, Key]]) -> dict[str, CacheSample]:
        """resctrl figures for the running domains libvirt does not monitor; sets the host's "why not" line."""
        active = [(name, rec, key) for name, rec, key in named
                  if rec.get("state.state") not in (None, libvirt.VIR_DOMAIN_SHUTOFF)]
        if self.resctrl is not None:
            reason = self.resctrl.status()
        elif self._host_static["hypervisor"] == "Xen":
            reason = "libvirt's libxl driver has no Cache QoS: run xentui without -c (it reads xl psr-cmt-show)"
        else:
            reason = "no resctrl (not a local QEMU/KVM host)"
        if reason:
            own = any(cache_qos.libvirt_cache(rec) is not None for _name, rec, _key in active)
            self._cache_status = "" if own else f"{reason}; {NO_LIBVIRT_MONITOR}"
            return {}
        self._cache_status = ""
        wanted = {key[0]: name for name, rec, key in active if cache_qos.libvirt_cache(rec) is None}
        try:
            with self._resctrl_lock:
                return self.resctrl.samples(wanted) if wanted else {}
        except OSError as err:
            self._cache_status = f"resctrl unreadable: {err.strerror or err}"
            return {}

    def _read_placement(self, filled: list[tuple[libvirt.virDomain, dict, Key]]) -> None:
        """One ``vcpus()`` call for each domain the placement cache says is due."""
        active = {key: dom for dom, rec, key in filled
                  if rec.get("state.state") not in (None, libvirt.VIR_DOMAIN_SHUTOFF)}
        for key in self.placement.due(list(active)):
            self.calls += 1
            try:
                infos, maps = self._bounded(("vcpus", key), active[key].vcpus)
            except (libvirt.libvirtError, NoAnswer):
                infos, maps = [], []  # gone, or unreadable here: try again at the slow cadence, not every tick
            self.placement.store(key, placement_from_vcpus(infos, maps))

    def collect(self) -> RawSample:
        try:
            before = self._answer_started = time.monotonic()
            domains, errors = self.collect_domains()
            after = time.monotonic()
            before = self._answer_started  # a call abandoned at its deadline read nothing: its time does not count
            host = self.host_sample()
        except libvirt.libvirtError as err:
            raise SourceError(f"lost {self.uri!r}: {error_line(err)}") from None
        hidden = self._hidden_xen_domains(len([d for d in domains if d.active]))
        notices = [f"{d.name} is {d.stale}" for d in domains if d.stale]
        if hidden:
            notices.append(hidden)
        if hanging := deadlines.abandoned():
            notices.append(f"{hanging} libvirt call(s) past their deadline have not returned (at "
                           f"{deadlines.CAP} calls running xentui stops asking until some return)")
        return RawSample(
            monotonic=(before + after) / 2,
            wall=time.time(),
            host=host,
            domains=domains,
            errors=errors,
            notices=tuple(notices),
            pcpu_busy_ns=local_host.pcpu_busy_ns() if self._local_pcpus else None,
        )

    def _hidden_xen_domains(self, listed: int) -> str | None:
        """On a Xen dom0, say how many running domains libvirt's libxl driver does not list."""
        if self._host_static["hypervisor"] != "Xen" or self._xenstat_failed:
            return None
        from xentui.sources import xen

        try:
            if self._xenstat is None:
                if not xen.is_dom0():
                    raise SourceError("not a dom0")
                self._xenstat = xen.XenStat()
            running = self._xenstat.count_domains()
        except (SourceError, OSError):
            self._xenstat_failed = True
            return None
        if running <= listed:
            return None
        return (f"libvirt lists only the domains it started: {running - listed} more of the {running} running "
                f"on this host are not shown (run xentui without -c to see every domain)")

    # --- events ---------------------------------------------------------------------

    def subscribe(self, on_change) -> str | None:
        """Call ``on_change(uuid)`` (on the event loop's thread) when a domain starts, stops,
        pauses, ...  None when subscribed, else why not (the caller then relies on polling)."""
        from xentui.sources import events

        if not events.registered():
            return "no libvirt event loop"
        self._on_change = on_change

        def lifecycle(_conn, dom, _event, _detail, _opaque) -> None:
            on_change(dom.UUIDString())

        def register() -> str | None:
            try:
                self._event_ids.append(self.conn.domainEventRegisterAny(
                    None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None))
            except libvirt.libvirtError as err:
                return error_line(err)
            with contextlib.suppress(libvirt.libvirtError):  # closed by keepalive or EOF: look now, not next tick
                self.conn.registerCloseCallback(lambda _conn, _reason, _opaque: on_change(""), None)
            return None

        try:
            return deadlines.call(register, CALL_DEADLINE_S, "register for lifecycle events")
        except NoAnswer as err:
            return str(err)

    # --- actions (guarded by xentui.actions.perform) ------------------------------

    def current_uuid(self, domain: DomainSample) -> str | None:
        from xentui.actions import ActionError
        from xentui.sources import libvirt_actions

        try:
            return deadlines.call(lambda: libvirt_actions.current_uuid(self.conn, domain), CALL_DEADLINE_S,
                                  f"look up {domain.name}")
        except NoAnswer as err:
            raise ActionError(f"{err}; nothing done") from None

    def act(self, domain: DomainSample, action, **params) -> None:
        """Do ``action`` under ACTION_DEADLINE_S.  One that does not answer goes on in the background, may
        still take effect, and marks the domain's row stale until it returns; ActionError says so."""
        from xentui.actions import CACHE_ACTIONS, ActionError
        from xentui.sources import libvirt_actions

        earlier = self._acting.get(domain.uuid)
        if earlier is not None and not earlier[2].done():
            raise ActionError(f"{action.value} {domain.name}: the {earlier[0]} sent "
                              f"{time.monotonic() - earlier[1]:.0f} s ago has not returned yet; nothing done")
        size = max(self._host_static["pcpus"], len(self._host_static["topology"]))
        if action in CACHE_ACTIONS:
            work = functools.partial(self._cache_act, domain, action)
        else:
            work = functools.partial(libvirt_actions.act, self.conn, domain, action, params, size)
        started = time.monotonic()
        try:
            pending = deadlines.start(work, f"{action.value} {domain.name}")
            pending.wait(ACTION_DEADLINE_S)
        except deadlines.AtCap as err:
            raise ActionError(f"{err}; nothing done") from None
        except NoAnswer:
            self._acting[domain.uuid] = (action.value, started, pending)
            raise ActionError(f"{action.value} {domain.name}: libvirt did not answer within "
                              f"{ACTION_DEADLINE_S:.0f} s; it may still take effect (its row is marked stale "
                              "until the call returns)") from None
        finally:
            self._replaced.add(domain.uuid)  # show the new placement on the next tick

    def _hung_actions(self, filled: list[tuple[libvirt.virDomain, dict, Key]]) -> dict[Key, str]:
        """Rows of domains an action is still hanging on (it was sent, it has not returned)."""
        for uuid in [u for u, (_what, _at, call) in list(self._acting.items()) if call.done()]:
            self._acting.pop(uuid, None)
        stale = {}
        for _dom, _rec, key in filled:
            hung = self._acting.get(key[0])
            if hung is not None:
                stale[key] = (f"not answering: the {hung[0]} sent {time.monotonic() - hung[1]:.0f} s ago has "
                              "not returned (it may still take effect)")
        return stale

    def _cache_act(self, domain: DomainSample, action) -> None:
        """Attach / detach a resctrl monitoring group (libvirt's own monitors live in the domain XML)."""
        from xentui.actions import Action, ActionError

        if domain.cache is not None and domain.cache.source == "libvirt":
            raise ActionError(f"{domain.name} is monitored by libvirt's <cachetune><monitor>: edit its XML "
                              "(virsh edit) to change that; nothing done")
        if self.resctrl is None:
            raise ActionError("cache monitoring groups need resctrl on this host: xentui must run on the "
                              "QEMU/KVM host itself (qemu:///system); nothing done")
        try:
            with self._resctrl_lock:  # the tick reads the same groups, in the poller's thread
                if action is Action.CACHE_ATTACH:
                    self.resctrl.attach(domain.name)
                else:
                    self.resctrl.detach(domain.name)
        except SourceError as err:
            raise ActionError(str(err)) from None

    def close(self, wait_s: float = 1.0) -> None:
        """Let go of the connection; over a dead link that waits for answers that never come, so the
        goodbye runs in a daemon thread, waited for ``wait_s`` at most (quitting never hangs)."""
        with contextlib.suppress(NoAnswer):
            deadlines.call(self._close_now, wait_s, "close the connection")

    def _close_now(self) -> None:
        for event_id in self._event_ids:
            with contextlib.suppress(libvirt.libvirtError):
                self.conn.domainEventDeregisterAny(event_id)
        self._event_ids.clear()
        if self._xenstat is not None:
            self._xenstat.close()
        if self.conn is not self._abandoned:  # a failed reconnect left the old one, already being closed
            self._abandoned = self.conn
            _close_quietly(self.conn)
