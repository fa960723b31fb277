"""The live feed: one blocking collection per tick, in one worker thread.

A tick never overlaps the previous one: the next collection starts only after the
last one returned (a slow tick delays the next; it never piles up).  Each tick
publishes an immutable :class:`~xentui.model.Snapshot`; :meth:`Poller.events` adds :class:`~xentui.feed.Lost`
and :class:`~xentui.feed.Back` and owns reconnection and back-off (docs/feed.md).  Actions run in threads of
their own (a hung action never holds up the ticks).  Every thread is a daemon: nothing
waits for them at exit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import TypeVar

from xentui.config import MAX_DELAY, MIN_DELAY, check_delay
from xentui.feed import Back, Event, Lost, Tap
from xentui.model import RawSample, Snapshot, build_snapshot
from xentui.sources import Source, SourceError, deadlines
from xentui.threads import Worker

__all__ = ["MAX_DELAY", "MIN_DELAY", "Poller", "Worker", "check_delay"]
T = TypeVar("T")
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # between reconnection attempts after a lost connection
CLOSE_WAIT_S = 1.0  # the goodbye to the source is waited for this long at most


class Poller:
    """Turns a :class:`Source` into a feed of snapshots (and Lost/Back while it does not answer).

    ``prime``: seconds between a silent first sample and the first published one, so that even the
    first snapshot carries true rates (batch); 0 publishes the first sample as is, without rates.
    ``first_gap``: seconds from the first published snapshot to the second (the UI shows the first
    sample at once and fills its rates soon after); None: ``delay``.
    ``reconnect``: after a lost connection, wait and try again (else the feed ends with ``Lost(reason, None)``).
    ``tap``: called with each published raw sample, in the worker thread once the snapshot is out and before
    the next collection (a recorder); it reports its own failures (one that raises is not retried).
    ``clock``/``sleep``: injectable for tests (monotonic seconds; an awaitable sleep).
    """

    def __init__(self, source: Source, delay: float, *, prime: float = 0.0, first_gap: float | None = None,
                 reconnect: bool = True, tap: Tap | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.source = source
        self._delay = 0.0
        self.delay = check_delay(delay)
        self.prime = prime
        self.first_gap = first_gap
        self.reconnect = reconnect
        self.tap = tap
        self._clock = clock
        self._sleep = sleep
        self._worker = Worker("xentui-poll")
        self._previous: RawSample | None = None
        self._snapshot: Snapshot | None = None  # built from _previous (the worker thread's)
        self._preloaded: RawSample | concurrent.futures.Future[RawSample | None] | None = None
        self._seq = 0
        self._last_start = 0.0  # monotonic time the last published collection began
        self._collecting_since: float | None = None  # when the collection under way began (None: none is)
        self.last_took = 0.0  # seconds the last collection took (the worker's, from its start)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._closed = False
        self.lost: str | None = None  # why the source is unreachable (None: it answers)

    @property
    def delay(self) -> float:
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        """Seconds between collections; the source is told (a fleet's tick waits ``min(delay, 2 s)``)."""
        self._delay = seconds
        self.source.set_delay(seconds)

    async def _in_worker(self, work: Callable[[], T]) -> T:
        """Run blocking ``work`` in the poller's one worker thread (cancelled once the poller is closed)."""
        if self._closed:
            raise asyncio.CancelledError
        return await asyncio.wrap_future(self._worker.submit(work))

    def preload(self, first: RawSample | concurrent.futures.Future[RawSample | None]) -> None:
        """Publish ``first`` as the first sample instead of collecting it: a sample, or the future of the one
        being taken while the UI starts (in its own thread; None when it failed: then the poller collects)."""
        self._preloaded = first

    def _collect_and_build(self) -> tuple[RawSample, Snapshot]:
        """In the worker thread: the sample, and the snapshot built against the previous one."""
        started = self._collecting_since = self._clock()  # here: time queued behind a tap is not the source's
        preloaded, self._preloaded = self._preloaded, None
        if isinstance(preloaded, concurrent.futures.Future):  # taken under the source's own deadlines
            preloaded = preloaded.result()
        raw = preloaded or self.source.collect()
        self._snapshot = build_snapshot(self._previous, raw, self._seq + 1, self._snapshot)
        self.last_took = self._clock() - started
        return raw, self._snapshot

    async def tick(self) -> Snapshot:
        """Collect once and return the snapshot built against the previous sample (SourceError when lost).

        The rate maths runs in the worker thread too: the event loop only receives the result.
        """
        try:
            if self.lost is not None:
                await self._in_worker(self.source.reconnect)
            if self._previous is None and self.prime > 0:  # the silent first sample: lost like any other
                self._previous = await self._in_worker(self.source.collect)
                await self._sleep(self.prime)
            self._last_start = self._clock()
            try:
                raw, snapshot = await self._in_worker(self._collect_and_build)
            finally:
                self._collecting_since = None
        except SourceError as err:
            self.lost = str(err)
            raise
        self.lost = None
        self._seq += 1
        self._previous = raw
        if self.tap is not None:  # queued behind this collection, ahead of the next: never delays the snapshot
            self._worker.submit(functools.partial(self.tap, raw))
        return snapshot

    async def call(self, work: Callable[[], T]) -> T:
        """Run blocking ``work`` (quick, bounded: an event registration) in the worker thread, between
        two collections."""
        return await self._in_worker(work)

    @staticmethod
    async def act(work: Callable[[], T]) -> T:
        """Run blocking ``work`` (an action) in a daemon thread of its own, while the ticks go on.
        Its calls carry their own deadlines; NoAnswer when too many calls hang to start one more."""
        future: concurrent.futures.Future[T] = deadlines.start(work, "action").future
        return await asyncio.wrap_future(future)

    def watch_placement(self, uuid: str | None, every_domain: bool = False) -> None:
        """Tell the source which domain's vCPU placement a view shows, and whether a view shows every
        domain's current pCPU (an interest hint: sources without placement ignore it)."""
        self.source.set_interest(uuid, every_domain)

    def show_rows(self, keys: Collection[str]) -> None:
        """Tell the source which domains' rows are on screen (a hint: their slow figures are read every tick)."""
        self.source.set_shown(keys)

    @property
    def last_start(self) -> float:
        """When the last published collection began (the poller's clock)."""
        return self._last_start

    @property
    def collecting_for(self) -> float:
        """Seconds the collection under way has run (0: none is), e.g. a libvirtd that answers, slowly."""
        since = self._collecting_since
        return 0.0 if since is None else self._clock() - since

    def until_next(self, gap: float | None = None) -> float:
        """Seconds to wait so that collections start ``gap`` (default ``delay``) apart (0 when late)."""
        return max(0.0, (self.delay if gap is None else gap) - (self._clock() - self._last_start))

    @staticmethod
    def backoff(attempt: int) -> float:
        """Seconds before reconnection attempt ``attempt`` (0, 1, ...): 1 s doubling to 30 s."""
        return BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]

    async def wait_to_retry(self, seconds: float) -> None:
        """Sleep ``seconds``, or less: the source is probed each second and a reachable one ends the wait
        (a long back-off must not keep the admin waiting once libvirtd is back)."""
        deadline = self._clock() + seconds
        while (left := deadline - self._clock()) > 0:
            await self._sleep(min(1.0, left))
            if await self._in_worker(self.source.reachable):
                return

    def wake(self) -> None:
        """Collect now, not at the next tick (a lifecycle event, an action done, a connection closed);
        from any thread (libvirt may call its close callback from the thread that found the socket dead)."""
        if self._wake is None or self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._wake.set)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds`` unless woken first."""
        assert self._wake is not None
        if self._wake.is_set():
            return
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def events(self) -> AsyncIterator[Event]:
        """Snapshots, one per ``delay`` seconds (``delay`` may change), sooner when woken.

        A SourceError yields :class:`Lost`; with ``self.reconnect`` the poller waits (1 s doubling to 30 s, the
        source probed each second), reconnects and tries again, and yields :class:`Back` before the first
        snapshot after it; without, ``Lost(reason, None)`` ends the feed.
        """
        self._wake = asyncio.Event()
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        attempt = 0
        lost_at: float | None = None
        while True:
            self._wake.clear()  # a wake-up from now on asks for another collection
            try:
                snapshot = await self.tick()
            except SourceError as err:
                if lost_at is None:
                    lost_at = self._clock()
                if not self.reconnect:
                    yield Lost(str(err), None)
                    return
                wait = self.backoff(attempt)
                attempt += 1
                yield Lost(str(err), wait)
                await self.wait_to_retry(wait)
                continue
            if lost_at is not None:
                yield Back(self._clock() - lost_at)
                lost_at, attempt = None, 0
            yield snapshot
            await self._pause(self.until_next(self.first_gap if self._seq == 1 else None))
            # Woken early: still at most one collection per MIN_DELAY, however many events come.
            await self._sleep(max(0.0, MIN_DELAY - (self._clock() - self._last_start)))

    def close(self) -> None:
        """Close the source after any collection in flight (never concurrently)."""
        if self._closed:
            return
        self._closed = True
        done = self._worker.submit(self.source.close)
        self._worker.shutdown()
        with contextlib.suppress(Exception):  # still busy (a collection hung) or failed: exit all the same
            done.result(timeout=CLOSE_WAIT_S)
