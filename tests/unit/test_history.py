"""Bounded history: rings keep the last N values in order; domains leave with their history."""

import math

import pytest

from tests.factories import snapshots
from xentui.history import History, Ring


def test_ring_keeps_the_last_values_oldest_first():
    ring = Ring(3)
    for v in (1.0, None, 3.0, 4.0, 5.0):
        ring.append(v)
    assert ring.values() == [3.0, 4.0, 5.0] and len(ring) == 3
    assert ring.last(2) == [4.0, 5.0]
    short = Ring(5)
    short.append(None)
    assert math.isnan(short.values()[0])


def test_history_per_domain_and_host_bounded():
    history = History(capacity=4)
    shots = list(snapshots(6))
    for snap in shots:
        history.add(snap)
        history.add(snap)  # shown twice (a repaint): one tick all the same
    web = shots[-1].domains[0]
    series = history.domains[web.uuid].series
    assert series["cpu_pct"].values() == pytest.approx([s.domains[0].rates.cpu_pct for s in shots[-4:]])
    assert series["mem_kib"].values() == [web.sample.mem_kib] * 4
    vcpu0 = history.domains[web.uuid].vcpus[0].values()
    assert vcpu0 == pytest.approx([s.domains[0].rates.vcpus[0].cpu_pct for s in shots[-4:]])
    assert len(history.times()) == 4 and history.times()[-1] == shots[-1].wall
    host_cpu = history.host["cpu_pct"].values()
    assert all(0 <= v <= 100 for v in host_cpu)
    rx = history.host["net_rx_bytes_s"].values()[-1]
    assert rx == pytest.approx(sum(d.rates.net_rx_bytes_s for d in shots[-1].domains))


def test_a_domain_that_leaves_takes_its_history():
    history = History(capacity=10)
    big, small = list(snapshots(2, domains=3)), list(snapshots(3, domains=1))
    history.add(big[-1])
    assert len(history.domains) == 3
    history.add(small[-1])
    assert len(history.domains) == 1
    history.clear()
    assert not history.domains and history.times() == []
    with pytest.raises(ValueError):
        History(0)


def test_ring_last_copies_only_the_newest_values_across_the_wrap():
    from xentui.history import Ring

    for capacity in (1, 5, 12, 13):
        ring, kept = Ring(capacity), []
        for i in range(3 * capacity + 2):
            ring.append(float(i))
            kept = [*kept, float(i)][-capacity:]
            for n in range(1, capacity + 2):
                assert ring.last(n) == kept[-n:]
