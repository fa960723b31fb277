"""libvirt: KVM/QEMU, Xen through libxl, remote URIs, the test driver.

Each tick makes ONE ``getAllDomainStats`` call.  What a driver does not give in bulk is filled
by per-domain calls (:mod:`.fallback`); a hung QEMU monitor marks its row stale (:mod:`.stale`);
every call runs under a deadline (:mod:`xentui.sources.deadlines`).  This module is the facade:
one tick, and the wiring of the parts.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import libvirt

from xentui import guest_config
from xentui.actions import CACHE_ACTIONS, Action, ActionParams
from xentui.model import DomainSample, HostSample, RawSample
from xentui.sources import deadlines, local_machine
from xentui.sources.base import Source, SourceError
from xentui.sources.cache_qos.libvirt import LibvirtCacheQos
from xentui.sources.cache_qos.resctrl import Resctrl
from xentui.sources.guest import SYSFS_PCI, UNKNOWN
from xentui.sources.hostside import NOT_FOUND, Found, HostSide
from xentui.sources.libvirt import actions, connection, jobs, migration
from xentui.sources.libvirt.agent import AgentWatch, OwnConnection
from xentui.sources.libvirt.balloon import StatsPeriod
from xentui.sources.libvirt.bulk_stats import STATS, STATS_FLAGS, active, not_off, parse_stats
from xentui.sources.libvirt.errors import UNSUPPORTED, error_line
from xentui.sources.libvirt.events import Lifecycle
from xentui.sources.libvirt.fallback import PROBE_KEYS, Fallback, Filled, Listed
from xentui.sources.libvirt.fastpath import FastPath
from xentui.sources.libvirt.host import NodeMemory, read_host_facts
from xentui.sources.libvirt.sched import LibvirtScheduling
from xentui.sources.libvirt.stale import HungMonitors
from xentui.sources.local_machine import Memory
from xentui.sources.on_screen import OnScreen
from xentui.sources.placement import PlacementCache, placement_from_vcpus
from xentui.sources.scheduling import SchedulingWatch
from xentui.sources.xen.libxenstat import RunningCount

__all__ = ["LibvirtSource"]

T = TypeVar("T")
# What the tick's job read needs: the domains read, those hanging (by key), the uuids a migration thread reads
JobScope = tuple[list[jobs.Entry], Collection[jobs.Key], Collection[str]]
SLOW_CALL_LIMIT_S = 30.0  # a stats call of a busy (answering) libvirtd is waited for this long


class LibvirtSource(Source):
    """Read one libvirt connection; read-only unless asked otherwise."""

    CAN_ACT = True
    HAS_EVENTS = True
    HAS_PLACEMENT = True
    MIGRATES = True

    def __init__(self, uri: str, *, readonly: bool = True, conn: libvirt.virConnect | None = None,
                 resctrl: Resctrl | None = None, guest_agent: bool | None = None) -> None:
        self.uri = uri
        self.readonly = readonly
        if conn is None:
            self.conn, self.facts = connection.open_within_deadline(uri, readonly)
        else:
            self.conn, self.facts = conn, read_host_facts(conn, uri)
        self.bulk_supported: bool | None = None  # learnt on the first tick
        # This machine's per-CPU load is the hypervisor's when libvirt is local (not on Xen: dom0 is a guest).
        local = local_machine.is_local_uri(uri)
        self._qemu = self.facts.hypervisor in ("QEMU", "KVM")  # cpu.time is QEMU's whole process: OVH(%)
        self._local_pcpus = local and self._qemu
        self._boot_time = local_machine.boot_time() if local else None
        self._xen_count = RunningCount() if self.facts.hypervisor == "Xen" else None
        self.placement = PlacementCache()  # vCPU pCPUs and affinity, read sparingly
        self._bounded_calls = deadlines.OnePerKey()  # a tick's calls besides the stats call
        guest_sysfs = SYSFS_PCI if local and self.facts.hypervisor in ("QEMU", "KVM", "Xen") else None
        self._fallback = Fallback(uri, self.placement, guest_sysfs)
        self._monitors = HungMonitors(self._bounded)
        self._acting = actions.Acting()
        self._replaced: set[str] = set()  # acted on (from another thread): read their placement again
        self._memory = NodeMemory()
        self._abandoned: libvirt.virConnect | None = None  # the dead connection reconnect() let go
        self._lifecycle = Lifecycle()
        self.on_screen = OnScreen()  # the domains looked at: their figures read in turns are read every tick
        self.fast_path = FastPath(uri, self.facts.hypervisor, on_screen=self.on_screen)  # local qemu:///system, root
        self._balloon = StatsPeriod()  # the balloon's stats period, where [guest] allows it
        self._jobs = jobs.JobWatch(self._bounded)  # jobs whoever started them (a save, a dump, a block job, ...)
        # Cache QoS: libvirt's own monitors, else this host's resctrl groups (local QEMU/KVM only).
        # Tests pass their own tree as ``resctrl``; nothing in the environment redirects it.
        self.cache_qos = LibvirtCacheQos(resctrl if resctrl is not None else Resctrl() if self._local_pcpus
                                         else None, self.facts.hypervisor)
        self._sched = LibvirtScheduling(lambda: self.conn, lambda: self.facts.cpumap_size)
        self.scheduling = SchedulingWatch(self._sched.read, "xentui-libvirt-sched")
        # PSI and NUMA of local QEMU guests; PSI in turns where the monitor's figures are
        self.host_side = HostSide(turns=self.fast_path.turns is not None, on_screen=self.on_screen) \
            if self._local_pcpus else None
        # Guest agents (QEMU's; None where the driver is not QEMU's), through a read-write connection of their own
        # when this one is read-only (libvirt refuses agent calls on those): agent.py.
        agents = self._qemu if guest_agent is None else guest_agent
        self._agent_conn = OwnConnection(uri) if readonly and agents else None
        self.agent = AgentWatch(self._agent_conn) if agents else None
        self._stats_calls = deadlines.Stretching(lambda: connection.MIN_DEADLINE_S, SLOW_CALL_LIMIT_S,
                                                 "libvirt statistics", "libvirtd")

    @property
    def missing_groups(self) -> frozenset[str]:
        """The statistics groups this driver leaves out of the bulk call (filled per domain)."""
        return self._fallback.missing_groups

    # --- connection -------------------------------------------------------------

    def reconnect(self) -> None:
        """A new connection after the old one died (libvirtd restarted, link down); events again.

        Over a dead link, opening a new connection and closing the old one can each wait for an
        answer that never comes: both run in daemon threads, the open given CONNECT_DEADLINE_S, the
        close (once the new one is open) not waited for.  Actions still hanging keep their rows stale.
        """
        old = self.conn
        self.conn, self.facts = connection.open_within_deadline(self.uri, self.readonly)
        if old is not self._abandoned:
            self._abandoned = old  # referenced until closed: a dropped virConnect closes itself, blocking
            connection.close_in_background(old)
        self._fallback.reset()
        self._monitors.clear()
        self._bounded_calls.clear()
        self.placement.entries.clear()
        self._jobs.clear()
        self._lifecycle.renew(self.conn)

    def reachable(self) -> bool | None:
        """Cheap check that libvirtd accepts connections again (None: cannot tell for this URI)."""
        return local_machine.daemon_reachable(self.uri, self.readonly)

    def subscribe(self, on_change: Callable[[str], None]) -> str | None:
        """Call ``on_change(uuid)`` on lifecycle and job events (libvirt's events thread); None, or why not."""
        self._lifecycle.also = self._jobs.event_callbacks(on_change)

        def changed(uuid: str) -> None:
            self.fast_path.changed(uuid)
            on_change(uuid)

        return self._lifecycle.subscribe(self.conn, changed)

    def set_interest(self, uuid: str | None, all_pcpus: bool = False) -> None:
        """Read the shown domain's placement every tick, and everyone's pCPU more often while shown."""
        self.placement.watch = uuid
        self.placement.want_all = all_pcpus
        self.on_screen.detail = uuid

    def set_shown(self, uuids: Collection[str]) -> None:
        self.on_screen.rows = frozenset(uuids)

    def watch_scheduling(self, on: bool) -> None:
        self.scheduling.watch(on)

    def set_balloon_stats_period(self, seconds: int) -> str | None:
        if self.readonly:
            return guest_config.READ_ONLY
        self._balloon.period_s = seconds
        return None

    def set_delay(self, delay_s: float) -> None:
        self.scheduling.set_delay(delay_s)

    def watch_guest(self, uuid: str | None) -> None:
        if self.agent is not None:
            self.agent.watch(uuid)

    # --- one tick ---------------------------------------------------------------

    def collect(self) -> RawSample:
        try:
            before = self._stats_calls.started = time.monotonic()
            domains, errors, job_scope, memory, (after, wall) = self._stats_domains()
            before = self._stats_calls.started  # a call abandoned at its deadline read nothing: its time does not count
            domains = self._with_jobs(domains, job_scope)  # after the stamp: a hung job read never skews the window
            host = self.host_sample(memory)
            self.fast_path.begin_turns()  # the next tick's monitor read: never beside this tick's calls
        except libvirt.libvirtError as err:
            raise SourceError(f"lost {self.uri!r}: {error_line(err)}") from None
        notices = [f"{d.name} is {d.stale}" for d in domains if d.stale]
        if hidden := self._hidden_xen_domains(len([d for d in domains if d.active])):
            notices.append(hidden)
        if fast := self.fast_path.notice():
            notices.append(fast)
        if hanging := deadlines.abandoned():
            notices.append(f"{hanging} libvirt call(s) past their deadline have not returned (at "
                           f"{deadlines.CAP} calls running xentui stops asking until some return)")
        return RawSample(monotonic=(before + after) / 2, wall=wall, host=host, domains=domains,
                         errors=errors, notices=tuple(notices),
                         pcpu_busy_ns=local_machine.pcpu_busy_ns() if self._local_pcpus else None,
                         scheduling=self.scheduling.current())

    def _with_jobs(self, samples: tuple[DomainSample, ...], scope: JobScope) -> tuple[DomainSample, ...]:
        """The jobs of the domains that look busy (jobs.py), read after the statistics' time stamp."""
        filled, stale, migrating = scope
        return jobs.with_found(samples, self._jobs.read(filled, stale, migrating))

    def _stats_domains(self) -> tuple[tuple[DomainSample, ...], tuple[str, ...], JobScope, Memory | None,
                                      tuple[float, float]]:
        """The domains, the errors, what the job read needs, the host's memory when the stats call read it, and
        when the reads of the window ended (monotonic, wall)."""
        records, memory = self._bulk()
        if records is None:
            records = self._listed()
            self._fallback.missing_groups = frozenset(PROBE_KEYS)
        elif not self._fallback.learnt:
            self._fallback.learn(records)
        while self._replaced:
            self.placement.forget(self._replaced.pop())
        filled, errors, unfilled = self._fallback.fill_all(records)
        hung = self._acting.hung()
        stale = self._monitors.stale(filled) | unfilled | {key: hung[key[0]] for _d, _r, key in filled
                                                           if key[0] in hung}
        if "vcpu" not in self.missing_groups:  # else the fallback read the placement already
            self._read_placement([entry for entry in filled if entry[2] not in stale])
        named = [(dom.name(), rec, key) for dom, rec, key in filled]
        caches = self.cache_qos.caches([(name, rec, key[0]) for name, rec, key in named if active(rec)])
        devices = self._fallback.devices
        # the agents' facts (read in their thread) given as each sample is built, not by a copy of every sample
        facts = None if self.agent is None else self.agent.handed({k[0]: d for d, r, k in filled if active(r)})
        ended = time.monotonic(), time.time()  # the window's reads are done: the rest is Python, and PSI's own reads
        # PSI and NUMA (hostside), read after that stamp: PSI's rates are over its own reads' window, within its budget
        found: dict[str, Found] = {} if self.host_side is None else self.host_side.read(
            (key[0], key[1], name) for name, rec, key in named if not_off(rec))
        samples = tuple(parse_stats(key[0], name, key[1], rec, self.placement.get(key), caches.get(key[0]),
                                    stale.get(key, ""), self._qemu, devices[key].guest if key in devices else UNKNOWN,
                                    agent=facts(key[0]) if facts is not None and not_off(rec) else None,
                                    host_side=found.get(key[0], NOT_FOUND))
                        for name, rec, key in named)
        moving = migration.migrating()  # once a tick: the jobs shown here and those jobs.py leaves alone agree
        samples = migration.with_jobs(samples, self.uri, moving)
        errors.extend(self._balloon.apply((dom, name, key, devices[key].balloon_period)
                                          for (dom, rec, key), (name, _r, _k) in zip(filled, named, strict=True)
                                          if key in devices and key not in stale and active(rec)))
        live = {key for _dom, _rec, key in filled}
        for key in [k for k in list(self._fallback.devices) if k not in live]:
            self._fallback.devices.pop(key, None)
        self._monitors.prune(live)
        self._balloon.prune(live)
        self.placement.prune(live)
        return samples, tuple(errors), (filled, stale, moving), memory, ended

    def host_sample(self, memory: Memory | None = None) -> HostSample:
        """The host's figures; ``memory``: as the tick's statistics call read it (None: read here)."""
        l3_caches, rmids = self.cache_qos.host_facts(self.facts.l3_caches)
        return self.facts.sample(self.uri, self._host_memory(memory), boot_time=self._boot_time,
                                 cache_monitoring=self.cache_qos.status, l3_caches=l3_caches, cache_rmids=rmids)

    def _host_memory(self, read: Memory | None) -> Memory:
        """(total, free, available) KiB of the hypervisor's host: ``read`` with the statistics, else asked now."""
        if self._local_pcpus:  # this machine is the host: /proc/meminfo, as libvirt reads it, without a call
            return local_machine.memory_kib()
        if read is not None:
            return self._memory.took(read)
        return self._memory.now(lambda: self._bounded("memory", lambda: self._memory.read(self.conn)), self.uri)

    def _read_placement(self, filled: Filled) -> None:
        """The placement of each domain the placement cache says is due: the kernel's (fast path), else one
        ``vcpus()`` call."""
        running = {key: dom for dom, rec, key in filled if active(rec)}
        for key in self.placement.due(list(running)):
            vcpus = self.fast_path.placement(key)  # the kernel's, where the fast path read the guest this tick
            if vcpus is None:
                try:
                    infos, maps = self._bounded(("vcpus", key), running[key].vcpus)
                except (libvirt.libvirtError, deadlines.NoAnswer):
                    infos, maps = [], []  # gone, or unreadable here: try again at the slow cadence, not every tick
                vcpus = placement_from_vcpus(infos, maps)
            self.placement.store(key, vcpus)

    def _hidden_xen_domains(self, listed: int) -> str | None:
        """On a Xen dom0, say how many running domains libvirt's libxl driver does not list."""
        return self._xen_count.hidden(listed) if self._xen_count is not None else None

    # --- calls under deadlines --------------------------------------------------------

    def _bulk(self) -> tuple[Listed | None, Memory | None]:
        """The bulk statistics and the host's memory read with them; (None, None) when the driver has no bulk call."""
        if self.bulk_supported is False:
            return None, None
        try:
            read = self._within_deadline(functools.partial(self._stats_and_memory, self.conn), self._ask_again)
        except libvirt.libvirtError as err:
            if err.get_error_code() not in UNSUPPORTED:
                raise
            self.bulk_supported = False
            return None, None
        self.bulk_supported = True
        return read

    def _ask_again(self, error: Exception) -> bool:
        """Whether a failed bulk call is made once more: a guest torn down inside it fails it whole ("Unable to read
        from monitor", seen 1 in 10 calls under a storm of destructions); asked again, that guest is no longer
        listed.  Not when the driver lacks the call, nor when the link is down (the client's own view: no call)."""
        return (isinstance(error, libvirt.libvirtError) and error.get_error_code() not in UNSUPPORTED
                and self.conn.isAlive() == 1)

    def _stats_and_memory(self, conn: libvirt.virConnect) -> tuple[Listed, Memory | None]:
        """The bulk statistics, then the host's memory in the same bounded call: one thread a tick, not two
        (None: read locally, or it failed here; then it is asked on its own, as without a bulk call)."""
        records = self.fast_path.stats(conn, STATS, STATS_FLAGS)
        if self._local_pcpus:
            return records, None
        try:
            return records, self._memory.read(conn)
        except libvirt.libvirtError:
            return records, None

    def _listed(self) -> Listed:
        """Fallback when there is no bulk call: every domain, with no statistics yet."""
        try:
            doms = deadlines.call(lambda: self.conn.listAllDomains(0), deadlines.QUICK_S, "list domains")
        except deadlines.NoAnswer as err:
            raise SourceError(f"{self.uri!r}: {err}") from None
        return [(dom, {}) for dom in doms]

    def _within_deadline(self, call: Callable[[], T], again: Callable[[Exception], bool] = deadlines.never) -> T:
        """``call()`` under the stats call's stretching deadline (:class:`deadlines.Stretching`), made once more
        after an error ``again`` accepts; at the process-wide cap, or when libvirtd does not answer twice, the
        source is reported unreachable."""
        try:
            return self._stats_calls.call(call, self._answers, again)
        except deadlines.NoAnswer as err:
            raise SourceError(f"{self.uri!r}: {err}") from None

    def _bounded(self, key: object, call: Callable[[], T], deadline_s: float | None = None) -> T:
        """``call()`` given ``deadline_s`` (None: MIN_DEADLINE_S, read now), for the calls of a tick besides the
        stats call (a host's memory, a domain's control info or vCPUs), any of which can hang behind a stuck QEMU
        monitor.  Raises NoAnswer when it does not return in time, or while the last such call (same ``key``) is
        still running."""
        return self._bounded_calls.call(key, call, connection.MIN_DEADLINE_S if deadline_s is None else deadline_s)

    def _answers(self) -> bool:
        """Whether libvirtd answers a trivial call within a second or two."""
        try:
            deadlines.call(self.conn.getLibVersion, connection.MIN_DEADLINE_S)
        except (deadlines.NoAnswer, libvirt.libvirtError):
            return False
        return True

    # --- actions (guarded by xentui.actions.perform) ------------------------------

    def current_uuid(self, domain: DomainSample) -> str | None:
        return self._acting.current_uuid(self.conn, domain)

    def act(self, domain: DomainSample, action: Action, params: ActionParams) -> None:
        """Do ``action`` under ACTION_DEADLINE_S.  One that does not answer goes on in the background, may
        still take effect, and marks the domain's row stale until it returns; ActionError says so."""
        work: Callable[[], Any]
        if action is Action.MIGRATE:  # minutes, not seconds: its own thread and deadline (migration.py)
            try:
                migration.migrate(self.conn, domain, params["dest_uri"], params["destination"])
            finally:
                self._replaced.add(domain.uuid)
            return
        if action in CACHE_ACTIONS:
            work = functools.partial(self.cache_qos.act, domain, action)
        else:
            work = functools.partial(actions.act, self.conn, domain, action, params, self.facts.cpumap_size)
        try:
            self._acting.run(domain, action, work)
        finally:
            self._replaced.add(domain.uuid)  # show the new placement on the next tick
            if action is Action.SCHEDULE:
                self._sched.forget(domain.uuid)
                self.scheduling.changed()

    def close(self, wait_s: float = 1.0) -> None:
        """Let go of the connection; over a dead link that waits for answers that never come, so the
        goodbye runs in a daemon thread, waited for ``wait_s`` at most (quitting never hangs)."""
        with contextlib.suppress(deadlines.NoAnswer):
            deadlines.call(self._close_now, wait_s, "close the connection")

    def _close_now(self) -> None:
        self.scheduling.close()
        if self.host_side is not None:
            self.host_side.close()
        if self.agent is not None:
            self.agent.close()  # its own connection too, once no call runs on it
        self._balloon.close()
        self._lifecycle.deregister(self.conn)
        self.fast_path.close()
        if self._xen_count is not None:
            self._xen_count.close()
        if self.conn is not self._abandoned:  # a failed reconnect left the old one, already being closed
            self._abandoned = self.conn
            connection.close_quietly(self.conn)

