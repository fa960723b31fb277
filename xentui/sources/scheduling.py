"""Schedulers and cpupools, read off the tick: a refresh thread, every tick while watched, else every EVERY_S.

A source gives :class:`SchedulingWatch` its blocking ``read()`` (each of its calls under a deadline) and hands
:meth:`SchedulingWatch.current` to each RawSample.  A failed read keeps the last state, ``error`` set.  Nothing is
read until someone first watches (the scheduler view, batch JSON): a host nobody asks about pays nothing (no
``xl`` in dom0 beside xentop's figures, no per-domain libvirt call); once asked, it stays fresh every EVERY_S.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from xentui.model import SchedulingState
from xentui.sources.background import Refresher
from xentui.sources.base import SourceError
from xentui.sources.deadlines import NoAnswer
from xentui.text import one_line

EVERY_S = 10.0  # the background cadence
FIRST_WAIT_S = 3.0  # a watcher's first sample waits this long for the first read (batch JSON's iteration 1)

Reader = Callable[[], SchedulingState]


class SchedulingWatch:
    """The last :class:`SchedulingState` of one host, kept fresh by a thread of its own."""

    def __init__(self, read: Reader, name: str, *, every_s: float = EVERY_S,
                 wall: Callable[[], float] = time.time) -> None:
        self._read = read
        self._wall = wall
        self.every_s = every_s
        self.tick_s = 3.0  # the poller's delay: the cadence while watched
        self.watching = False
        self.state: SchedulingState | None = None  # replaced whole by the thread
        self._first = threading.Event()
        self._refresher = Refresher(self._round, self._interval, name)

    def watch(self, on: bool) -> None:
        """A view (or batch JSON) shows scheduling: read it every tick, from the next (the first read follows a
        tick: the domains' UUIDs are known by then)."""
        self.watching = on
        if on and self._refresher.started:
            self._refresher.wake()

    def set_delay(self, delay_s: float) -> None:
        self.tick_s = delay_s

    def changed(self) -> None:
        """An edit was made: read again now."""
        if self._refresher.started:
            self._refresher.wake()

    def current(self) -> SchedulingState | None:
        """The last state read (None before the first watch).  Blocks only while watched with nothing read yet:
        FIRST_WAIT_S at most, for the first read."""
        if self.watching and not self._refresher.started:
            self._refresher.start()
        if self.state is None and self.watching:
            self._first.wait(FIRST_WAIT_S)
        return self.state

    def close(self) -> None:
        self._refresher.close()

    def _failed(self, why: str) -> None:
        last = self.state or SchedulingState(wall=self._wall())
        self.state = replace(last, error=one_line(why)[:300])

    def _interval(self) -> float:
        return min(self.tick_s, self.every_s) if self.watching else self.every_s

    def _round(self) -> None:
        try:
            self.state = self._read()
        except (SourceError, NoAnswer) as err:
            self._failed(str(err))
        except Exception as err:  # a reader's bug must not end the thread silently
            self._failed(f"reading the schedulers failed: {type(err).__name__}: {err}")
        finally:
            self._first.set()
