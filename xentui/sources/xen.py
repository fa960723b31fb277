"""Xen, read as xentop reads it: libxenstat through ctypes, plus ``xl`` for the rest.

libxenstat sees every domain whoever created it (libvirt's libxl driver sees only the
ones libvirt started), so on a dom0 this is the default source.  Affinity comes from
``xl vcpu-list`` in a thread of its own (every 10 s and when a domain appears, never in
the tick), UUIDs from xenstore (once per domain), actions go through ``xl``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from xentui.cpulist import CpuListError, parse_cpulist
from xentui.limits import MAX_DEVICES, MAX_VCPUS, count, counter
from xentui.model import BlockSample, DomainSample, DomainState, HostSample, NetSample, Pcpu, RawSample, VcpuSample
from xentui.sources import Source, SourceError, cache_qos

XENSTAT_ALL = 0x1 | 0x2 | 0x4 | 0x8  # VCPU | NETWORK | XEN_VERSION | VBD
NO_LIMIT = 2**64 - 1  # xenstat_domain_max_mem() when a domain has no limit
VBD_KINDS = ("Unidentified", "BlkBack", "BlkTap")
AFFINITY_EVERY_S = 10.0  # `xl vcpu-list` cadence; also run when a domain appears
AFFINITY_VIEW_S = 2.0  # ...while the vCPU or pCPU view is open
CAPABILITIES = Path("/proc/xen/capabilities")
CMT_EVERY_S = 3.0  # `xl psr-cmt-show` cadence (three calls; bandwidths are xl's own short measurement)
CMT_TYPES = ("cache-occupancy", "total-mem-bandwidth", "local-mem-bandwidth")

# xentop's flag letters, in its order, and the libxenstat call behind each.
FLAG_CALLS = (("d", "dying"), ("s", "shutdown"), ("b", "blocked"), ("c", "crashed"), ("p", "paused"), ("r", "running"))
# One state for a domain with several flags: xentop's summary-line priority.
STATE_PRIORITY = (("r", DomainState.RUNNING), ("b", DomainState.BLOCKED), ("p", DomainState.PAUSED),
                  ("s", DomainState.SHUTDOWN), ("c", DomainState.CRASHED), ("d", DomainState.DYING))


def _boot_time() -> float | None:
    """When dom0 (so, near enough, the host) booted, from /proc/stat's btime."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def is_dom0(capabilities: Path = CAPABILITIES) -> bool:
    """True in a Xen control domain (``/proc/xen/capabilities`` holds ``control_d``)."""
    try:
        return "control_d" in capabilities.read_text()
    except OSError:
        return False


