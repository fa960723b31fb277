"""Rows whose figures are old: a QEMU monitor that hangs (qemu stopped, stuck) marks its domain stale.

NOWAIT skips a domain whose job is held, so its record lacks the monitor's figures (``balloon.rss``,
block counters).  That also happens when another client holds the job for a moment, so the
domain's control info decides: only a monitor busy on one command for STUCK_AFTER_MS marks the
row.  Its last monitor figures are kept, marked stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import libvirt

from xentui.sources.cache_qos.libvirt import Record
from xentui.sources.deadlines import NoAnswer
from xentui.sources.placement import Key

Bounded = Callable[[object, Callable[[], Any], float], Any]  # (key, call, seconds) -> call() in time, or NoAnswer
Filled = list[tuple[libvirt.virDomain, Record, Key]]

STUCK_AFTER_MS = 2000  # a QEMU monitor busy this long on one command is not answering
# The control info is a question about libvirtd's own state: when it takes longer, it waits behind the hung
# monitor itself, and the tick (every other row) must not wait with it (measured: 2 s a tick, ticks 3 s apart).
CONTROL_DEADLINE_S = 0.5
MONITOR_KEYS = ("balloon.", "block.")  # figures QEMU gives only through its monitor (under the domain's job)


class HungMonitors:
    """Each domain's last record with its monitor's figures, and since when its monitor has been busy."""

    def __init__(self, bounded: Bounded) -> None:
        self._bounded = bounded
        self.answered: dict[Key, Record] = {}  # each domain's last record with its monitor's figures
        self.busy_since: dict[Key, float] = {}  # when a domain's monitor began its current command

    def stale(self, filled: Filled) -> dict[Key, str]:
        """{key: why its row is stale} for the domains whose monitor hangs; fills their records from the last."""
        stale: dict[Key, str] = {}
        for dom, rec, key in filled:
            if rec.get("state.state") in (None, libvirt.VIR_DOMAIN_SHUTOFF):
                continue
            if "balloon.rss" in rec:
                self.answered[key] = rec  # kept whole (no copy each tick); its monitor figures are taken if needed
                continue
            last = self.answered.get(key)
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
        try:
            state, _details, busy_ms = self._bounded(("control", key), dom.controlInfo, CONTROL_DEADLINE_S)
        except libvirt.libvirtError:
            return None
        except NoAnswer:  # even the question hangs: busy at least since it was asked (or since an earlier one)
            since = self.busy_since.setdefault(key, time.monotonic() - CONTROL_DEADLINE_S)
            return int((time.monotonic() - since) * 1000)
        if state != libvirt.VIR_DOMAIN_CONTROL_OCCUPIED:
            self.busy_since.pop(key, None)
            return None
        self.busy_since[key] = time.monotonic() - busy_ms / 1000
        return int(busy_ms)

    def clear(self) -> None:
        self.answered.clear()
        self.busy_since.clear()

    def prune(self, live: set[Key]) -> None:
        for cache in (self.answered, self.busy_since):
            for key in [k for k in list(cache) if k not in live]:  # list(): a pass left hanging may still add
                cache.pop(key, None)
