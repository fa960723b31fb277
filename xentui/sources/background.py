"""A refresh thread: do the work, wait the interval (or until woken), again, until closed."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Refresher:
    """``work()`` in a daemon thread every ``interval()`` seconds; :meth:`wake` runs it again at once.

    ``interval`` is read after each round, so a source can shorten it while a view wants fresh data.
    The thread starts on :meth:`start` (lazily: a source may never need it) and ends after :meth:`close`.
    """

    def __init__(self, work: Callable[[], None], interval: Callable[[], float], name: str) -> None:
        self._work = work
        self._interval = interval
        self._name = name
        self._now = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ended = False  # the thread left its loop
        self._then: Callable[[], None] | None = None  # run once the thread has left its loop (close())

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None and not self._closing.is_set():
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Do the work now rather than at the end of the interval."""
        self._now.set()

    def close(self, then: Callable[[], None] | None = None) -> None:
        """Stop after the current round (never waited for: the work may be a slow subprocess); ``then()`` once
        no round runs any more: in the thread as it ends, or here when it never started or has ended."""
        with self._lock:
            self._then = self._then or then  # (a second close keeps the first's: it runs once)
            then = self._then
            self._closing.set()
            self._now.set()
            now = self._thread is None or self._ended
            if now:
                self._then = None
        if now and then is not None:
            then()

    def _loop(self) -> None:
        try:
            while not self._closing.is_set():
                self._work()
                self._now.wait(self._interval())
                self._now.clear()
        finally:
            with self._lock:
                self._ended = True
                then, self._then = self._then, None
            if then is not None:
                then()
