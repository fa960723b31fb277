"""The poller: one collection per tick in one worker thread, never overlapping, off the event loop; its feed
(Snapshot | Lost | Back) owns back-off and reconnection.  A fake clock: these run in milliseconds."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading

import pytest

from tests.factories import HOST
from xentui.feed import Back, Event, Lost
from xentui.model import DomainSample, DomainState, RawSample, Snapshot
from xentui.poller import MIN_DELAY, Poller, check_delay
from xentui.sources import Source, SourceError

DEADLINE_S = 10.0  # real seconds a blocked collection waits at most (the test fails then, never hangs)


class FakeClock:
    """Monotonic seconds that move only when slept (or a collection says it took time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


class FakeSource(Source):
    """Collections that take ``takes`` fake seconds and burn as much CPU; fails while ``failing`` > 0."""

    uri = "fake://"

    def __init__(self, clock: FakeClock, takes: float = 0.0, failing: int = 0):
        self.clock, self.takes, self.failing = clock, takes, failing
        self.running = self.max_running = self.collections = self.reconnects = 0
        self.threads: set[str] = set()
        self.cpu_ns = 0
        self.reachable_after: float | None = None  # fake time from which reachable() says True
        self.probes: list[float] = []
        self.interest: tuple[str | None, bool] | None = None
        self.release: threading.Event | None = None  # set: collections wait for it (proves the loop is free)

    def collect(self) -> RawSample:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self.threads.add(threading.current_thread().name)
        try:
            if self.release is not None:
                assert self.release.wait(DEADLINE_S), "the event loop was blocked while collecting"
            if self.failing > 0:
                self.failing -= 1
                raise SourceError("libvirtd went away")
            start = self.clock.now
            self.clock.now += self.takes
            self.cpu_ns += int(self.takes * 1e9)
            self.collections += 1
            dom = DomainSample(uuid="u", name="d", domid=1, state=DomainState.RUNNING, cpu_ns=self.cpu_ns)
            return RawSample(start, 1e9 + start, HOST, (dom,))
        finally:
            self.running -= 1

    def reconnect(self) -> None:
        self.reconnects += 1

    def reachable(self) -> bool | None:
        self.probes.append(self.clock.now)
        return None if self.reachable_after is None else self.clock.now >= self.reachable_after

    def set_interest(self, uuid: str | None, all_pcpus: bool = False) -> None:
        self.interest = (uuid, all_pcpus)

    def close(self) -> None:
        pass


def poller(source: FakeSource, delay: float, **kw) -> Poller:
    return Poller(source, delay, clock=source.clock, sleep=source.clock.sleep, **kw)


async def take(p: Poller, count: int, *, kinds: tuple[type, ...] = (Snapshot, Lost, Back)) -> list[Event]:
    """The first ``count`` events of the kinds asked for."""
    out: list[Event] = []
    async for event in p.events():
        if isinstance(event, kinds):
            out.append(event)
        if len(out) == count:
            break
    return out


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, DEADLINE_S))


def first_events(source: FakeSource, delay: float, count: int, **kw) -> list[Event]:
    """The first ``count`` events of a poller over ``source`` (closed after)."""
    async def main():
        p = poller(source, delay, **kw)
        try:
            return await take(p, count)
        finally:
            p.close()

    return run(main())


def test_slow_ticks_never_overlap_and_run_off_the_loop():
    source = FakeSource(FakeClock(), takes=0.3)
    source.release = threading.Event()

    async def main():
        p = poller(source, 0.2)
        loop_thread = threading.current_thread().name

        async def free_loop():  # runs only if the loop is free while a collection blocks
            while True:
                await asyncio.sleep(0.001)
                if source.running:
                    source.release.set()
                    return

        freer = asyncio.create_task(free_loop())
        snaps = await take(p, 4)
        freer.cancel()
        p.close()
        return snaps, loop_thread

    snaps, loop_thread = run(main())
    assert source.max_running == 1
    assert loop_thread not in source.threads and len(source.threads) == 1
    assert [s.seq for s in snaps] == [1, 2, 3, 4]
    assert [s.interval_s for s in snaps[1:]] == pytest.approx([0.3] * 3)  # slow: the next starts when it ends
    assert snaps[1].domains[0].rates.cpu_pct == pytest.approx(100.0)  # 0.3 s of "CPU" per 0.3 s


