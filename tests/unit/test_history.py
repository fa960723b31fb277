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


def test_host_sums_follow_the_model_rule_a_part_unknown_makes_the_sum_unknown():
    from tests.factories import HOST, dom, raw
    from xentui.model import CacheBank, CacheSample, DomainState, NetSample, RawSample, build_snapshot

    def nets(rx: int, second_rx: int | None) -> tuple[NetSample, ...]:
        return (NetSample("vnet0", rx_bytes=rx), NetSample("vnet1", rx_bytes=second_rx))

    def tick(t: float, second_rx: int | None) -> RawSample:
        return raw(t, dom(t, uuid="a", name="a", nets=nets(int(1000 * t), 0)),
                   dom(t, uuid="b", name="b", nets=nets(int(3000 * t), second_rx)),
                   dom(0, uuid="off", name="off", domid=None, state=DomainState.SHUTOFF))

    known = build_snapshot(tick(1.0, 0), tick(2.0, 0), seq=1)
    unknown = build_snapshot(tick(2.0, 0), tick(3.0, None), seq=2)  # b's second NIC no longer says
    history = History(capacity=4)
    for snap in (known, unknown):
        history.add(snap)
    model = [[d.rates.net_rx_bytes_s for d in s.domains if d.sample.active] for s in (known, unknown)]
    assert model == [[1000.0, 3000.0], [1000.0, None]]  # the model: b's total over its NICs is unknown
    host = history.host["net_rx_bytes_s"].values()
    assert host[0] == 4000.0  # the shut-off domain moves nothing: it is no unknown part
    assert math.isnan(host[1])  # the chart: not 1000, a partial sum the model would refuse

    def cached(occupancy: int | None) -> RawSample:
        watched = CacheSample("resctrl", banks=(CacheBank(0, occupancy),))
        unattached = CacheSample("resctrl", status="domain not attached")
        return RawSample(0.0, 0.0, HOST, (dom(1, uuid="w", cache=watched), dom(1, uuid="u", cache=unattached)))

    for seq, (occupancy, expected) in enumerate(((5 << 20, 5 << 20), (None, None)), start=3):
        snap = build_snapshot(None, cached(occupancy), seq=seq)
        assert snap.by_uuid()["w"].cache.occupancy_bytes == expected
        history.add(snap)
        last = history.host["llc_bytes"].values()[-1]
        assert (math.isnan(last) if expected is None else last == expected)  # the unattached one is no part


def test_a_host_of_unknown_memory_is_a_gap_in_its_memory_chart_never_0_used():
    from dataclasses import replace

    from tests.factories import HOST, dom, raw
    from xentui.model import build_snapshot

    history = History(capacity=4)
    for seq, host in enumerate((HOST, replace(HOST, mem_total_kib=0, mem_free_kib=0)), start=1):  # no node_exporter
        history.add(build_snapshot(None, replace(raw(float(seq), dom(1.0, uuid="a")), host=host), seq=seq))
    known, unknown = history.host["mem_used_kib"].values()
    assert known == HOST.mem_total_kib - HOST.mem_free_kib and math.isnan(unknown)


def test_many_domains_keep_fewer_ticks_within_the_budget_and_more_once_they_leave(monkeypatch):
    """The domains' series together hold at most ``domain_values`` values: past it each domain keeps its newest ticks,
    never fewer than MIN_DOMAIN_TICKS; the host's series and the times keep the full capacity."""
    from dataclasses import replace

    from xentui import history as history_module

    monkeypatch.setattr(history_module, "MIN_DOMAIN_TICKS", 5)
    history = History(capacity=100, domain_values=2000)
    few, many = list(snapshots(120, domains=2)), list(snapshots(120, domains=12))
    for snap in few[:80]:
        history.add(snap)
    web = few[0].domains[0].key
    series = sum(len(d.rings()) for d in history.domains.values())
    assert history.domain_capacity == 100 and series * 100 <= 2000  # two domains: all of it fits
    assert len(history.domains[web].series["cpu_pct"]) == 80
    for seq, snap in enumerate(many[80:], start=81):  # ten more domains come: each keeps its newest ticks
        history.add(replace(snap, seq=seq))
    rings = [ring for d in history.domains.values() for ring in d.rings()]
    assert sum(ring.capacity for ring in rings) <= 2000 and len({ring.capacity for ring in rings}) == 1
    kept = history.domains[web].series["cpu_pct"]
    assert len(kept) == history.domain_capacity < 80
    newest = [s.by_key()[web].rates.cpu_pct for s in many[120 - len(kept):]]
    assert kept.values() == pytest.approx(newest)  # the newest values, oldest first, across the cut
    assert len(history.times()) == 100 and len(history.host["cpu_pct"]) == 100
    cut = history.domain_capacity
    for seq, snap in enumerate(few[80:], start=200):  # they leave: the two left keep more again
        history.add(replace(snap, seq=seq))
    assert history.domain_capacity == 100 > cut
    assert len(history.domains[web].series["cpu_pct"]) == cut + 39  # what was kept, then each tick after the first


def test_the_budget_never_cuts_below_the_floor_nor_past_the_capacity():
    from xentui import history as history_module

    history = History(capacity=30, domain_values=10)
    for snap in snapshots(3, domains=5):
        history.add(snap)
    assert history.domain_capacity == 30  # the floor (60) is past this history's own capacity: the capacity
    small = History(capacity=500, domain_values=10)
    for snap in snapshots(2, domains=5):
        small.add(snap)
    assert small.domain_capacity == history_module.MIN_DOMAIN_TICKS


def test_rings_near_the_budget_are_not_cut_and_lengthened_by_turns(monkeypatch):
    """A domain more, then one fewer, then one more again, at the edge of the budget: one cut, then nothing."""
    from xentui import history as history_module

    monkeypatch.setattr(history_module, "MIN_DOMAIN_TICKS", 5)
    history = History(capacity=1000)
    history._fit(100)
    assert history.domain_capacity == 1000
    history.domain_values = 100 * 1000  # 100 rings fit whole, 101 do not
    history._fit(101)
    cut = history.domain_capacity
    assert cut == 990 * 7 // 8
    for series in (100, 101, 100, 102, 99):
        history._fit(series)
        assert history.domain_capacity == cut  # within the margin: no ring copied again
    history._fit(60)  # many fewer: a quarter more fits
    assert history.domain_capacity == 1000
