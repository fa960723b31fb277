"""The QEMU monitor's figures in turns, off the tick: BALLOON and BLOCK cost a monitor round trip per guest (5.7 ms
each at 100 guests on this nested-KVM host, bench/tick_profile.py: most of what was left of a fast-path tick), so
they are read in the background, one read from a tick to the next (begun once the tick's own calls are done): every
time, the rows on screen and the domain in a detail view; the others in turns, as many as the budget allows, the
longest unread first.  The tick writes in the figures last read and never waits on a monitor (but for the first
read, so the first frame has them).

Each guest's figures carry when they were read (``MONITOR_AT``: the model's rates span two reads, the table shows
the age of those older than a tick); none older than MAX_AGE_S.  A guest whose monitor did not answer (NOWAIT: its
job is held; a hung QEMU) gets what libvirt gave without it (its configured memory, its disks' names), no stamp:
stale.py judges it as before, and it is asked again at the next read.  Shut-off domains are asked at every read
too: libvirt answers from their configuration, without a monitor.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass

import libvirt

from xentui.sources import deadlines
from xentui.sources.cache_qos.libvirt import Record
from xentui.sources.libvirt.bulk_stats import MONITOR_AT
from xentui.sources.libvirt.stale import MONITOR_KEYS
from xentui.sources.on_screen import OnScreen
from xentui.sources.placement import Key

MONITOR_GROUPS = libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_BLOCK
BUDGET_S = 0.040  # the monitor reads of one tick, the rows shown included
MAX_TURNS = 30  # every guest is read at least once in this many ticks, whatever the budget ...
MAX_AGE_S = 30.0  # ... and this many seconds (a hung monitor off screen is found within it)
FIRST_COST_S = 0.003  # a monitor read's cost per guest until one is measured
FIRST_WAIT_S = 2.0  # the first read is waited for (the first frame has every figure): as long as a tick's call
# A read running past max(HUNG_MIN_S, HUNG_FACTOR x its expected length) is set aside: a stopped QEMU's monitor
# holds it (NOWAIT skips only a job another call holds; it took this one's), so the next read begins without
# waiting, skips that guest (its job is held) and stale.py judges it.  One set aside at a time: never a pile.
HUNG_MIN_S = 2.0
HUNG_FACTOR = 4.0
Entry = tuple[libvirt.virDomain, Record, Key]


class Turns:
    """Which guests' monitor figures are read, in the background between ticks, and the last ones read."""

    def __init__(self, on_screen: OnScreen | None = None) -> None:
        self.on_screen = on_screen or OnScreen()  # (the source's, shared with the PSI reads in turns)
        self._last: dict[Key, tuple[Record, float]] = {}  # each guest's last monitor figures, and when read
        self._off: dict[str, Record] = {}  # the shut-off domains' configured figures, by uuid
        self._silent: dict[Key, Record] = {}  # what libvirt gave without the monitor, of the guests not answering
        self._cost_s = FIRST_COST_S  # one guest's monitor read, smoothed over the reads
        self._pending: deadlines.Call[Read] | None = None  # the read between this tick and the next
        self._pending_since = 0.0
        self._pending_deadline = HUNG_MIN_S
        self._hung: deadlines.Call[Read] | None = None  # a read set aside, still running (never taken)
        self._begun = False  # whether a read was ever begun
        self._next: tuple[libvirt.virConnect, list[Entry], list[tuple[libvirt.virDomain, Record]], int, int] | None \
            = None  # what the next read is of (begin())
        self._lock = threading.Lock()  # read() runs in a tick's stats thread, begin() in the tick's own

    def due(self, running: list[Entry]) -> list[Entry]:
        """The guests read next: those shown or never read (or not answering), then the longest unread, as many
        as the budget leaves room for (at least a MAX_TURNS-th of them)."""
        wants, last = self.on_screen.wants, self._last
        too_old = time.monotonic() - MAX_AGE_S
        first = [e for e in running if wants(e[2][0]) or e[2] not in last or last[e[2]][1] <= too_old]
        if len(first) == len(running):
            return first
        chosen = {e[2] for e in first}
        rest = sorted((e for e in running if e[2] not in chosen), key=lambda e: last[e[2]][1])
        room = int(max(0.0, BUDGET_S - len(first) * self._cost_s) / self._cost_s)
        return first + rest[:max(1, math.ceil(len(rest) / MAX_TURNS), room)]

    def read(self, conn: libvirt.virConnect, running: list[Entry], off: list[tuple[libvirt.virDomain, Record]],
             groups: int, flags: int) -> None:
        """Write into the records the figures last read (the monitor groups of the guests due, and of the domains
        shut off); the next read is begun by :meth:`begin`, once the tick's own calls are done.  The tick never
        waits on a monitor, but for the very first read, waited for up to FIRST_WAIT_S."""
        with self._lock:
            pending = self._pending
            if pending is not None and pending.done():
                self._take(pending)
                pending = self._pending = None
            elif pending is not None and time.monotonic() - self._pending_since > self._pending_deadline and \
                    (self._hung is None or self._hung.done()):
                pending.abandoned = True  # told as a call past its deadline while it runs; its figures never taken
                self._hung, pending, self._pending = pending, None, None
            self._next = (conn, running, off, groups, flags) if pending is None else None
            if pending is None and not self._begun:
                self._start(conn, running, off, groups, flags)
                if self._pending is not None:
                    try:
                        self._pending.wait(FIRST_WAIT_S)
                    except deadlines.NoAnswer:
                        self._next = None  # (it goes on: taken at a tick after it ends)
                    else:
                        self._take(self._pending)
                        self._pending = None
            for dom, rec in off:
                rec.update(self._off.get(dom.UUIDString(), {}))
            for _dom, rec, key in running:
                if (kept := self._last.get(key)) is not None:
                    rec.update(kept[0])
                    rec[MONITOR_AT] = kept[1]
                elif (partial := self._silent.get(key)) is not None:
                    rec.update(partial)

    def begin(self) -> None:
        """Begin the read whose figures the next tick writes in: after this tick's own libvirt calls (its job
        reads wait on a domain's job, which the read holds a moment per guest), so they never overlap."""
        with self._lock:
            args, self._next = self._next, None
            if args is not None and self._pending is None:
                self._start(*args)

    def _start(self, conn: libvirt.virConnect, running: list[Entry], off: list[tuple[libvirt.virDomain, Record]],
               groups: int, flags: int) -> None:
        self._begun = True
        due = [(dom, key) for dom, _rec, key in self.due(running)]
        offs = [dom for dom, _rec in off]
        self._pending_deadline = max(HUNG_MIN_S, HUNG_FACTOR * self._cost_s * (len(due) + len(offs)))
        try:
            self._pending = deadlines.start(lambda: _read(conn, due, offs, groups & MONITOR_GROUPS, flags),
                                            "monitor figures")
        except deadlines.AtCap:
            self._pending = None
        self._pending_since = time.monotonic()

    def _take(self, done: deadlines.Call[Read]) -> None:
        """File a finished read: each answering guest's figures with their time; one not answering (NOWAIT: its
        job is held) loses its kept ones, so its record lacks them and stale.py judges it."""
        try:
            read = done.wait(0)
        except (libvirt.libvirtError, deadlines.NoAnswer):
            return  # asked again next tick
        if read.due:
            self._cost_s = 0.7 * self._cost_s + 0.3 * max(1e-5, read.seconds / len(read.due))
        self._off = read.off
        for key, monitor in read.due.items():
            if "balloon.rss" in monitor:
                self._last[key] = (monitor, read.at)
                self._silent.pop(key, None)
            else:
                self._last.pop(key, None)
                self._silent[key] = monitor

    def prune(self, live: Collection[Key]) -> None:
        """Forget the guests not in ``live`` (all of them: every guest is read anew)."""
        for kept in (self._last, self._silent):
            for key in [k for k in kept if k not in live]:
                del kept[key]


@dataclass(frozen=True)
class Read:
    """One read's figures: the guests' by key, the shut-off domains' by uuid; when it ended, how long it took."""

    due: dict[Key, Record]
    off: dict[str, Record]
    at: float
    seconds: float


def _read(conn: libvirt.virConnect, due: list[tuple[libvirt.virDomain, Key]], off: list[libvirt.virDomain],
          groups: int, flags: int) -> Read:
    """The monitor groups of ``due`` and ``off`` in one call (in a background thread)."""
    start = time.monotonic()
    asked = [dom for dom, _key in due] + off
    got = {dom.UUIDString(): rec for dom, rec in conn.domainListGetStats(asked, groups, flags)} if asked else {}
    at = time.monotonic()
    return Read(due={key: monitor_keys(got.get(key[0], {})) for _dom, key in due},
                off={uuid: monitor_keys(got.get(uuid, {})) for uuid in (dom.UUIDString() for dom in off)},
                at=at, seconds=at - start)


def monitor_keys(rec: Record) -> Record:
    """The balloon and block figures of a record."""
    return {k: v for k, v in rec.items() if k.startswith(MONITOR_KEYS)}