def test_prime_makes_the_first_snapshot_carry_rates():
    source = FakeSource(FakeClock())

    async def main():
        p = poller(source, 1, prime=0.1)
        snap = await p.tick()
        p.close()
        return snap

    snap = run(main())
    assert snap.interval_s == pytest.approx(0.1)
    assert snap.domains[0].rates.cpu_pct is not None


@pytest.mark.parametrize("bad", ["0.1", "3601", "-1", "inf", "nan", "", "1s", None])
def test_delay_range(bad):
    with pytest.raises(ValueError, match=r"seconds from 0\.2 to 3600"):
        check_delay(bad)


def test_delay_accepts_fractions():
    assert check_delay("0.2") == 0.2 and check_delay(1.5) == 1.5 and check_delay("3600") == 3600


def test_samples_are_delay_apart_even_after_the_prime():
    """The prime's sleep must not make the second interval short (it did: 0.09 s instead of 1 s)."""
    snaps = first_events(FakeSource(FakeClock(), takes=0.01), 0.4, 3, prime=0.4)
    assert snaps[0].interval_s == pytest.approx(0.4 + 0.01)  # the prime's collection took 0.01 s before it
    assert [s.interval_s for s in snaps[1:]] == pytest.approx([0.4, 0.4])  # starts delay apart


def test_first_data_at_once_then_rates_soon_then_every_delay():
    """The UI's feed: the first sample without rates, the second first_gap later, then every delay."""
    source = FakeSource(FakeClock(), takes=0.01)

    async def main():
        p = poller(source, 3.0, first_gap=0.5)
        start = source.clock.now
        snaps = await take(p, 3)
        p.close()
        return start, snaps

    start, snaps = run(main())
    assert snaps[0].interval_s is None and snaps[0].domains[0].rates.cpu_pct is None
    assert snaps[0].seq == 1 and snaps[0].domains[0].name == "d"
    assert snaps[0].wall == 1e9 + start  # collected at once: no prime, no wait before it
    assert [s.interval_s for s in snaps[1:]] == pytest.approx([0.5, 3.0])
    assert snaps[1].domains[0].rates.cpu_pct is not None


def test_back_off_doubles_to_30_s_reconnects_and_says_when_it_is_back():
    source = FakeSource(FakeClock(), failing=7)

    async def main():
        p = poller(source, 1.0)
        events = await take(p, 9)
        p.close()
        return events

    events = run(main())
    lost = events[:7]
    assert all(isinstance(e, Lost) and e.reason == "libvirtd went away" for e in lost)
    assert [e.retry_in for e in lost] == [1, 2, 4, 8, 16, 30, 30]
    assert source.reconnects == 7  # before each retry
    back, snap = events[7], events[8]
    assert isinstance(back, Back) and back.after_s == pytest.approx(sum(e.retry_in for e in lost))
    assert isinstance(snap, Snapshot) and snap.seq == 1


class DeadUntilReconnected(FakeSource):
    """libvirtd died before the first sample: every collection fails until the connection is opened again."""

    dead = True

    def collect(self) -> RawSample:
        if self.dead:
            raise SourceError("libvirtd went away")
        return super().collect()

    def reconnect(self) -> None:
        super().reconnect()
        self.dead = False


def test_a_prime_that_fails_is_lost_and_reconnected_like_any_tick():
    """-b --reconnect: the silent first sample fails; the feed says Lost, reconnects, primes, and goes on."""
    source = DeadUntilReconnected(FakeClock())
    events = first_events(source, 1.0, 3, prime=0.5)
    assert isinstance(events[0], Lost) and isinstance(events[1], Back) and isinstance(events[2], Snapshot)
    assert source.reconnects == 1 and source.collections == 2  # the prime, then the first published sample
    assert events[2].interval_s == pytest.approx(0.5)  # its rates are against the prime


def test_a_reachable_source_ends_a_long_back_off_within_a_second():
    source = FakeSource(FakeClock(), failing=6)

    async def main():
        p = poller(source, 1.0)
        events = []
        async for event in p.events():
            events.append(event)
            if isinstance(event, Lost) and event.retry_in == 30:  # the longest wait begins now
                source.reachable_after = source.clock.now + 5.5
            if isinstance(event, Snapshot):
                break
        p.close()
        return events

    events = run(main())
    back = next(e for e in events if isinstance(e, Back))
    assert back.after_s == pytest.approx(1 + 2 + 4 + 8 + 16 + 6)  # 6 of the 30 s: probed each second
    last_wait = source.probes[-6:]  # the 30 s wait: probed each second until it answered
    assert [b - a for a, b in itertools.pairwise(last_wait)] == pytest.approx([1.0] * 5)


