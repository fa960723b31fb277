"""The guest's balloon statistics: read from the bulk record, and their period turned on where the admin allows.

QEMU asks the guest's virtio-balloon driver for its memory figures only when the balloon's stats period is set
(``<memballoon><stats period='N'/>``); libvirt's ``setMemoryStatsPeriod`` sets it on the running domain (its live
configuration: the persistent definition is left alone).  :class:`StatsPeriod` does that once per domain
incarnation whose period is 0, only when ``[guest] balloon_stats_period_s`` asks for it and the connection is
read-write.
"""

from __future__ import annotations

import functools
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable

import libvirt

from xentui.limits import counter
from xentui.model import BalloonStats
from xentui.sources import deadlines
from xentui.sources.cache_qos.libvirt import Record
from xentui.sources.libvirt.errors import error_line
from xentui.sources.placement import Key
from xentui.threads import Worker

# libvirt's keys (KiB, counts, seconds) -> BalloonStats' fields
KEYS = (("balloon.available", "available_kib"), ("balloon.usable", "usable_kib"), ("balloon.unused", "unused_kib"),
        ("balloon.disk_caches", "disk_caches_kib"), ("balloon.swap_in", "swap_in_kib"),
        ("balloon.swap_out", "swap_out_kib"), ("balloon.major_fault", "major_faults"),
        ("balloon.minor_fault", "minor_faults"), ("balloon.last-update", "last_update"))
PER_TICK = 16  # domains handed to the thread in one tick at most (each call under its own deadline)
DEADLINE_S = 2.0


def balloon_stats(rec: Record) -> BalloonStats | None:
    """The guest's figures in a bulk record; None when it gives none (no driver, period off since boot)."""
    if "balloon.available" not in rec and "balloon.usable" not in rec and "balloon.unused" not in rec:
        return None  # (most guests without a driver: no dict built)
    get = rec.get
    values = {field: counter(get(key)) for key, field in KEYS}
    if values["available_kib"] is None and values["usable_kib"] is None and values["unused_kib"] is None:
        return None
    return BalloonStats(**values)


def stats_period(root: ET.Element) -> int | None:
    """The virtio balloon's stats period in a domain's XML: 0 when off, None when it has no virtio balloon."""
    balloon = root.find("./devices/memballoon")
    if balloon is None or balloon.get("model") not in ("virtio", "virtio-transitional", "virtio-non-transitional"):
        return None
    stats = balloon.find("stats")
    period = stats.get("period", "0") if stats is not None else "0"
    return int(period) if period.isascii() and period.isdigit() and len(period) < 10 else 0


class StatsPeriod:
    """Sets the balloon's stats period of each running domain whose period is 0, once per incarnation, in a thread
    of its own (never in the tick: its calls must not skew the statistics' window); refusals come back a tick later."""

    def __init__(self) -> None:
        self.period_s = 0  # 0: leave every domain as it is
        self.done: set[Key] = set()  # set, or tried and refused (never asked again for that incarnation)
        self._worker: Worker | None = None  # started at the first domain to set
        self._lock = threading.Lock()
        self._problems: list[str] = []

    def apply(self, due: Iterable[tuple[libvirt.virDomain, str, Key, int | None]]) -> list[str]:
        """Hand the (domain, name, key, its period now) whose period is 0 to the thread; the lines of refusals
        since the last call."""
        if self.period_s:
            todo = [(dom, name, key) for dom, name, key, period in due if period == 0 and key not in self.done]
            todo = todo[:PER_TICK]
            self.done.update(key for _dom, _name, key in todo)
            if todo:
                self._worker = self._worker or Worker("xentui-balloon-period")
                self._worker.submit(lambda: self._set_all([(dom, name) for dom, name, _key in todo], self.period_s))
        with self._lock:
            problems, self._problems = self._problems, []
        return problems

    def _set_all(self, todo: list[tuple[libvirt.virDomain, str]], period_s: int) -> None:
        for dom, name in todo:
            try:
                deadlines.call(functools.partial(dom.setMemoryStatsPeriod, period_s, libvirt.VIR_DOMAIN_AFFECT_LIVE),
                               DEADLINE_S, "set the balloon's stats period")
            except libvirt.libvirtError as err:
                problem = error_line(err)
            except deadlines.NoAnswer:
                problem = f"libvirtd did not answer within {DEADLINE_S:g} s"
            else:
                continue
            with self._lock:
                self._problems.append(f"{name}: the balloon's stats period was not set ({problem}): no GMEM(%)")

    def prune(self, live: set[Key]) -> None:
        self.done &= live

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown()
