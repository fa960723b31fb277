"""The async loop: one blocking collection per tick, in one worker thread.

A tick never overlaps the previous one: the next collection starts only after the
last one returned (a slow tick delays the next; it never piles up).  Each tick
publishes an immutable :class:`~xentui.model.Snapshot`.  Actions run in threads of
their own (a hung action never holds up the ticks).  Every thread is a daemon: nothing
waits for them at exit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator

from xentui.model import RawSample, Snapshot, build_snapshot
from xentui.sources import Source, SourceError, deadlines

MIN_DELAY = 0.2
MAX_DELAY = 3600.0
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # between reconnection attempts after a lost connection
CLOSE_WAIT_S = 1.0  # the goodbye to the source is waited for this long at most


class Worker:
    """One daemon thread running the work handed to it in order.  Not a ThreadPoolExecutor: its
    threads are joined at interpreter exit, so a call hung in libvirt would keep xentui from exiting."""

    def __init__(self, name: str):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, work) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((work, future))
        return future

    def shutdown(self) -> None:
        """End the thread once the work handed to it is done (not waited for)."""
        self._queue.put(None)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            work, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work())
            except BaseException as err:  # handed to the waiting coroutine
                future.set_exception(err)


def check_delay(value: float | str) -> float:
    """Seconds between ticks, or ValueError with a line fit for the user."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not MIN_DELAY <= seconds <= MAX_DELAY:  # also rejects nan and inf
        raise ValueError(f"delay {value!r} is not a number of seconds from {MIN_DELAY:g} to {MAX_DELAY:g}, e.g. 1.5")
    return seconds


class Poller:
    """Turns a :class:`Source` into a stream of snapshots.

    ``prime``: seconds between a silent first sample and the first published one, so
    that even the first snapshot carries true rates (0 publishes the first sample
    as is, without rates, as xentop does).
    """

    def __init__(self, source: Source, delay: float, *, prime: float = 0.0):
        self.source = source
        self.delay = check_delay(delay)
        self.prime = prime
        self._worker = Worker("xentui-poll")
        self._previous: RawSample | None = None
        self._seq = 0
        self._last_start = 0.0  # monotonic time the last published collection began
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._closed = False
        self.lost: str | None = None  # why the source is unreachable (None: it answers)

    async def _in_worker(self, work):
        """Run blocking ``work`` in the poller's one worker thread (cancelled once the poller is closed)."""
        if self._closed:
            raise asyncio.CancelledError
        return await asyncio.wrap_future(self._worker.submit(work))

    def _collect_and_build(self) -> tuple[RawSample, Snapshot]:
        """In the worker thread: the sample, and the snapshot built against the previous one."""
        raw = self.source.collect()
        return raw, build_snapshot(self._previous, raw, self._seq + 1)

    async def tick(self) -> Snapshot:
        """Collect once and return the snapshot built against the previous sample.

        The rate maths runs in the worker thread too: the event loop only receives the result.
        """
        if self._previous is None and self.prime > 0:
            self._previous = await self._in_worker(self.source.collect)
            await asyncio.sleep(self.prime)
        self._last_start = time.monotonic()
        try:
            if self.lost is not None and hasattr(self.source, "reconnect"):
                await self._in_worker(self.source.reconnect)
            raw, snapshot = await self._in_worker(self._collect_and_build)
        except SourceError as err:
            self.lost = str(err)
            raise
        self.lost = None
        self._seq += 1
        self._previous = raw
        return snapshot

    async def call(self, work):
        """Run blocking ``work`` (quick, bounded: an event registration) in the worker thread, between
        two collections."""
        return await self._in_worker(work)

    @staticmethod
    async def act(work):
        """Run blocking ``work`` (an action) in a daemon thread of its own, while the ticks go on.
        Its calls carry their own deadlines; NoAnswer when too many calls hang to start one more."""
        return await asyncio.wrap_future(deadlines.start(work, "action").future)

    def watch_placement(self, uuid: str | None, every_domain: bool = False) -> None:
        """Tell the source which domain's vCPU placement a view shows (read each tick), and
        whether a view shows every domain's current pCPU.  Sources without it ignore this."""
        cache = getattr(self.source, "placement", None)
        if cache is not None:
            cache.watch, cache.want_all = uuid, every_domain

    def until_next(self) -> float:
        """Seconds to wait so that collections start ``delay`` apart (0 when late)."""
        return max(0.0, self.delay - (time.monotonic() - self._last_start))

    @staticmethod
    def backoff(attempt: int) -> float:
        """Seconds before reconnection attempt ``attempt`` (0, 1, ...): 1 s doubling to 30 s."""
        return BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]

    async def wait_to_retry(self, seconds: float) -> None:
        """Sleep ``seconds``, or less: the source is probed each second and a reachable one ends the wait
        (a long back-off must not keep the admin waiting once libvirtd is back)."""
        probe = getattr(self.source, "reachable", None)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(1.0, left))
            if probe is not None and await self._in_worker(probe):
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

    async def snapshots(self) -> AsyncIterator[Snapshot]:
        """Snapshots forever, one per ``delay`` seconds (``delay`` may change), sooner when woken."""
        self._wake = asyncio.Event()
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        while True:
            self._wake.clear()  # a wake-up from now on asks for another collection
            yield await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.until_next())
            # Woken early: still at most one collection per MIN_DELAY, however many events come.
            await asyncio.sleep(max(0.0, MIN_DELAY - (time.monotonic() - self._last_start)))

    def close(self) -> None:
        """Close the source after any collection in flight (never concurrently)."""
        if self._closed:
            return
        self._closed = True
        done = self._worker.submit(self.source.close)
        self._worker.shutdown()
        with contextlib.suppress(Exception):  # still busy (a collection hung) or failed: exit all the same
            done.result(timeout=CLOSE_WAIT_S)