def test_without_reconnect_the_feed_ends_with_lost():
    source = FakeSource(FakeClock(), failing=1)

    async def main():
        p = poller(source, 1.0, reconnect=False)
        events = [e async for e in p.events()]
        p.close()
        return events

    assert run(main()) == [Lost("libvirtd went away", None)]
    assert source.reconnects == 0


def test_the_tap_sees_each_published_sample_not_the_prime():
    source = FakeSource(FakeClock())
    tapped: list[RawSample] = []

    async def main():
        p = poller(source, 1.0, prime=0.5, tap=tapped.append)
        snaps = await take(p, 3)
        p.close()
        return snaps

    snaps = run(main())
    assert source.collections == 4 and len(tapped) == 3
    assert [t.domains[0] for t in tapped] == [s.domains[0].sample for s in snaps]


def test_the_tap_runs_after_the_snapshot_is_out_and_a_failing_tap_loses_no_tick():
    """A slow tap (a recorder on a slow disk) never holds the snapshot back, and one that raises (disk full)
    leaves the feed going."""
    source = FakeSource(FakeClock())
    received = threading.Semaphore(0)  # one release per snapshot the feed's consumer got
    tapped: list[bool] = []

    def tap(raw: RawSample) -> None:
        tapped.append(received.acquire(timeout=DEADLINE_S / 4))  # True: this tick's snapshot was out before
        raise OSError(28, "No space left on device")

    async def main():
        p = poller(source, 1.0, tap=tap)
        snaps = []
        async for event in p.events():
            received.release()
            snaps.append(event)
            if len(snaps) == 3:
                break
        p.close()
        return snaps

    snaps = run(main())
    assert [s.seq for s in snaps] == [1, 2, 3] and tapped[:2] == [True, True]


def test_a_wake_collects_early_but_never_more_than_once_per_min_delay():
    source = FakeSource(FakeClock())

    async def main():
        p = poller(source, 60.0)
        snaps = []
        async for event in p.events():
            snaps.append(event)
            if len(snaps) == 3:
                break
            p.wake()
            p.wake()
        p.close()
        return snaps

    snaps = run(main())
    assert [s.interval_s for s in snaps[1:]] == pytest.approx([MIN_DELAY, MIN_DELAY])


def test_placement_interest_goes_to_the_source():
    source = FakeSource(FakeClock())
    p = poller(source, 1.0)
    p.watch_placement("u", every_domain=True)
    assert source.interest == ("u", True)
    p.close()


def test_a_preloaded_first_sample_is_published_without_collecting_it():
    """The live view collects its first sample while its modules load, and the poller publishes that one."""
    clock = FakeClock()
    source = FakeSource(clock)
    first = source.collect()
    tapped: list[RawSample] = []

    async def main():
        p = poller(source, 1.0, first_gap=0.5, tap=tapped.append)
        p.preload(first)
        snaps = await take(p, 2)
        p.close()
        return snaps

    snaps = run(main())
    assert source.collections == 2 and tapped[0] is first  # the preloaded one, then one collection
    assert snaps[0].domains[0].sample == first.domains[0] and snaps[1].seq == 2


def test_the_first_sample_still_being_taken_is_waited_for_in_the_worker_not_taken_twice():
    """The UI starts before the first sample is in: the poller waits for that one (in its thread) and
    collects again only when it failed (None)."""
    clock = FakeClock()
    source = FakeSource(clock)
    first = source.collect()

    async def main(pending: concurrent.futures.Future[RawSample | None], answer: RawSample | None):
        p = poller(source, 1.0, first_gap=0.5)
        p.preload(pending)
        taking = asyncio.ensure_future(take(p, 1))
        await asyncio.sleep(0.05)
        assert not taking.done()  # no snapshot before the sample is in
        pending.set_result(answer)
        snaps = await asyncio.wait_for(taking, DEADLINE_S)
        p.close()
        return snaps

    snaps = run(main(concurrent.futures.Future(), first))
    assert source.collections == 1 and snaps[0].domains[0].sample == first.domains[0]
    run(main(concurrent.futures.Future(), None))  # it failed: the poller collects itself
    assert source.collections == 2
