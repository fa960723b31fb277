"""Xen, read as xentop reads it: libxenstat through ctypes, plus ``xl`` for the rest.

libxenstat sees every domain whoever created it (libvirt's libxl driver sees only the
ones libvirt started), so on a dom0 this is the default source.  Affinity comes from
``xl vcpu-list`` in a thread of its own (every 10 s and when a domain appears, never in
the tick), UUIDs from xenstore (once per domain), actions go through ``xl``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

from xentui.actions import CACHE_ACTIONS, Action, ActionError, ActionParams
from xentui.limits import MAX_DEVICES, MAX_VCPUS, count, counter
from xentui.model import (
    BlockSample,
    CacheSample,
    DomainSample,
    DomainState,
    HostSample,
    NetSample,
    Pcpu,
    RawSample,
    VcpuSample,
)
from xentui.sources import local_machine
from xentui.sources.background import Refresher
from xentui.sources.base import Source, SourceError
from xentui.sources.cache_qos import xen as xen_cache_qos  # a module: it imports .xl, so this package
from xentui.sources.guest import UNKNOWN
from xentui.sources.scheduling import SchedulingWatch
from xentui.sources.xen import sched
from xentui.sources.xen.guests import XenGuests
from xentui.sources.xen.libxenstat import FLAG_CALLS, Stat, Store, XenStat, XenStore, is_dom0, uuid_from_vm_path
from xentui.sources.xen.xenctrl import XenCpuInfo, open_cpuinfo
from xentui.sources.xen.xl import (
    VcpuPlacement,
    Xl,
    XlError,
    action_deadline,
    action_line,
    parse_vcpu_list,
    parse_xl_topology,
    xl,
)
from xentui.threads import SPAWNING

__all__ = ["XenSource", "XenStat", "is_dom0"]

XENSTAT_ALL = 0x1 | 0x2 | 0x4 | 0x8  # VCPU | NETWORK | XEN_VERSION | VBD
NO_LIMIT = 2**64 - 1  # xenstat_domain_max_mem() when a domain has no limit
VBD_KINDS = ("Unidentified", "BlkBack", "BlkTap")
AFFINITY_EVERY_S = 10.0  # `xl vcpu-list` cadence; also run when a domain appears
AFFINITY_VIEW_S = 2.0  # ...while the vCPU or pCPU view is open
# One state for a domain with several flags: xentop's summary-line priority.
STATE_PRIORITY = (("r", DomainState.RUNNING), ("b", DomainState.BLOCKED), ("p", DomainState.PAUSED),
                  ("s", DomainState.SHUTDOWN), ("c", DomainState.CRASHED), ("d", DomainState.DYING))


class XenSource(Source):
    """All domains of this Xen host, with xentop's numbers."""

    CAN_ACT = True
    HAS_PLACEMENT = True

    def __init__(self, *, readonly: bool = True, stat: Stat | None = None, store: Store | None = None,
                 run: Xl = xl, cpuinfo: Callable[[], XenCpuInfo | None] = open_cpuinfo,
                 clock: Callable[[], float] = time.monotonic, guests: XenGuests | None = None) -> None:
        """``stat``, ``store``, ``run`` (the ``xl`` runner), ``cpuinfo`` (opens the pCPU idle times' reader; None:
        no pCPU figures), ``clock`` (the samples' stamps) and ``guests`` (types, device models: /proc) are this
        dom0's unless a test passes its own."""
        self.readonly = readonly
        self._clock = clock
        self._xl = run
        self.uri = "xen (libxenstat)"
        self.stat: Stat = stat or XenStat()
        self.cpuinfo = cpuinfo()
        self.store: Store = store or XenStore()
        self.hostname = socket.gethostname()
        self.boot_time = local_machine.boot_time()
        self._uuids: dict[int, str] = {}
        self._affinity: VcpuPlacement = {}  # replaced whole by the affinity thread; read by collect()
        self._affinity_error: str | None = None
        self._known_domids: set[int] = set()
        self._interested = False  # a view shows placement: read it more often
        self._affinity_refresher = Refresher(self._read_affinity, self._affinity_interval, "xentui-xl-vcpu-list")
        self.cache_qos = xen_cache_qos.XenCacheQos(run)
        self._ncpus = 0
        self._topology: tuple[Pcpu, ...] = ()  # from `xl info -n`, read once by the affinity thread
        self.guests = guests or XenGuests(self.store, run, boot_time=self.boot_time)
        self._sched = sched.XlScheduling(run, self._uuids.get)
        self.scheduling = SchedulingWatch(self._sched.read, "xentui-xl-sched")

    def watch_scheduling(self, on: bool) -> None:
        self.scheduling.watch(on)

    def set_delay(self, delay_s: float) -> None:
        self.scheduling.set_delay(delay_s)

    def set_interest(self, uuid: str | None, all_pcpus: bool = False) -> None:
        """While a view shows placement, `xl vcpu-list` runs every AFFINITY_VIEW_S instead of AFFINITY_EVERY_S."""
        self._interested = uuid is not None or all_pcpus

    def _uuid_of(self, domid: int) -> str:
        """The UUID xenstore gives the domain (``xen-domid-N`` when it has none); cached per domid."""
        uuid = self._uuids.get(domid)
        if uuid is None:
            uuid = self._uuids[domid] = uuid_from_vm_path(self.store.read(f"/local/domain/{domid}/vm") or "", domid)
        return uuid

    def _watch_affinity(self, domids: set[int]) -> None:
        """Keep affinity fresh off the tick: `xl vcpu-list` takes a second on a busy dom0."""
        if not self._affinity_refresher.started:
            self._affinity_refresher.start()
        elif not domids <= self._known_domids:
            self._affinity_refresher.wake()  # a domain appeared: read its placement now
        self._known_domids = domids

    def _affinity_interval(self) -> float:
        return AFFINITY_VIEW_S if self._interested else AFFINITY_EVERY_S

    def _read_affinity(self) -> None:
        try:
            self._affinity = parse_vcpu_list(self._xl("vcpu-list", timeout=30), self._ncpus)
            self._affinity_error = None
        except SourceError as err:
            self._affinity_error = str(err)
        if not self._topology:  # after the affinity, which every frame shows; else one node of every pCPU
            with contextlib.suppress(SourceError):
                self._topology = parse_xl_topology(self._xl("info", "-n", timeout=30))

    def _domain(self, d: int, domid: int, caches: dict[int, CacheSample],
                cpu_by_domid: dict[int, int | None]) -> DomainSample:
        """One libxenstat domain handle (of ``domid``, whose CPU time is in ``cpu_by_domid``) as a sample."""
        lib = self.stat.lib
        key = (domid, self._uuid_of(domid))
        guest = self.guests.get(key)
        facts = guest.facts if guest is not None else UNKNOWN
        flags = "".join(letter if getattr(lib, f"xenstat_domain_{call}")(d) else "-" for letter, call in FLAG_CALLS)
        state = next((st for letter, st in STATE_PRIORITY if letter in flags), DomainState.NOSTATE)
        vcpus: list[VcpuSample] = []
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
            uuid=key[1],
            name=(lib.xenstat_domain_name(d) or b"").decode(errors="replace"),
            domid=domid,
            state=state,
            flags=flags,
            cpu_ns=cpu_by_domid[domid],
            vcpus_current=len(vcpus),
            vcpus_max=len(vcpus),
            mem_kib=lib.xenstat_domain_cur_mem(d) // 1024,
            maxmem_kib=None if max_mem == NO_LIMIT else max_mem // 1024,
            vcpus=tuple(vcpus),
            nets=tuple(nets),
            blocks=tuple(blocks),
            ssid=lib.xenstat_domain_ssid(d),
            cache=caches.get(domid),
            overhead_ns=self.guests.overhead_ns(key, cpu_by_domid),
            domain_type=facts.domain_type,
            device_model=facts.device_model,
            hostdevs=facts.hostdevs,
        )

    def collect(self) -> RawSample:
        lib = self.stat.lib
        with SPAWNING:  # no xl spawn between the clock reading and the counters (see SPAWNING)
            # the pCPUs' idle times just before the stamp, on the read's own clock: after libxenstat's read (long,
            # varying: xenstore) their window differed from the rates' by as much (0.7 s in the Xen lab); between
            # the stamp and libxenstat, the hypercall would stretch the domains' own window instead
            busy = self.cpuinfo.busy_ns() if self.cpuinfo is not None else None
            stamp = self._clock()
            node = lib.xenstat_get_node(self.stat.handle, XENSTAT_ALL)
        if not node:
            raise SourceError("failed to retrieve statistics from libxenstat")
        try:
            ncpus = self._ncpus = int(lib.xenstat_node_num_cpus(node))
            handles = [lib.xenstat_node_domain_by_index(node, i) for i in range(lib.xenstat_node_num_domains(node))]
            domids = [lib.xenstat_domain_id(d) for d in handles]
            self._watch_affinity(set(domids))
            caches, cache_status, l3, rmids = self.cache_qos.caches(domids)
            by_domid = list(zip(domids, handles, strict=True))
            cpu_by_domid = {domid: lib.xenstat_domain_cpu_ns(d) for domid, d in by_domid}
            domains = tuple(self._domain(d, domid, caches, cpu_by_domid) for domid, d in by_domid)
            host = HostSample(
                hostname=self.hostname,
                hypervisor="Xen",
                hypervisor_version=(lib.xenstat_node_xen_version(node) or b"?").decode(),
                uri=self.uri,
                pcpus=ncpus,
                mhz=int(lib.xenstat_node_cpu_hz(node)) // 1_000_000,
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
        self.guests.watch([(d.domid, d.uuid) for d in domains if d.domid is not None])
        live = {d.domid for d in domains}
        for domid in [k for k in self._uuids if k not in live]:
            del self._uuids[domid]
        error = self._affinity_error
        return RawSample(monotonic=stamp, wall=time.time(), host=host, domains=domains,
                         errors=(error,) if error else (),
                         pcpu_busy_ns=busy, scheduling=self.scheduling.current())

    # --- actions (guarded by xentui.actions.perform) ------------------------------

    def current_uuid(self, domain: DomainSample) -> str | None:
        """The UUID the target's domid has now (None when that domid is gone)."""
        if domain.domid is None:
            return None
        vm = self.store.read(f"/local/domain/{domain.domid}/vm")
        return None if vm is None else uuid_from_vm_path(vm, domain.domid)

    def act(self, domain: DomainSample, action: Action, params: ActionParams) -> None:
        try:
            self._xl(*self._action_line(domain, action, params), timeout=action_deadline(action))
        except XlError as err:
            raise ActionError(self.cache_qos.refusal(err.message) if action in CACHE_ACTIONS else str(err)) from None
        except SourceError as err:
            raise ActionError(str(err)) from None
        finally:
            self._affinity_refresher.wake()  # show the new placement (and state) soon
            self.cache_qos.wake()
            self._sched.changed()
            self.scheduling.changed()

    def _action_line(self, domain: DomainSample, action: Action, params: ActionParams) -> list[str]:
        state = self.scheduling.state
        if action is Action.SCHEDULE:
            now = next((d for d in state.domains if d.uuid == domain.uuid), None) if state is not None else None
            return sched.schedule_line(domain, params, now)
        if action is Action.CPUPOOL:
            return sched.cpupool_line(domain, params["pool"], state)
        return action_line(domain, action, params, self._ncpus)

    def close(self) -> None:
        self._affinity_refresher.close()
        self.guests.close()
        self.scheduling.close()
        self.cache_qos.close()
        self.stat.close()
        self.store.close()
        if self.cpuinfo is not None:
            self.cpuinfo.close()
