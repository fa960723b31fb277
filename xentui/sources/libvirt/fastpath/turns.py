"""The QEMU monitor's figures in turns: BALLOON and BLOCK cost a monitor round trip per guest (5.7 ms each at 100
guests on this nested-KVM host, bench/tick_profile.py: most of what is left of a fast-path tick), so the rows on
screen and the domain in a detail view are read every tick and the others in turns, as many a tick as the budget
allows, the longest unread first.

A guest not read this tick keeps its last figures, stamped with when they were read (``MONITOR_AT``: the model's
rates span two reads, the table shows their age); none older than MAX_AGE_S.  A guest whose monitor did not answer
when asked (NOWAIT: its job is held; a hung QEMU) gets what libvirt gave without it (its configured memory, its
disks' names), no stamp: stale.py judges it as before, and it is asked again every tick.  Shut-off domains are
asked every tick too: libvirt answers from their configuration, without a monitor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection

import libvirt

from xentui.sources.cache_qos.libvirt import Record
from xentui.sources.libvirt.bulk_stats import MONITOR_AT
from xentui.sources.libvirt.stale import MONITOR_KEYS
from xentui.sources.placement import Key

MONITOR_GROUPS = libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_BLOCK
BUDGET_S = 0.040  # the monitor reads of one tick, the rows shown included
MAX_TURNS = 30  # every guest is read at least once in this many ticks, whatever the budget ...
MAX_AGE_S = 30.0  # ... and this many seconds (a hung monitor off screen is found within it)
FIRST_COST_S = 0.003  # a monitor read's cost per guest until one is measured
Entry = tuple[libvirt.virDomain, Record, Key]


class Turns:
    """Which guests' monitor figures are read this tick, and the last ones read of the others."""

    def __init__(self) -> None:
        self.shown: frozenset[str] = frozenset()  # uuids on screen: replaced whole from the UI's thread
        self.watched: str | None = None  # the domain of a detail view
        self._last: dict[Key, tuple[Record, float]] = {}  # each guest's last monitor figures, and when read
        self._cost_s = FIRST_COST_S  # one guest's monitor read, smoothed over the ticks

    def show(self, uuids: Collection[str]) -> None:
        self.shown = frozenset(uuids)

    def due(self, running: list[Entry]) -> list[Entry]:
        """The guests read this tick: those shown or never read (or not answering), then the longest unread, as
        many as the budget leaves room for (at least a MAX_TURNS-th of them)."""
        shown, watched, last = self.shown, self.watched, self._last
        too_old = time.monotonic() - MAX_AGE_S
        first = [e for e in running
                 if e[2][0] in shown or e[2][0] == watched or e[2] not in last or last[e[2]][1] <= too_old]
        if len(first) == len(running):
            return first
        chosen = {e[2] for e in first}
        rest = sorted((e for e in running if e[2] not in chosen), key=lambda e: last[e[2]][1])
        room = int(max(0.0, BUDGET_S - len(first) * self._cost_s) / self._cost_s)
        return first + rest[:max(1, math.ceil(len(rest) / MAX_TURNS), room)]

    def read(self, conn: libvirt.virConnect, running: list[Entry], off: list[tuple[libvirt.virDomain, Record]],
             groups: int, flags: int) -> None:
        """The monitor groups of the guests due and of the domains shut off, in one call; the other guests' last
        figures written into their records."""
        due = self.due(running)
        asked = [dom for dom, _rec, _key in due] + [dom for dom, _rec in off]
        start = time.monotonic()
        got = {dom.UUIDString(): rec for dom, rec in conn.domainListGetStats(
            asked, groups & MONITOR_GROUPS, flags)} if asked else {}
        at = time.monotonic()
        if due:
            self._cost_s = 0.7 * self._cost_s + 0.3 * max(1e-5, (at - start) / len(due))
        for dom, rec in off:
            rec.update(monitor_keys(got.get(dom.UUIDString(), {})))
        read = set()
        for _dom, rec, key in due:
            read.add(key)
            monitor = monitor_keys(got.get(key[0], {}))
            rec.update(monitor)  # (not answering: what libvirt gives without the monitor, its memory and disks)
            if "balloon.rss" not in monitor:  # not answering: stale.py decides, and it is asked again next tick
                self._last.pop(key, None)
                continue
            self._last[key] = (monitor, at)
            rec[MONITOR_AT] = at
        for _dom, rec, key in running:
            if key not in read and (kept := self._last.get(key)) is not None:
                rec.update(kept[0])
                rec[MONITOR_AT] = kept[1]

    def prune(self, live: Collection[Key]) -> None:
        """Forget the guests not in ``live`` (all of them: every guest is read anew)."""
        for key in [k for k in self._last if k not in live]:
            del self._last[key]


def monitor_keys(rec: Record) -> Record:
    """The balloon and block figures of a record."""
    return {k: v for k, v in rec.items() if k.startswith(MONITOR_KEYS)}
