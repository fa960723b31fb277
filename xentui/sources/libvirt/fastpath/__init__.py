"""The local KVM fast path: cpu.time, vcpu.N.time/delay, balloon.rss and net.N.* read from the kernel's files
for the guests of this host's ``qemu:///system``, in place of libvirt's CPU_TOTAL, VCPU and INTERFACE groups.

Each guest is mapped once per incarnation (uuid, domid): its QEMU pid from libvirt's pid file, proven by the
``-uuid`` on that process's command line, held as a directory fd on /proc/PID (a pid reused by another process
reads as nothing, never as the guest: kernel.py); its ``CPU n/KVM`` threads; its cgroup's CPU time file; its
taps from the domain XML.  The map is made again after a lifecycle event or when a read fails, never every tick;
and every REMAP_S a guest is looked at (one stat of its threads) and mapped again where something may have
been hot-plugged: its number of threads changed (a vCPU's thread came or went), or a network device that no
mapped guest owns appeared on the host (a NIC, whose tap only the XML names); in any case every FULL_REMAP_S.
A guest that cannot be mapped (or whose read fails) gets those groups from libvirt, in one call for all such.
"""

from __future__ import annotations

import math
import os
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import libvirt

from xentui.limits import MAX_DEVICES, MAX_VCPUS
from xentui.model import NetSample
from xentui.sources import hostside, local_machine
from xentui.sources.cache_qos.libvirt import Record
from xentui.sources.hostside import held as held_files
from xentui.sources.hostside.files import read_bounded
from xentui.sources.hostside.held import Reread, close_all, hold
from xentui.sources.libvirt.bulk_stats import KERNEL_AT, KERNEL_FIGURES, KernelFigures, active
from xentui.sources.libvirt.fallback import Listed, key_of
from xentui.sources.libvirt.fastpath import kernel
from xentui.sources.libvirt.fastpath.turns import MONITOR_GROUPS, Turns
from xentui.sources.on_screen import OnScreen
from xentui.sources.placement import Key, VcpuPlace

FAST_GROUPS = (libvirt.VIR_DOMAIN_STATS_CPU_TOTAL | libvirt.VIR_DOMAIN_STATS_VCPU
               | libvirt.VIR_DOMAIN_STATS_INTERFACE)
SYSTEM_URIS = ("qemu:///system", "qemu+unix:///system", "kvm:///system")
SHARES_HOST_VIEW = ("direct",)  # libvirt's virDomainNetTypeSharesHostView: counters not swapped (all else: swapped)
REMAP_S = 30.0  # a guest is looked at this long after (hot-plugged vCPUs and NICs; a refusal retried) ...
REMAP_TICKS = 30  # ... at most a 30th of the guests a tick (a remap reads libvirt's XML: never all on one tick)
FULL_REMAP_S = 600.0  # and mapped again this long after, whatever it looks like
TAP_TYPES = ("bridge", "network", "ethernet", "direct")  # a host device whose counters libvirt reads

_enabled = True
_turns = False


def configure(enabled: bool, turns: bool = False) -> None:
    """For every source made from now on: ``--no-fast-path`` (``enabled`` False: libvirt gives everything);
    ``turns`` (``--fast``): the QEMU monitor's figures read every tick only for the rows shown, the others' in
    turns."""
    global _enabled, _turns
    _enabled, _turns = enabled, turns


@dataclass
class Guest:
    """One mapped incarnation: what each tick reads, its files held open (held.py: bound to the process)."""

    dirfd: int  # /proc/PID, bound to the proven QEMU process
    vcpus: tuple[kernel.VcpuFiles, ...]
    vcpu_max: int
    cpu: kernel.CpuFile  # the cgroup's CPU time, else utime + stime of the process (as libvirt then)
    statm: Reread
    taps: tuple[tuple[str, bool], ...]  # (host device, swapped: the guest's rx is the tap's tx)
    threads: int  # its process's threads when mapped (kernel.thread_links): a vCPU hot-plugged changes them
    since: float  # when it was mapped (monotonic)

    def close(self) -> None:
        close_all([self.cpu.file, self.statm, *(f for v in self.vcpus for f in (v.stat, v.schedstat))])
        os.close(self.dirfd)
        held_files.BUDGET.give()


