"""The shared deadline module: daemon threads, one process-wide cap, counts that drop as calls return."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from xentui.sources import SourceError, deadlines
from xentui.sources.libvirt import LibvirtSource, connection


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.005)


@pytest.fixture
def cap(monkeypatch) -> Iterator[int]:
    """A cap of 3 above what other tests left running; every blocked call is released afterwards."""
    monkeypatch.setattr(deadlines, "CAP", deadlines.running() + 3)
    yield deadlines.CAP


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_a_call_that_answers_in_time_returns_its_result_or_its_error():
    assert deadlines.call(lambda: 42, 1.0) == 42
    with pytest.raises(ZeroDivisionError):
        deadlines.call(lambda: 1 / 0, 1.0)


def test_a_hung_call_is_abandoned_in_a_daemon_thread_and_counted_until_it_returns(cap, gate):
    before = deadlines.abandoned()
    threads: list[threading.Thread] = []

    def hang() -> str:
        threads.append(threading.current_thread())
        assert deadlines.inside()
        gate.wait()
        return "late"

    started = time.monotonic()
    with pytest.raises(deadlines.NoAnswer, match=r"no answer within 0\.05 s"):
        deadlines.call(hang, 0.05, "pause web01")
    assert time.monotonic() - started < 1.0
    assert deadlines.abandoned() == before + 1
    wait_for(lambda: threads)  # abandoned at 0.05 s: its thread may not have run yet
    assert threads[0].daemon and threads[0].name == deadlines.THREAD_NAME  # nothing waits for it at exit
    assert not deadlines.inside()
    gate.set()
    wait_for(lambda: deadlines.abandoned() == before)


def test_a_thread_that_returned_takes_the_next_call_and_ends_when_none_comes(monkeypatch):
    """Starting a thread costs ~150 us of CPU a call: one that has returned serves the next, and ends after IDLE_S
    with nothing to do (2 s here: an idle thread must outlive a loaded machine's pause between two calls)."""
    monkeypatch.setattr(deadlines, "IDLE_S", 2.0)
    wait_for(lambda: deadlines.running() == 0)
    first = deadlines.call(threading.current_thread, 1.0)
    assert first.name == deadlines.THREAD_NAME and first.daemon and first is not threading.current_thread()
    wait_for(lambda: deadlines._idle >= 1)
    assert deadlines.call(threading.current_thread, 1.0) in {t for t in threading.enumerate()
                                                              if t.name == deadlines.THREAD_NAME}
    known = {t for t in threading.enumerate() if t.name == deadlines.THREAD_NAME}  # (other tests' idle ones too)
    again = []
    for _ in range(20):  # each call once a thread is idle (the last one's marks itself so just after it returns)
        wait_for(lambda: deadlines._idle >= 1)
        again.append(deadlines.call(threading.current_thread, 1.0))
    assert set(again) <= known  # an idle thread took every call: none was started
    wait_for(lambda: not first.is_alive() and all(not t.is_alive() for t in again), timeout=15)


def test_calls_at_once_each_run_in_a_thread_of_their_own(cap):
    """Three calls that can only return together (a barrier of three) all return: none waits behind another,
    idle threads from earlier calls or not."""
    barrier = threading.Barrier(3, timeout=5)
    calls = [deadlines.start(lambda: (barrier.wait(), threading.current_thread())[1], "meet") for _ in range(3)]
    threads = [c.wait(10) for c in calls]
    assert len(set(threads)) == 3


def test_at_the_cap_calls_are_refused_at_once_without_a_thread(cap, gate):
    for _ in range(3):
        with pytest.raises(deadlines.NoAnswer):
            deadlines.call(lambda: gate.wait(), 0.01)
    threads = threading.active_count()
    started = time.monotonic()
    with pytest.raises(deadlines.AtCap, match=r"refused, \d+ calls are still running"):
        deadlines.call(lambda: "never made", 5.0)
    assert time.monotonic() - started < 0.5
    assert threading.active_count() == threads
    gate.set()
    wait_for(lambda: deadlines.running() < cap)
    assert deadlines.call(lambda: "again", 1.0) == "again"


def test_the_cap_is_shared_by_sources_and_survives_a_reconnect(cap, gate, monkeypatch):
    """Hung calls of one connection still count after reconnect() and against another source."""
    monkeypatch.setattr(connection, "MIN_DEADLINE_S", 0.05)
    first = LibvirtSource("test:///default")
    second = LibvirtSource("test:///default")
    try:
        for n in range(2):
            with pytest.raises(deadlines.NoAnswer):
                first._bounded(("vcpus", n), lambda: gate.wait())
        first.reconnect()  # its calls are forgotten by key, not by the cap
        wait_for(lambda: deadlines.running() == cap - 1)  # the old connection's close has returned
        with pytest.raises(deadlines.NoAnswer):
            second._bounded("memory", lambda: gate.wait())
        with pytest.raises(SourceError, match="refused, 3 calls are still running"):
            first.collect()
        with pytest.raises(SourceError, match="refused"):
            first.reconnect()
        gate.set()
        wait_for(lambda: deadlines.running() < cap)
        assert second.collect().domains
    finally:
        gate.set()
        first.close()
        second.close()


def test_one_per_key_never_repeats_a_call_still_hanging(cap, gate):
    keyed = deadlines.OnePerKey()
    made = []

    def hang() -> None:
        made.append(1)
        gate.wait()

    with pytest.raises(deadlines.NoAnswer):
        keyed.call("vcpus", hang, 0.01)
    assert keyed.hung("vcpus") is not None
    with pytest.raises(deadlines.NoAnswer, match="has not returned yet"):
        keyed.call("vcpus", hang, 1.0)
    wait_for(lambda: made)  # abandoned at 0.01 s: its thread may not have run yet
    assert len(made) == 1
    assert keyed.call("other", lambda: "fine", 1.0) == "fine"
    gate.set()
    wait_for(lambda: keyed.hung("vcpus") is None)
    assert keyed.call("vcpus", lambda: "answered", 1.0) == "answered"


def test_a_thread_that_cannot_be_started_refuses_that_call_alone():
    """Thread creation fails once (a thread limit): that call is refused and never run, and the calls after it
    run as before (in a fresh interpreter: no call thread of other tests about)."""
    import subprocess
    import sys

    script = """
import threading
from xentui.sources import deadlines
ran = []
start = threading.Thread.start
def fails_once(self):
    threading.Thread.start = start
    raise RuntimeError("can't start new thread")
threading.Thread.start = fails_once
try:
    deadlines.call(lambda: ran.append("refused"), 2.0)
except deadlines.AtCap as err:
    print("refused:", err)
assert deadlines.call(lambda: 42, 2.0) == 42
assert [deadlines.call(lambda i=i: i, 2.0) for i in range(5)] == list(range(5))
assert ran == [] and deadlines.running() == 0, (ran, deadlines.running())
print("ok", deadlines._idle)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "refused: libvirt call: refused, no thread could be started" in done.stdout
    assert done.stdout.splitlines()[-1] == "ok 1"  # one thread, idle: the counter agrees
