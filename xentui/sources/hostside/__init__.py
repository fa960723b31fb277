"""What this host's kernel says of each local QEMU/KVM guest: its cgroup's pressure (PSI) and its NUMA placement.

Both are read from files whose roots are :class:`HostPaths` (config keys ``proc_root``, ``cgroup_root``,
``numa_root``, ``qemu_run``; tests point them at trees of their own).  A guest's QEMU pid comes from libvirt's
pid file, its cgroup from the pid's ``0::`` line, once per incarnation.  PSI is three small files a guest, read
in the tick within a time budget (PSI_BUDGET_S; with many guests each is read every few ticks, its rate over
the window between its own two reads).  With the cadence (libvirt's fast path: the live view, batch ``--fast``)
the guests on screen and the one in a detail view are read every tick and the others in PSI_TURNS turns (a
figure read on an earlier tick carries its age); NUMA
(numa_maps can be megabytes, and reading it takes the QEMU's mmap lock) is read in a background thread every
NUMA_REFRESH_S, and only on a host with two nodes or more.  A file that is not there means "not present": no
figure, never an error line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from xentui.model.pressure import NumaSample, PressureSample
from xentui.sources.background import Refresher
from xentui.sources.hostside.files import read_bounded
from xentui.sources.hostside.held import Reread, close_all, hold
from xentui.sources.hostside.numa import node_of_cpu, read_numa
from xentui.sources.hostside.psi import cgroup_of, pressure_files, read_pressure, v2_root
from xentui.sources.on_screen import OnScreen

NUMA_REFRESH_S = 30.0
PSI_BUDGET_S = 0.02  # a tick's PSI reads (three small files a guest: ~60 us on an idle core, 250 loaded)
PSI_TURNS = 5  # with the cadence: the guests off screen read a fifth a tick (each every 5 ticks at least)
RETRY_S = 30.0  # a guest whose pid or cgroup was not found is looked for again after this
MAX_PID = 1 << 22  # Linux's PID_MAX_LIMIT

Key = tuple[str, int | None]  # (uuid, domid): a restarted guest is a new key
Found = tuple[PressureSample | None, NumaSample | None]
NOT_FOUND: Found = (None, None)


@dataclass(frozen=True)
class HostPaths:
    proc: Path = Path("/proc")
    cgroup: Path = Path("/sys/fs/cgroup")
    nodes: Path = Path("/sys/devices/system/node")
    qemu_run: Path = Path("/run/libvirt/qemu")


_configured = HostPaths()


def configure(paths: HostPaths) -> None:
    """The roots every reader made without paths of its own uses from now on (the CLI, from the settings)."""
    global _configured
    _configured = paths


def from_settings(proc_root: str, cgroup_root: str, numa_root: str, qemu_run: str) -> HostPaths:
    return HostPaths(Path(proc_root), Path(cgroup_root), Path(numa_root), Path(qemu_run))


def configured() -> HostPaths:
    return _configured


@dataclass
class _Guest:
    pid: int | None
    cgroup: str | None
    at: float  # monotonic time it was looked for
    files: tuple[tuple[str, Reread], ...] = ()  # (resource, held file) of its pressure files
    pressure: PressureSample | None = None  # its last read
    read: bool = False  # whether its files were ever read (a guest without PSI reads as None each time)

    def close(self) -> None:
        close_all([f for _r, f in self.files])


class HostSide:
    """PSI and NUMA of the local guests, by (uuid, domid)."""

    def __init__(self, paths: HostPaths | None = None, *, numa_interval_s: float = NUMA_REFRESH_S,
                 clock: Callable[[], float] = time.monotonic, turns: bool = False,
                 on_screen: OnScreen | None = None) -> None:
        self._paths = paths
        self._clock = clock
        self.turns = turns  # the guests off screen read in PSI_TURNS turns (those on screen every tick)
        self.on_screen = on_screen or OnScreen()  # (the source's, shared with the monitor's reads in turns)
        self._guests: dict[Key, _Guest] = {}
        self._next = 0  # where the next tick's PSI reads start (past the budget, the guests not read)
        self._numa: dict[Key, NumaSample | None] = {}
        self._lock = threading.Lock()
        self._reading = threading.Lock()  # the held files' reads and their closing (never a closed fd reused)
        self.numa_rounds = 0  # NUMA rounds done (the background thread's)
        self._numa_cost_s = 0.0  # the last round's length: the next waits 10x as long at least (<= 10 % of a core)
        self._numa_thread = Refresher(self._numa_round, lambda: max(numa_interval_s, 10 * self._numa_cost_s),
                                      "xentui-numa")

    @property
    def paths(self) -> HostPaths:
        return self._paths or _configured

    def read(self, running: Iterable[tuple[str, int | None, str]]) -> dict[str, Found]:
        """(uuid, domid, name) of the running guests -> uuid -> (PSI, NUMA), only those with either.  The PSI
        reads stop past PSI_BUDGET_S, and with turns on, past a PSI_TURNS-th of the guests off screen: a guest not
        read keeps its last sample (and its window), and the next tick starts with those left."""
        with self._reading:
            return self._read(list(running))

    def _read(self, guests: list[tuple[str, int | None, str]]) -> dict[str, Found]:
        paths, now = self.paths, self._clock()
        rows, detail = self.on_screen.rows, self.on_screen.detail  # once: the UI's thread may replace them meanwhile
        first, rest = [], guests
        if self.turns and (rows or detail is not None):
            first = [g for g in guests if g[0] in rows or g[0] == detail]
            rest = [g for g in guests if g[0] not in rows and g[0] != detail]
        start = self._next if self._next < len(rest) else 0
        rest = rest[start:] + rest[:start]
        most = -(-len(rest) // PSI_TURNS) if self.turns else len(rest)  # (rounded up)
        deadline, read, read_of_rest, passed = now + PSI_BUDGET_S, 0, 0, len(rest)
        out: dict[str, Found] = {}
        live: dict[Key, _Guest] = {}
        with self._lock:
            numas = self._numa
        for i, (uuid, domid, name) in enumerate(first + rest):
            key = (uuid, domid)
            guest = self._guests.get(key)
            if guest is None or (guest.cgroup is None and now - guest.at >= RETRY_S):
                if guest is not None:
                    guest.close()
                guest = self._find(paths, name, now)
            live[key] = guest
            if guest.cgroup is not None:
                of_rest = i >= len(first)
                due = not of_rest or read_of_rest < most or not guest.read
                # past the budget, one of the others still (the rows on screen never starve them)
                if due and ((at := self._clock()) < deadline or read == 0 or (of_rest and read_of_rest == 0)):
                    guest.pressure = read_pressure(guest.cgroup, guest.files, at, guest.pressure)
                    guest.read = True
                    read += 1
                    read_of_rest += of_rest
                elif of_rest and passed == len(rest):
                    passed = i - len(first)  # the first one of the rest left for the next tick
            pressure = guest.pressure
            numa = numas.get(key)
            if pressure is not None or numa is not None:
                out[uuid] = (pressure, numa)
        self._next = (start + passed) % len(rest) if passed < len(rest) else 0
        for key, gone in self._guests.items():
            if live.get(key) is not gone:
                gone.close()
        self._guests = live
        with self._lock:
            self._numa = {k: v for k, v in self._numa.items() if k in live}
        if any(g.pid is not None for g in live.values()):
            self._numa_thread.start()
        return out

    def _find(self, paths: HostPaths, name: str, now: float) -> _Guest:
        pid = qemu_pid(paths.qemu_run, name)
        cgroup = cgroup_of(paths.proc, pid) if pid is not None else None
        files = pressure_files(v2_root(paths.cgroup), cgroup) if cgroup is not None else ()
        return _Guest(pid, cgroup, now, tuple((resource, held) for resource, path in files
                                              if (held := hold(path)) is not None))

    def _numa_round(self) -> None:
        started = time.monotonic()
        try:
            self._read_numa()
        finally:
            self._numa_cost_s = time.monotonic() - started
            self.numa_rounds += 1

    def _read_numa(self) -> None:
        """Every guest's NUMA placement (the background thread), on a host with two nodes or more."""
        paths, guests = self.paths, dict(self._guests)
        nodes = node_of_cpu(paths.nodes)
        if len(set(nodes.values())) < 2:
            with self._lock:
                self._numa = {}
            return
        found, cgroups = {}, v2_root(paths.cgroup)  # the mount looked up once a round, not once a guest
        for key, guest in guests.items():
            if guest.pid is not None:
                cgroup_dir = cgroups / guest.cgroup.lstrip("/") if guest.cgroup is not None else None
                found[key] = read_numa(paths.proc, guest.pid, nodes, cgroup_dir)
        with self._lock:
            self._numa = found

    def close(self) -> None:
        self._numa_thread.close()
        with self._reading:
            for guest in self._guests.values():
                guest.close()
            self._guests = {}


def qemu_pid(run: Path, name: str) -> int | None:
    """libvirt's ``<run>/<name>.pid`` (None: not there, or not a pid; a name that is not a plain file name)."""
    if not name or "/" in name or "\0" in name or name.startswith(".") or len(name) > 200:
        return None
    read = read_bounded(run / f"{name}.pid", 32)
    text = read[0].strip() if read is not None else ""
    return int(text) if text.isascii() and text.isdecimal() and 0 < int(text) < MAX_PID else None