@dataclass
class Paths:
    proc: Path | None = None  # None: the configured hostside roots
    cgroup: Path | None = None
    qemu_run: Path | None = None
    ticks_per_s: int = field(default_factory=lambda: os.sysconf("SC_CLK_TCK"))
    page_kib: int = field(default_factory=lambda: os.sysconf("SC_PAGE_SIZE") // 1024)


def why_off(uri: str, hypervisor: str, euid: int | None = None) -> str | None:
    """None when the fast path may run for ``uri``, else why not (one line; "" when there is nothing to say:
    turned off, or not a local QEMU)."""
    if not _enabled or hypervisor not in ("QEMU", "KVM") or not local_machine.is_local_uri(uri):
        return ""
    if uri.rstrip("/") not in SYSTEM_URIS:
        return "fast path off: only for qemu:///system (its pid files and cgroups)"
    if (os.geteuid() if euid is None else euid) != 0:
        return "fast path off: not root (the QEMU processes' /proc files need root)"
    return None


class FastPath:
    """The map and the per-tick reads; ``on`` False: a plain ``getAllDomainStats``."""

    def __init__(self, uri: str, hypervisor: str, paths: Paths | None = None, euid: int | None = None,
                 on_screen: OnScreen | None = None) -> None:
        self.off_reason = why_off(uri, hypervisor, euid)
        self.on = self.off_reason is None
        self.paths = paths or Paths()
        self._guests: dict[Key, Guest | str] = {}  # mapped, or why not
        self._mapped_at: dict[Key, float] = {}  # when (monotonic): mapped again after REMAP_S, a few a tick
        self._changed: set[str] = set()  # uuids with a lifecycle event since the last tick
        self._devices: frozenset[str] | None = None  # the host's network devices when last read (/proc/net/dev)
        self._new_device_at = -math.inf  # when a device no mapped guest owned appeared: those mapped before, again
        self._lock = threading.Lock()
        self._busy = threading.Lock()  # held by the tick that reads: the map is one thread's at a time
        self.fast = self.active = 0  # guests read fast / running, on the last tick
        self.read_fast: frozenset[str] = frozenset()  # the uuids of those read fast on the last tick
        self.turns = Turns(on_screen) if self.on and _turns else None  # the monitor's figures in turns (turns.py)
        self.bypassed = False  # a tick read everything from libvirt (the map busy): the turns start afresh

    def changed(self, uuid: str) -> None:
        """A lifecycle event (libvirt's events thread): map the guest again on the next tick."""
        with self._lock:
            self._changed.add(uuid)

    def stats(self, conn: libvirt.virConnect, groups: int, flags: int) -> Listed:
        """``getAllDomainStats``, the fast groups read from the kernel for the mapped guests and asked of
        libvirt (one call) for the others.  Runs in the stats call's thread: no libvirt lock held while reading."""
        if not self.on or not self._busy.acquire(blocking=False):  # off, or an abandoned tick still reads
            self.bypassed = True  # every figure read whole: the turns' kept ones are older than these
            return conn.getAllDomainStats(groups, flags)  # type: ignore[no-any-return]
        try:
            return self._stats(conn, groups, flags)
        finally:
            self._busy.release()

    def _stats(self, conn: libvirt.virConnect, groups: int, flags: int) -> Listed:
        in_turns = MONITOR_GROUPS if self.turns is not None else 0
        records: Listed = conn.getAllDomainStats(groups & ~FAST_GROUPS & ~in_turns, flags)
        with self._lock:
            changed, self._changed = self._changed, set()
        running = [(dom, rec, key_of(dom)) for dom, rec in records if active(rec)]
        self._forget({key for _d, _r, key in running}, changed)
        if self.turns is not None:
            if self.bypassed:
                self.bypassed = False
                self.turns.prune(())
            self.turns.prune({key for _d, _r, key in running})
            self.turns.read(conn, running, [(dom, rec) for dom, rec in records if not active(rec)], groups, flags)
        net: dict[str, tuple[int, ...]] | None = None
        slow = []
        now = time.monotonic()
        remap = self._due_remap(now, len(running))
        for dom, _rec, key in running:  # libvirt's calls first: the reads below follow each other closely
            guest = self._guests.get(key)
            if guest is not None and key in remap:  # its vCPUs or NICs may have been hot-plugged, or a refusal
                if isinstance(guest, Guest):  # no longer holds
                    if self._holds(guest, now):
                        self._mapped_at[key] = now  # looked at: kept as it is
                        continue
                    guest.close()
                guest = None
            if guest is None:
                self._guests[key] = self._map(dom, key)
                self._mapped_at[key] = now
        for dom, rec, key in running:
            guest = self._guests[key]
            if isinstance(guest, Guest):
                if guest.taps and net is None:
                    net = self._net_dev()
                if fill(rec, guest, net or {}, self.paths):
                    continue
                guest.close()
                self._guests[key] = "a read failed (the QEMU process ended?)"
                self._mapped_at[key] = now
            slow.append((dom, rec))
        if remap:  # a NIC hot-plugged shows as a new device on the host: the guests are looked at again soon
            self._look_for_new_devices(self._net_dev() if net is None else net, now)
        if slow:  # with their state now: one whose QEMU has just ended may be shut off (its cpu.time libvirtd's)
            got = {dom.UUIDString(): rec for dom, rec in conn.domainListGetStats(
                [dom for dom, _rec in slow], groups & FAST_GROUPS | libvirt.VIR_DOMAIN_STATS_STATE, flags)}
            for dom, rec in slow:
                rec.update(got.get(dom.UUIDString(), {}))
        self.fast, self.active = len(running) - len(slow), len(running)
        slow_uuids = {dom.UUIDString() for dom, _rec in slow}
        self.read_fast = frozenset(key[0] for _d, _r, key in running if key[0] not in slow_uuids)
        return records

    def placement(self, key: Key) -> dict[int, VcpuPlace] | None:
        """A guest read fast this tick: each vCPU's pCPU and hard affinity, read where libvirt's ``vcpus()``
        reads them, without its four calls; None when libvirt must be asked (not read fast, a thread gone, or
        the map busy with an abandoned tick)."""
        if key[0] not in self.read_fast or not self._busy.acquire(blocking=False):
            return None
        try:
            guest = self._guests.get(key)
            if not isinstance(guest, Guest):
                return None
            vcpus: dict[int, VcpuPlace] = {}
            for files in guest.vcpus:
                hard = kernel.affinity(guest.dirfd, files)
                # Read after the affinity through the held file: still the thread whose status was read (a tid
                # is given again only after its thread ended, and then its held stat fails).
                fields = kernel.stat_fields(files.stat)
                if hard is None or not fields:
                    return None
                vcpus[files.number] = (kernel.last_cpu(fields), hard)
            return vcpus
        finally:
            self._busy.release()

    def begin_turns(self) -> None:
        """Begin the monitor read of the next tick (turns.py), once this tick's libvirt calls are done."""
        if self.turns is not None:
            self.turns.begin()

    def _holds(self, guest: Guest, now: float) -> bool:
        """Whether a mapped guest's map still holds: nothing about it may have been hot-plugged since."""
        return (now - guest.since < FULL_REMAP_S and guest.since > self._new_device_at
                and kernel.thread_links(guest.dirfd) == guest.threads)

    def _look_for_new_devices(self, net: dict[str, tuple[int, ...]], now: float) -> None:
        """A network device that was not on the host and that no mapped guest owns: every guest mapped before now
        is mapped again, a REMAP_TICKS-th a tick from the next (which guest's NIC it is, only the XML tells)."""
        devices = frozenset(net)
        if self._devices is not None and not devices <= self._devices:
            owned = {dev for g in self._guests.values() if isinstance(g, Guest) for dev, _swapped in g.taps}
            if devices - self._devices - owned:
                self._new_device_at = time.monotonic()  # (after this tick's maps: one may have read its XML before)
                self._mapped_at = {key: min(at, now - REMAP_S) for key, at in self._mapped_at.items()}
        self._devices = devices

    def _due_remap(self, now: float, running: int) -> set[Key]:
        """The guests mapped again this tick: those mapped longest ago, past REMAP_S, a REMAP_TICKS-th at most."""
        due = sorted((at, key) for key, at in self._mapped_at.items() if now - at >= REMAP_S)
        return {key for _at, key in due[:math.ceil(running / REMAP_TICKS)]}

    def notice(self) -> str | None:
        """The header's line: whether the fast path is on, for how many guests, and why not for one."""
        if not self.on:
            return self.off_reason or None
        if not self.active:
            return None
        refused = sorted(why for why in list(self._guests.values()) if isinstance(why, str))
        line = f"fast path: {self.fast} of {self.active} guests' CPU, vCPU, RSS, net from /proc (--no-fast-path)"
        if self.turns is not None:
            line += "; memory and disks of the rows off screen in turns (dim)"
        return line + (f"; not for {len(refused)}: {refused[0]}" if refused else "")

    def _forget(self, live: set[Key], changed: set[str]) -> None:
        for key in [k for k in self._guests if k not in live or k[0] in changed]:
            guest = self._guests.pop(key)
            self._mapped_at.pop(key, None)
            if isinstance(guest, Guest):
                guest.close()

    def _net_dev(self) -> dict[str, tuple[int, ...]]:
        read = read_bounded(self._proc() / "net" / "dev", kernel.MAX_NET_DEV)
        return kernel.net_dev(*read) if read is not None else {}

    def _proc(self) -> Path:
        return self.paths.proc or hostside.configured().proc

    def _map(self, dom: libvirt.virDomain, key: Key) -> Guest | str:
        """Prove and map one running guest, or say why not (then libvirt gives its figures)."""
        configured = hostside.configured()
        name = dom.name()
        pid = hostside.qemu_pid(self.paths.qemu_run or configured.qemu_run, name)
        if pid is None:
            return f"{name}: no pid in libvirt's pid file"
        if not held_files.BUDGET.take():  # the guest keeps its /proc/PID fd: one of the held descriptors
            return f"{name}: no file descriptor left to hold its process (the open-files limit)"
        dirfd = kernel.open_process(self._proc(), pid)
        if dirfd is None:
            held_files.BUDGET.give()
            return f"{name}: its pid {pid} is not running"
        try:
            guest = self._prove(dom, key, name, pid, dirfd, self.paths.cgroup or configured.cgroup)
        except libvirt.libvirtError:
            guest = f"{name}: its XML could not be read"
        if not isinstance(guest, Guest):
            os.close(dirfd)
            held_files.BUDGET.give()
        return guest

    def _prove(self, dom: libvirt.virDomain, key: Key, name: str, pid: int, dirfd: int,
               cgroup: Path) -> Guest | str:
        if kernel.cmdline_uuid(dirfd) != key[0].lower():
            return f"{name}: pid {pid} of its pid file is not its QEMU (no -uuid {key[0]})"
        links = kernel.thread_links(dirfd)  # before the listing: a thread that comes after changes it
        threads = kernel.vcpu_threads(dirfd)
        if not threads:
            return f"{name}: no 'CPU n/KVM' threads in pid {pid} (TCG, or not KVM)"
        vcpu_max, taps = from_xml(dom.XMLDesc(0))
        if vcpu_max is None or taps is None or sorted(threads) != list(range(len(threads))) \
                or len(threads) > vcpu_max:
            return f"{name}: its vCPU threads or interfaces do not match its XML"
        if links is None or kernel.cmdline_uuid(dirfd) != key[0].lower():  # still the same process after the XML
            return f"{name}: pid {pid} ended while being mapped"
        return _held(dirfd, threads, vcpu_max, kernel.cgroup_cpu_file(dirfd, cgroup), taps, links) \
            or f"{name}: pid {pid} ended while being mapped"

    def close(self) -> None:
        if self._busy.acquire(timeout=1.0):  # else a hung tick still holds the fds: they go with the process
            try:
                self._forget(set(), set())
            finally:
                self._busy.release()


def _held(dirfd: int, threads: dict[int, str], vcpu_max: int, cpu_file: str | None,
          taps: tuple[tuple[str, bool], ...], links: int) -> Guest | None:
    """The guest's files opened to be read each tick; None when one is gone already (the process ended)."""
    opened: list[Reread | None] = []

    def held(name: str, at: int | None = dirfd) -> Reread | None:
        opened.append(file := hold(name, at))
        return file

    cpu = held(cpu_file, None) if cpu_file is not None else held("stat")
    statm = held("statm")
    vcpus = [kernel.VcpuFiles(n, held(f"{task}/stat"), held(f"{task}/schedstat"), task)  # type: ignore[arg-type]
             for n, task in sorted(threads.items())]
    if None in opened or cpu is None or statm is None:
        close_all(opened)
        return None
    kind = Path(cpu_file).name if cpu_file is not None else "stat"
    return Guest(dirfd, tuple(vcpus), vcpu_max, kernel.CpuFile(cpu, kind), statm, taps, links, time.monotonic())


def from_xml(xml: str) -> tuple[int | None, tuple[tuple[str, bool], ...] | None]:
    """(maximum vCPUs, (tap, swapped) of each interface) of a domain XML; None for a part that cannot be read
    (an interface with no host device of its own: vhost-user, hostdev, user networking)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None
    text = (root.findtext("./vcpu") or "").strip()
    vcpu_max = int(text) if text.isascii() and text.isdecimal() and 0 < int(text) <= MAX_VCPUS else None
    taps = []
    for iface in root.findall("./devices/interface")[:MAX_DEVICES]:
        kind, target = iface.get("type", ""), iface.find("target")
        dev = target.get("dev", "") if target is not None else ""
        if kind not in TAP_TYPES or not dev or (target is not None and target.get("managed") == "no"):
            return vcpu_max, None  # (an unmanaged ethernet tap may be a macvtap: libvirt would not swap it)
        taps.append((dev, kind not in SHARES_HOST_VIEW))
    return vcpu_max, tuple(taps)


def fill(rec: Record, guest: Guest, net: dict[str, tuple[int, ...]], paths: Paths) -> bool:
    """Write the fast groups' figures into ``rec``: libvirt's names for the guest's own (cpu.time, vcpu.current,
    ...), its vCPUs' and taps' figures typed (KernelFigures: parse_stats takes them as they are); False
    when any read failed (then nothing of it is kept: the guest's figures come from libvirt)."""
    cpu = kernel.cpu_ns(guest.cpu, paths.ticks_per_s)
    rss = kernel.rss_kib(guest.statm, paths.page_kib)
    if cpu is None or rss is None:
        return False
    vcpus = []
    ticks_per_s = paths.ticks_per_s
    for files in guest.vcpus:
        times = kernel.vcpu_times(files, ticks_per_s)
        if times is None:
            return False
        vcpus.append((files.number, times[0], times[1]))
    nets = []
    for dev, swapped in guest.taps:
        c = net.get(dev)
        if c is None:
            return False
        nets.append(NetSample(dev, c[4], c[5], c[6], c[7], c[0], c[1], c[2], c[3]) if swapped
                    else NetSample(dev, *c))
    rec["cpu.time"] = cpu
    rec["vcpu.current"] = len(vcpus)
    rec["vcpu.maximum"] = guest.vcpu_max
    rec["net.count"] = len(nets)
    rec[KERNEL_FIGURES] = KernelFigures(tuple(vcpus), tuple(nets))
    rec[KERNEL_AT] = time.monotonic()  # the rates span these reads
    if "balloon.rss" in rec:  # the monitor answered (this tick, or in turns at its last read); where it did not,
        rec["balloon.rss"] = rss  # its absence marks the row stale (stale.py): the kernel's never hides a hung QEMU
    return True