def _find_library(name: str, pattern: str) -> str | None:
    found = ctypes.util.find_library(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/*/{pattern}") + glob.glob(f"/usr/lib/{pattern}")
                        + glob.glob(f"/usr/local/lib/{pattern}"))
    return candidates[-1] if candidates else None


def _declare(lib: ctypes.CDLL, restype, names: str, *argtypes) -> None:
    for name in names.split():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = list(argtypes)


class XenStat:
    """The few libxenstat calls xentop makes, typed for ctypes."""

    def __init__(self, path: str | None = None):
        path = path or _find_library("xenstat", "libxenstat.so*")
        if not path:
            raise SourceError("libxenstat not found: install Xen's tools (Debian: libxenmisc4.17) on this dom0")
        lib = ctypes.CDLL(path)
        p, u, ull, s = ctypes.c_void_p, ctypes.c_uint, ctypes.c_ulonglong, ctypes.c_char_p
        _declare(lib, p, "xenstat_init")
        _declare(lib, None, "xenstat_uninit xenstat_free_node", p)
        _declare(lib, p, "xenstat_get_node", p, u)
        _declare(lib, p, "xenstat_node_domain_by_index xenstat_domain_vcpu xenstat_domain_network "
                         "xenstat_domain_vbd", p, u)
        _declare(lib, s, "xenstat_node_xen_version xenstat_domain_name", p)
        _declare(lib, ull, "xenstat_node_tot_mem xenstat_node_free_mem xenstat_node_cpu_hz xenstat_domain_cpu_ns "
                           "xenstat_domain_cur_mem xenstat_domain_max_mem xenstat_vcpu_ns", p)
        _declare(lib, u, "xenstat_node_num_domains xenstat_node_num_cpus xenstat_domain_id xenstat_domain_num_vcpus "
                         "xenstat_domain_ssid xenstat_domain_num_networks xenstat_domain_num_vbds xenstat_vcpu_online "
                         "xenstat_network_id xenstat_vbd_type xenstat_vbd_dev", p)
        _declare(lib, u, " ".join(f"xenstat_domain_{call}" for _, call in FLAG_CALLS), p)
        _declare(lib, ull, "xenstat_network_rbytes xenstat_network_rpackets xenstat_network_rerrs "
                           "xenstat_network_rdrop xenstat_network_tbytes xenstat_network_tpackets "
                           "xenstat_network_terrs xenstat_network_tdrop xenstat_vbd_oo_reqs xenstat_vbd_rd_reqs "
                           "xenstat_vbd_wr_reqs xenstat_vbd_rd_sects xenstat_vbd_wr_sects", p)
        self.has_vbd_error = hasattr(lib, "xenstat_vbd_error")
        if self.has_vbd_error:
            _declare(lib, ctypes.c_bool, "xenstat_vbd_error", p)
        self.lib = lib
        self.handle = lib.xenstat_init()
        if not self.handle:
            raise SourceError("xenstat_init failed: run xentui as root in dom0 (it needs /dev/xen/privcmd)")

    def count_domains(self) -> int:
        node = self.lib.xenstat_get_node(self.handle, 0)
        if not node:
            raise SourceError("failed to retrieve statistics from libxenstat")
        try:
            return self.lib.xenstat_node_num_domains(node)
        finally:
            self.lib.xenstat_free_node(node)

    def close(self) -> None:
        if self.handle:
            self.lib.xenstat_uninit(self.handle)
            self.handle = None


class XenStore:
    """Read-only xenstore access for domain UUIDs (libxenstore through ctypes)."""

    def __init__(self):
        path = _find_library("xenstore", "libxenstore.so*")
        self.lib = ctypes.CDLL(path) if path else None
        self.libc = ctypes.CDLL(None)
        self.handle = None
        if self.lib:
            _declare(self.lib, ctypes.c_void_p, "xs_open", ctypes.c_ulong)
            _declare(self.lib, ctypes.c_void_p, "xs_read", ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p,
                     ctypes.POINTER(ctypes.c_uint))
            _declare(self.lib, None, "xs_close", ctypes.c_void_p)
            self.libc.free.argtypes = [ctypes.c_void_p]
            self.handle = self.lib.xs_open(0)

    def read(self, path: str) -> str | None:
        if not self.handle:
            return None
        length = ctypes.c_uint()
        ptr = self.lib.xs_read(self.handle, 0, path.encode(), ctypes.byref(length))
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr, length.value).decode(errors="replace")
        finally:
            self.libc.free(ptr)

    def close(self) -> None:
        if self.handle:
            self.lib.xs_close(self.handle)
            self.handle = None


def parse_vcpu_list(text: str, ncpus: int) -> dict[tuple[int, int], tuple[int | None, frozenset[int], frozenset[int]]]:
    """``xl vcpu-list`` -> {(domid, vcpu): (pcpu or None, hard, soft)}."""
    out = {}
    for line in text.splitlines()[1:]:
        tokens = line.split()
        if len(tokens) < 9 or tokens[-2] != "/":
            continue
        try:
            domid, vcpu = int(tokens[-8]), int(tokens[-7])
            pcpu = None if tokens[-6] == "-" else int(tokens[-6])
            out[(domid, vcpu)] = (pcpu, parse_cpulist(tokens[-3], ncpus), parse_cpulist(tokens[-1], ncpus))
        except (ValueError, CpuListError):
            continue
    return out


def parse_xl_topology(text: str) -> tuple[Pcpu, ...]:
    """The ``cpu_topology`` table of ``xl info -n`` (``cpu: core socket node``); ``-`` marks an offline CPU."""
    out = []
    inside = False
    for line in text.splitlines():
        if line.startswith("cpu_topology"):
            inside = True
            continue
        if not inside:
            continue
        head, sep, rest = line.partition(":")
        if not sep or not head.strip().isdigit():
            if out and not line.startswith(" "):
                break  # the next section
            continue
        fields = rest.split()
        if len(fields) != 3:
            continue
        if all(f.isdigit() for f in fields):
            core, socket_id, node = map(int, fields)
            out.append(Pcpu(int(head), node=node, socket=socket_id, core=core))
        else:
            out.append(Pcpu(int(head), online=False))
    return tuple(out)


@dataclass
class PlacementWish:
    """What the views want (set by the poller): read placement more often while one is open."""

    watch: str | None = None
    want_all: bool = False


def xl(*args: str, timeout: float = 30.0) -> str:
    """Run ``xl``; its first error line becomes a SourceError."""
    try:
        proc = subprocess.run(["xl", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SourceError("xl not found: install Xen's tools (Debian: xen-utils)") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"xl {' '.join(args)} did not answer within {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        message = lines[-1] if lines else f"exit code {proc.returncode}"
        raise SourceError(f"xl {' '.join(args)}: {message.split(': ', 1)[-1] if 'libxl' in message else message}")
    return proc.stdout


def cache_monitoring_status() -> str:
    """Why Xen gives no Cache QoS numbers, in xl's own words, or '' when CMT works."""
    try:
        xl("psr-cmt-show", "cache-occupancy", timeout=10)
    except SourceError as err:
        return cache_qos.xen_status(cache_qos.xl_message(str(err).split(": ", 1)[-1]))
    return ""


def read_cmt() -> tuple[cache_qos.XenCmtTable, ...]:
    """The three ``xl psr-cmt-show`` tables (a type the CPU lacks comes back with its ``error``)."""
    out = []
    for kind in CMT_TYPES:
        try:
            out.append(cache_qos.parse_psr_cmt_show(xl("psr-cmt-show", kind, timeout=10)))
        except SourceError as err:
            out.append(cache_qos.XenCmtTable(error=cache_qos.xl_message(str(err).split(": ", 1)[-1])))
    return tuple(out)


def xen_caches(tables: tuple[cache_qos.XenCmtTable, ...] | None,
               domids: list[int]) -> tuple[dict, str, tuple, int | None]:
    """({domid: CacheSample}, why none, L3 sizes, RMIDs) from the last tables read."""
    if tables is None:
        return {}, "reading xl psr-cmt-show…", (), None
    occupancy, total, local = tables
    if occupancy.error:
        return {}, cache_qos.xen_status(occupancy.error), (), None
    caches = {d: cache_qos.xen_cache(d, occupancy, None if total.error else total, None if local.error else local)
              for d in domids}
    return caches, "", cache_qos.xen_l3(occupancy), occupancy.total_rmid


class XenSource(Source):
    HAS_PLACEMENT = True

    def set_interest(self, uuid: str | None, all_pcpus: bool = False) -> None:
        self.placement.watch, self.placement.want_all = uuid, all_pcpus

    """All domains of this Xen host, with xentop's numbers."""

    def __init__(self, *, readonly: bool = True, stat: XenStat | None = None):
        self.readonly = readonly
        self.uri = "xen (libxenstat)"
        self.stat = stat or XenStat()
        self.store = XenStore()
        self.hostname = socket.gethostname()
        self.boot_time = _boot_time()
        self._uuids: dict[int, str] = {}
        self._affinity: dict = {}  # replaced whole by the affinity thread; read by collect()
        self._affinity_error: str | None = None
        self._affinity_thread: threading.Thread | None = None
        self._refresh_now = threading.Event()
        self._closing = threading.Event()
        self._known_domids: set[int] = set()
        self.cache_monitoring = cache_monitoring_status()
        self._cmt: tuple[cache_qos.XenCmtTable, ...] | None = None  # replaced whole by the CMT thread
        self._cmt_now = threading.Event()
        if not self.cache_monitoring:
            threading.Thread(target=self._cmt_loop, name="xentui-xl-psr-cmt", daemon=True).start()
        self._ncpus = 0
        self._topology: tuple[Pcpu, ...] = ()  # from `xl info -n`, read once by the affinity thread
        self.placement = PlacementWish()
        self.calls = 0

    def _uuid(self, domid: int) -> str:
        uuid = self._uuids.get(domid)
        if uuid is None:
            vm = self.store.read(f"/local/domain/{domid}/vm") or ""
            uuid = vm.rsplit("/", 1)[-1] if vm.startswith("/vm/") else f"xen-domid-{domid}"
            self._uuids[domid] = uuid
        return uuid

    def _watch_affinity(self, domids: set[int]) -> None:
        """Keep affinity fresh off the tick: `xl vcpu-list` takes a second on a busy dom0."""
        if self._affinity_thread is None:
            self._affinity_thread = threading.Thread(target=self._affinity_loop, name="xentui-xl-vcpu-list",
                                                     daemon=True)
            self._affinity_thread.start()
        elif not domids <= self._known_domids:
            self._refresh_now.set()  # a domain appeared: read its placement now
        self._known_domids = domids

    def _affinity_loop(self) -> None:
        while not self._closing.is_set():
            try:
                self._affinity = parse_vcpu_list(xl("vcpu-list", timeout=30), self._ncpus)
                self._affinity_error = None
            except SourceError as err:
                self._affinity_error = str(err)
            if not self._topology:  # after the affinity, which every frame shows; else one node of every pCPU
                with contextlib.suppress(SourceError):
                    self._topology = parse_xl_topology(xl("info", "-n", timeout=30))
            wanted = self.placement.watch is not None or self.placement.want_all
            self._refresh_now.wait(AFFINITY_VIEW_S if wanted else AFFINITY_EVERY_S)
            self._refresh_now.clear()

    def _cmt_loop(self) -> None:
        """Cache QoS off the tick: `xl psr-cmt-show` measures bandwidth over a short sleep of its own."""
        while not self._closing.is_set():
            self._cmt = read_cmt()
            self._cmt_now.wait(CMT_EVERY_S)
            self._cmt_now.clear()

    def _domain(self, d, ncpus: int, caches: dict) -> DomainSample:
        lib = self.stat.lib
        domid = lib.xenstat_domain_id(d)
        flags = "".join(letter if getattr(lib, f"xenstat_domain_{call}")(d) else "-" for letter, call in FLAG_CALLS)
        state = next((st for letter, st in STATE_PRIORITY if letter in flags), DomainState.NOSTATE)
        vcpus = []
        for n in range(count(lib.xenstat_domain_num_vcpus(d), MAX_VCPUS)):
            v = lib.xenstat_domain_vcpu(d, n)
            pcpu, hard, soft = self._affinity.get((domid, n), (None, None, None))
            vcpus.append(VcpuSample(n, online=bool(lib.xenstat_vcpu_online(v)), time_ns=lib.xenstat_vcpu_ns(v),
                                    pcpu=pcpu, hard_affinity=hard, soft_affinity=soft))
        nets = []
        for i in range(count(lib.xenstat_domain_num_networks(d), MAX_DEVICES)):
            n = lib.xenstat_domain_network(d, i)
            nets.append(NetSample(
                name=f"vif{domid}.{lib.xenstat_network_id(n)}",
                rx_bytes=lib.xenstat_network_rbytes(n), rx_packets=lib.xenstat_network_rpackets(n),
                rx_errs=lib.xenstat_network_rerrs(n), rx_drop=lib.xenstat_network_rdrop(n),
                tx_bytes=lib.xenstat_network_tbytes(n), tx_packets=lib.xenstat_network_tpackets(n),
                tx_errs=lib.xenstat_network_terrs(n), tx_drop=lib.xenstat_network_tdrop(n),
            ))
        blocks = []
        for i in range(count(lib.xenstat_domain_num_vbds(d), MAX_DEVICES)):
            b = lib.xenstat_domain_vbd(d, i)
            kind = lib.xenstat_vbd_type(b)
            devno = lib.xenstat_vbd_dev(b)
            failed = self.stat.has_vbd_error and lib.xenstat_vbd_error(b)
            blocks.append(BlockSample(
                name=str(devno), kind=VBD_KINDS[kind] if kind < len(VBD_KINDS) else str(kind), devno=devno,
                **({} if failed else {
                    "oo_reqs": lib.xenstat_vbd_oo_reqs(b), "rd_reqs": lib.xenstat_vbd_rd_reqs(b),
                    "wr_reqs": lib.xenstat_vbd_wr_reqs(b), "rd_bytes": counter(lib.xenstat_vbd_rd_sects(b) * 512),
                    "wr_bytes": counter(lib.xenstat_vbd_wr_sects(b) * 512),  # sectors: bytes may pass 2**64
                }),
            ))
        max_mem = lib.xenstat_domain_max_mem(d)
        return DomainSample(
            uuid=self._uuid(domid),
            name=(lib.xenstat_domain_name(d) or b"").decode(errors="replace"),
            domid=domid,
            state=state,
            flags=flags,
            cpu_ns=lib.xenstat_domain_cpu_ns(d),
            vcpus_current=len(vcpus),
            vcpus_max=len(vcpus),
            mem_kib=lib.xenstat_domain_cur_mem(d) // 1024,
            maxmem_kib=None if max_mem == NO_LIMIT else max_mem // 1024,
            vcpus=tuple(vcpus),
            nets=tuple(nets),
            blocks=tuple(blocks),
            ssid=lib.xenstat_domain_ssid(d),
            cache=caches.get(domid),
        )

    def collect(self) -> RawSample:
        lib = self.stat.lib
        stamp = time.monotonic()
        self.calls += 1
        node = lib.xenstat_get_node(self.stat.handle, XENSTAT_ALL)
        if not node:
            raise SourceError("failed to retrieve statistics from libxenstat")
        try:
            ncpus = self._ncpus = lib.xenstat_node_num_cpus(node)
            handles = [lib.xenstat_node_domain_by_index(node, i) for i in range(lib.xenstat_node_num_domains(node))]
            domids = [lib.xenstat_domain_id(d) for d in handles]
            self._watch_affinity(set(domids))
            caches, cache_status, l3, rmids = {}, self.cache_monitoring, (), None
            if not cache_status:
                caches, cache_status, l3, rmids = xen_caches(self._cmt, domids)
            domains = tuple(self._domain(d, ncpus, caches) for d in handles)
            host = HostSample(
                hostname=self.hostname,
                hypervisor="Xen",
                hypervisor_version=(lib.xenstat_node_xen_version(node) or b"?").decode(),
                uri=self.uri,
                pcpus=ncpus,
                mhz=lib.xenstat_node_cpu_hz(node) // 1_000_000,
                mem_total_kib=lib.xenstat_node_tot_mem(node) // 1024,
                mem_free_kib=lib.xenstat_node_free_mem(node) // 1024,
                cache_monitoring=cache_status,
                l3_caches=l3,
                cache_rmids=rmids,
                boot_time=self.boot_time,
                topology=self._topology,
            )
        finally:
            lib.xenstat_free_node(node)
        live = {d.domid for d in domains}
        for domid in [k for k in self._uuids if k not in live]:
            del self._uuids[domid]
        error = self._affinity_error
        return RawSample(monotonic=stamp, wall=time.time(), host=host, domains=domains,
                         errors=(error,) if error else ())

    # --- actions (guarded by xentui.actions.perform) ------------------------------

    def current_uuid(self, domain: DomainSample) -> str | None:
        """The UUID the target's domid has now (None when that domid is gone)."""
        if domain.domid is None:
            return None
        vm = self.store.read(f"/local/domain/{domain.domid}/vm")
        if vm is None:
            return None
        return vm.rsplit("/", 1)[-1] if vm.startswith("/vm/") else f"xen-domid-{domain.domid}"

    def act(self, domain: DomainSample, action, **params) -> None:
        from xentui.actions import CACHE_ACTIONS, ActionError

        try:
            xl(*_xl_action(domain, action, params, self._ncpus))
        except SourceError as err:
            if action in CACHE_ACTIONS:
                raise ActionError(self._cmt_refusal(str(err))) from None
            raise ActionError(str(err)) from None
        finally:
            self._refresh_now.set()  # show the new placement (and state) soon
            self._cmt_now.set()

    def _cmt_refusal(self, error: str) -> str:
        """xl's refusal to attach, plainly; running out of RMIDs says what to do."""
        reason = cache_qos.xl_message(error.split(": ", 1)[-1])
        if "RMID" in reason or "No space" in reason or "Too many users" in reason:
            tables = self._cmt
            attached = len(tables[0].values or {}) if tables else "?"
            total = tables[0].total_rmid if tables and tables[0].total_rmid else "?"
            return f"no free RMID ({attached} domains attached, {total} RMIDs): detach another domain first"
        return cache_qos.xen_status(reason)

    def close(self) -> None:
        self._closing.set()
        self._refresh_now.set()
        self._cmt_now.set()
        self.stat.close()
        self.store.close()


def _xl_action(domain: DomainSample, action, params: dict, ncpus: int) -> list[str]:
    """The ``xl`` command line for one action (arguments already validated)."""
    from xentui.actions import Action
    from xentui.cpulist import format_cpulist

    domid = str(domain.domid)
    simple = {Action.PAUSE: "pause", Action.RESUME: "unpause", Action.SHUTDOWN: "shutdown",
              Action.REBOOT: "reboot", Action.DESTROY: "destroy"}
    if action in simple:
        return [simple[action], domid]
    if action is Action.PIN:
        if params.get("persistent"):
            raise SourceError("xl vcpu-pin changes the running domain only; put cpus= / cpus_soft= in its xl config "
                              "file for the next boot: nothing done")
        hard = format_cpulist(params["hard"], ncpus) if "hard" in params else "-"
        soft = format_cpulist(params["soft"], ncpus) if "soft" in params else "-"
        return ["vcpu-pin", domid, str(params["vcpu"]), hard, soft]
    if action is Action.BALLOON:
        return ["mem-set", domid, f"{params['memory_kib']}k"]
    if action is Action.CACHE_ATTACH:
        return ["psr-cmt-attach", domid]
    if action is Action.CACHE_DETACH:
        return ["psr-cmt-detach", domid]
    raise SourceError(f"{action.value} is not available on Xen")
