"""The refresh thread of the Xen source (xl vcpu-list, xl psr-cmt-show): rounds, wake-ups, close, interest."""

from __future__ import annotations

import threading

from tests.fake_xenstat import FakeXenStat, FakeXenStore, FakeXl
from xentui.sources.background import Refresher
from xentui.sources.xen import AFFINITY_EVERY_S, AFFINITY_VIEW_S, XenSource


def test_a_refresher_works_at_start_again_when_woken_and_stops_when_closed() -> None:
    rounds: list[int] = []
    ran = threading.Semaphore(0)

    def work() -> None:
        rounds.append(len(rounds))
        ran.release()

    refresher = Refresher(work, lambda: 3600.0, "test-refresher")  # the interval alone would never come
    assert not refresher.started
    refresher.start()
    refresher.start()  # once only
    assert ran.acquire(timeout=5)
    refresher.wake()
    assert ran.acquire(timeout=5)
    refresher.close()
    refresher.wake()
    assert not ran.acquire(timeout=0.2)  # closed: no further round
    assert rounds == [0, 1]


def test_xen_reads_placement_more_often_while_a_view_shows_it() -> None:
    xl = FakeXl()
    source = XenSource(stat=FakeXenStat(), store=FakeXenStore(), run=xl, cpuinfo=lambda: None)
    try:
        assert source._affinity_interval() == AFFINITY_EVERY_S
        source.set_interest("2b6b1b2e-7c43-4c32-9d5e-000000000002")
        assert source._affinity_interval() == AFFINITY_VIEW_S
        source.set_interest(None, all_pcpus=True)
        assert source._affinity_interval() == AFFINITY_VIEW_S
        source.set_interest(None)
        assert source._affinity_interval() == AFFINITY_EVERY_S
        raw = source.collect()
        assert {d.uuid for d in raw.domains} == {"00000000-0000-0000-0000-000000000000",
                                                 "2b6b1b2e-7c43-4c32-9d5e-000000000002", "xen-domid-3"}
        assert raw.host.cache_monitoring.startswith("CMT is disabled in the system: boot Xen with psr=cmt:1")
    finally:
        source.close()


def test_what_follows_a_refreshers_close_runs_once_its_round_has_ended() -> None:
    in_round, release, then_ran = threading.Event(), threading.Event(), threading.Event()
    order: list[str] = []

    def work() -> None:
        in_round.set()
        release.wait(30)
        order.append("round")

    refresher = Refresher(work, lambda: 3600.0, "test-refresher")
    refresher.start()
    assert in_round.wait(5)
    refresher.close(then=lambda: (order.append("then"), then_ran.set()))
    assert order == []  # not while the round runs
    release.set()
    assert then_ran.wait(5)
    assert order == ["round", "then"]
    never_started: list[str] = []
    Refresher(work, lambda: 1.0, "unused").close(then=lambda: never_started.append("then"))
    assert never_started == ["then"]  # no thread: at once
