"""A daemon thread that runs the work handed to it, one at a time, in order; the lock every spawn takes."""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class Worker:
    """One daemon thread running the work handed to it in order.  Not a ThreadPoolExecutor: its
    threads are joined at interpreter exit, so a call hung in libvirt would keep xentui from exiting."""

    def __init__(self, name: str):
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None] = (
            queue.SimpleQueue())
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
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

    def join(self, timeout: float) -> None:
        """Wait at most ``timeout`` s for the thread to end (after :meth:`shutdown`)."""
        self._thread.join(timeout)


# Before CPython 3.12 the parent holds the GIL until its vfork()ed child has exec()ed: tens of ms on a slow dom0,
# during which no other thread runs.  A counter read takes SPAWNING around its clock reading and its hypercall,
# and every spawn (xl, ssh) takes it too, so no spawn falls between the two (that once made a busy 1-vCPU domain
# read 105 %).
SPAWNING = threading.Lock()
SPAWN_WAIT_S = 1.0  # a spawn waits at most this long for a counter read (one stuck in xenstore must not stop it)


@contextmanager
def spawning() -> Iterator[None]:
    """Around a subprocess's start: never between a counter read's clock and its call (see SPAWNING)."""
    locked = SPAWNING.acquire(timeout=SPAWN_WAIT_S)
    try:
        yield
    finally:
        if locked:
            SPAWNING.release()
