"""Calls that may hang (libvirt, a stuck link), each run in a daemon thread under a deadline.

A call that does not answer in time is *abandoned*: its caller goes on, the call goes on in
the background and its thread is free again when (if) it returns.  Threads are daemons, so a hung call
never keeps xentui from exiting (a ThreadPoolExecutor's threads are joined at exit).  A thread that has
returned waits IDLE_S for the next call, then ends: starting a thread costs ~150 us of CPU, and a big host
makes tens of calls a second (measured, bench/RESULTS.md).

ONE process-wide cap bounds the calls running at once, abandoned or not, for every source
and connection, across reconnects: at :data:`CAP`, a new call is refused at once
(:class:`AtCap`), never another thread.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

CAP = 16  # calls running at once in the whole process (each holds one thread); a fleet raises it: allow_hosts()
PER_HOST = 16  # ... for each host a fleet watches through libvirt
MAX_CAP = 512
QUICK_S = 5.0  # a call that must answer at once: list the domains, look one up, register for events
THREAD_NAME = "xentui-call"
IDLE_S = 30.0  # a call thread with nothing to do ends after this

_lock = threading.Lock()
_running: set[Call[Any]] = set()
_local = threading.local()
_work: queue.SimpleQueue[Call[Any]] = queue.SimpleQueue()
_idle = 0  # call threads waiting for work, less the calls queued for them (under _lock)


class NoAnswer(Exception):
    """A call did not return within its deadline (it goes on in the background)."""


class AtCap(NoAnswer):
    """Refused at once: CAP calls are still running, some of them hung."""


class Call(Generic[T]):
    """One call running in its own daemon thread."""

    def __init__(self, fn: Callable[[], T], what: str) -> None:
        self.what = what
        self.future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.abandoned = False
        self.taken = False  # by a call thread (under _lock): a call refused for want of a thread never is
        self._fn = fn

    def _run(self) -> None:
        try:
            self.future.set_result(self._fn())
        except BaseException as err:  # handed to whoever waits
            self.future.set_exception(err)

    def done(self) -> bool:
        return self.future.done()

    def wait(self, timeout: float) -> T:
        """The call's result (or its exception); NoAnswer after ``timeout`` s, the call then abandoned."""
        try:
            return self.future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            self.abandoned = True
            raise NoAnswer(f"{self.what}: no answer within {timeout:g} s") from None


def start(fn: Callable[[], T], what: str = "libvirt call") -> Call[T]:
    """``fn()`` started in a daemon thread (an idle one, else a new one); :class:`AtCap` at once when CAP calls
    are running."""
    global _idle
    call = Call(fn, what)
    with _lock:
        if len(_running) >= CAP:
            hung = sum(c.abandoned for c in _running)
            raise AtCap(f"{what}: refused, {len(_running)} calls are still running ({hung} past their "
                        "deadline); waiting for them to return")
        _running.add(call)
        _work.put(call)  # with the count, under the lock: an idle thread ending sees it (_serve)
        new = _idle <= 0  # (below 0 after a thread that could not be started: a refused call still queued)
        if not new:
            _idle -= 1
    if new:
        try:
            threading.Thread(target=_serve, name=THREAD_NAME, daemon=True).start()
        except RuntimeError:  # no thread to be had
            with _lock:
                _idle -= 1  # the thread counted on never came
                if call.taken:  # a thread that freed up meanwhile took it: it runs
                    return call
                _running.discard(call)  # refused: whichever thread takes it from the queue skips it
            raise AtCap(f"{what}: refused, no thread could be started") from None
    return call


def _serve() -> None:
    """A call thread: the calls queued, one at a time, until none comes for IDLE_S."""
    global _idle
    _local.inside = True
    while True:
        try:
            call = _work.get(timeout=IDLE_S)
        except queue.Empty:
            with _lock:
                if _work.empty():
                    _idle -= 1
                    return
            continue  # one was queued for it as it timed out
        with _lock:
            run = call.taken = call in _running  # (not one refused for want of a thread)
        if run:
            call._run()
        with _lock:  # one step: never a moment where it is neither running nor idle (a thread past CAP)
            _running.discard(call)
            _idle += 1


def call(fn: Callable[[], T], deadline_s: float, what: str = "libvirt call") -> T:
    """``fn()`` given ``deadline_s`` to return; NoAnswer (or AtCap) otherwise."""
    return start(fn, what).wait(deadline_s)


