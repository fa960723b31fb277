"""A daemon thread that runs the work handed to it, one at a time, in order."""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
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
