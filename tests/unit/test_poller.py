"""The poller: one collection per tick in one worker thread, never overlapping, off the event loop."""

import asyncio
import threading
import time

import pytest

from tests.factories import HOST
from xentui.model import DomainSample, DomainState, RawSample
from xentui.poller import Poller, check_delay


class SlowSource:
    """A source whose collection takes longer than the delay: ticks must queue, not overlap."""

    uri = "slow://"

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.running = 0
        self.max_running = 0
        self.threads: set[str] = set()
        self.cpu_ns = 0

    def collect(self) -> RawSample:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        self.cpu_ns += int(self.seconds * 1e9)
        self.running -= 1
        dom = DomainSample(uuid="u", name="d", domid=1, state=DomainState.RUNNING, cpu_ns=self.cpu_ns)
        return RawSample(time.monotonic(), time.time(), HOST, (dom,))

    def close(self) -> None:
        pass


def test_slow_ticks_never_overlap_and_run_off_the_loop():
    source = SlowSource(0.3)

    async def run():
        poller = Poller(source, delay=0.2)
        loop_thread = threading.current_thread().name
        heartbeats = 0

        async def heartbeat():
            nonlocal heartbeats
            while True:
                await asyncio.sleep(0.02)
                heartbeats += 1

        beat = asyncio.create_task(heartbeat())
        snaps = []
        async for snap in poller.snapshots():
            snaps.append(snap)
            if len(snaps) == 4:
                break
        beat.cancel()
        poller.close()
        return snaps, loop_thread, heartbeats

    snaps, loop_thread, heartbeats = asyncio.run(run())
    assert source.max_running == 1
    assert loop_thread not in source.threads and len(source.threads) == 1
    assert heartbeats > 30  # the event loop stayed free during 1.2 s of blocking collection
    assert [s.seq for s in snaps] == [1, 2, 3, 4]
    assert snaps[1].domains[0].rates.cpu_pct == pytest.approx(100.0, rel=0.1)  # 0.3 s of "CPU" per 0.3 s


def test_prime_makes_the_first_snapshot_carry_rates():
    async def run():
        poller = Poller(SlowSource(0.01), delay=1, prime=0.1)
        snap = await poller.tick()
        poller.close()
        return snap

    snap = asyncio.run(run())
    assert snap.interval_s is not None and snap.interval_s > 0.05
    assert snap.domains[0].rates.cpu_pct is not None


@pytest.mark.parametrize("bad", ["0.1", "3601", "-1", "inf", "nan", "", "1s", None])
def test_delay_range(bad):
    with pytest.raises(ValueError, match=r"seconds from 0\.2 to 3600"):
        check_delay(bad)


def test_delay_accepts_fractions():
    assert check_delay("0.2") == 0.2 and check_delay(1.5) == 1.5 and check_delay("3600") == 3600


def test_samples_are_delay_apart_even_after_the_prime():
    """The prime's sleep must not make the second interval short (it did: 0.09 s instead of 1 s)."""

    async def run():
        poller = Poller(SlowSource(0.01), delay=0.4, prime=0.4)
        snaps = []
        async for snap in poller.snapshots():
            snaps.append(snap)
            if len(snaps) == 3:
                break
        poller.close()
        return snaps

    snaps = asyncio.run(run())
    for snap in snaps:
        assert snap.interval_s == pytest.approx(0.4, abs=0.08)