class OnePerKey:
    """Bounded calls never made again on top of themselves: while the last call for a key hangs,
    the next one for that key raises NoAnswer at once."""

    def __init__(self) -> None:
        self._pending: dict[object, Call[Any]] = {}

    def call(self, key: object, fn: Callable[[], T], deadline_s: float, what: str = "libvirt call") -> T:
        pending = self._pending.get(key)
        if pending is not None:
            if not pending.done():
                raise NoAnswer(f"{what}: the last such call has not returned yet")
            del self._pending[key]
        started = start(fn, what)
        try:
            return started.wait(deadline_s)
        except NoAnswer:
            self._pending[key] = started
            raise

    def hung(self, key: object) -> Call[Any] | None:
        """The call for ``key`` still running past its deadline, if any."""
        pending = self._pending.get(key)
        return pending if pending is not None and not pending.done() else None

    def running(self) -> list[Call[Any]]:
        """The calls past their deadline that have not returned yet."""
        return [c for c in list(self._pending.values()) if not c.done()]

    def clear(self) -> None:
        """Forget the keys (a new connection); the calls still count against CAP until they return."""
        self._pending.clear()


def after_all(calls: list[Call[Any]], then: Callable[[], None]) -> None:
    """``then()`` once every one of ``calls`` has returned: at once when none runs, else in the thread of the last
    to return (a connection is closed only once no call of ours runs on it: libvirt frees it under a running call)."""
    left = len(calls)
    lock = threading.Lock()

    def one_done(_future: object) -> None:
        nonlocal left
        with lock:
            left -= 1
            last = left == 0
        if last:
            then()

    if not calls:
        then()
    for running_call in calls:
        running_call.future.add_done_callback(one_done)


def never(_error: Exception) -> bool:
    """A failed call is not made again (:meth:`Stretching.call`'s ``again``)."""
    return False


class Stretching:
    """A recurring call (a tick's statistics) given a deadline that follows how long it takes.

    A call that hangs is left in the background and made once more (a second call may well answer:
    libvirt's NOWAIT skips the domain the hung one holds).  A second slow call is waited for, up to
    ``slow_limit_s``, while ``alive()`` says the other end answers a trivial call: busy, not gone.  A first call
    that fails with an error ``again(error)`` accepts is made once more too: two attempts in all, whichever way
    the first one ended.
    """

    def __init__(self, floor_s: Callable[[], float], slow_limit_s: float, what: str, who: str) -> None:
        self._floor_s = floor_s  # read at each call (tests lower it)
        self.slow_limit_s = slow_limit_s
        self.what, self.who = what, who
        self.last_s = 0.0  # how long the last answered call took
        self.started = 0.0  # when the call that answered last began

    @property
    def deadline_s(self) -> float:
        """Time allowed to one call: generous next to what it usually takes."""
        return max(self._floor_s(), 4 * self.last_s)

    def call(self, fn: Callable[[], T], alive: Callable[[], bool],
             again: Callable[[Exception], bool] = never) -> T:
        """``fn()``; AtCap at the cap, NoAnswer when two calls in a row did not answer; ``fn``'s own error when
        ``again`` refuses it, or on the second attempt."""
        for attempt in range(2):
            started = time.monotonic()
            try:
                pending = start(fn, self.what)
                try:
                    result = pending.wait(self.deadline_s)
                except NoAnswer:
                    if attempt == 0 or not alive():
                        continue
                    result = pending.wait(self.slow_limit_s)
            except AtCap:
                raise
            except NoAnswer:
                continue
            except Exception as error:
                if attempt == 0 and again(error):
                    continue
                raise
            self.last_s = time.monotonic() - started
            self.started = started
            return result
        raise NoAnswer(f"{self.who} did not answer within {2 * self.deadline_s:.1f} s")


def allow_hosts(hosts: int) -> None:
    """Room for ``hosts`` hosts' calls at once (a fleet's thread per host each make theirs): PER_HOST each, at
    most MAX_CAP in all.  Never lowers the cap."""
    global CAP
    with _lock:
        CAP = max(CAP, min(MAX_CAP, PER_HOST * hosts))


def running() -> int:
    """Calls running now, abandoned or not."""
    with _lock:
        return len(_running)


def still_running() -> list[str]:
    """What each call running now is, "(past its deadline)" marked: for a report of who left them."""
    with _lock:
        return sorted(c.what + (" (past its deadline)" if c.abandoned else "") for c in _running)


def abandoned() -> int:
    """Calls past their deadline that have not returned yet."""
    with _lock:
        return sum(c.abandoned for c in _running)


def inside() -> bool:
    """Whether the current thread is one of this module's call threads."""
    return bool(getattr(_local, "inside", False))
