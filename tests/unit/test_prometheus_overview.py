"""The Prometheus tick at scale: per-figure instant queries at one time, the previous scrape kept from the
last tick, and per-vCPU and error series only for the domain looked at (served from captured raw samples)."""

from __future__ import annotations

import copy

import pytest

import xentui.sources.prometheus as prom
from tests.prometheus.replay_server import Server, captured
from tests.unit.test_prometheus_source import TICK, _rename
from xentui.model import build_snapshot
from xentui.sources.prometheus import PrometheusSource
from xentui.sources.prometheus import overview as ov
from xentui.sources.prometheus.dialects import INOVEX


def queries(server: Server) -> list[dict[str, str]]:
    return [q for path, q, _h in server.requests if path == "/api/v1/query"]


def test_one_tick_asks_every_query_at_one_time_and_no_raw_samples_of_every_series(serve):
    s = serve(captured(TICK))
    source = PrometheusSource(s.uri, timeout_s=3)
    source.collect()
    asked = queries(s)
    assert len({q["time"] for q in asked}) == 1  # one evaluation time: every answer is of the same scrapes
    raw = [q["query"] for q in asked if q["query"].endswith("ms]")]
    assert raw == ['{__name__=~"libvirt_up|xentui_up"}[3000ms]']  # only the exporters' health series, raw
    cpu = next(q["query"] for q in asked if "cpu_time" in q["query"] and "idelta" not in q["query"])
    assert cpu == "max by (job, instance, uuid, domain) (libvirt_domain_info_cpu_time_seconds_total)"


def test_the_next_tick_keeps_the_scrape_read_before_and_asks_no_previous_values(serve):
    s = serve(captured(TICK))
    source = PrometheusSource(s.uri, timeout_s=3)
    first = build_snapshot(None, source.collect())
    assert any("idelta(" in q["query"] for q in queries(s))  # no earlier scrape: the previous values asked
    s.requests.clear()
    second = build_snapshot(None, source.collect())
    assert not any("idelta(" in q["query"] for q in queries(s))
    assert [d.rates.cpu_pct for d in second.domains] == [d.rates.cpu_pct for d in first.domains]
    assert all(d.rates.cpu_pct is not None for d in second.domains)


def test_at_scale_per_vcpu_series_are_read_only_for_the_domain_looked_at(serve, monkeypatch):
    log = _rename(captured(TICK), INOVEX)  # inovex has per-vCPU times
    small = {d.name: d for d in build_snapshot(None, PrometheusSource(serve(log).uri, timeout_s=3).collect()).domains}
    assert all(d.rates.vcpus for d in small.values())  # a small fleet: every figure of every domain
    monkeypatch.setattr(prom, "DETAIL_DOMAINS", 2)  # three domains are "many" now
    s = serve(log)
    source = PrometheusSource(s.uri, timeout_s=3)
    source.collect()  # the first tick of a few targets takes the fleet for small
    s.requests.clear()
    shot = build_snapshot(None, source.collect())
    assert not any("vcpu_time" in q["query"] for q in queries(s))
    assert all(d.sample.vcpus == () and d.rates.cpu_pct == small[d.name].rates.cpu_pct for d in shot.domains)
    looked = shot.domains[0]
    source.set_interest(looked.key)
    s.requests.clear()
    shot = build_snapshot(None, source.collect())
    asked = [q["query"] for q in queries(s)]
    assert not any("vcpu_time" in q for q in asked) and sum(q.endswith("ms]") for q in asked) == 2
    for view in shot.domains:
        if view.name == looked.name:
            assert view.rates.vcpus[0].cpu_pct == small[view.name].rates.vcpus[0].cpu_pct
        else:
            assert view.sample.vcpus == ()
    source.set_interest(None)
    s.requests.clear()
    source.collect()
    assert sum(q["query"].endswith("ms]") for q in queries(s)) == 1  # looked away: read no more


def test_the_collector_is_paused_while_ticks_run_and_resumed_after_the_last():
    import gc

    from xentui.sources.prometheus.overview import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # another source's tick at the same time
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a failed tick")
    assert gc.isenabled()


def test_a_big_fleet_first_tick_asks_no_previous_values_and_has_no_rates_yet(serve, monkeypatch):
    monkeypatch.setattr(prom, "DETAIL_TARGETS", 0)  # one target is "many" now: the fleet is taken for big
    s = serve(captured(TICK))
    raw = PrometheusSource(s.uri, timeout_s=3).collect()
    assert not any("idelta(" in q["query"] for q in queries(s))  # the tick is not doubled
    assert raw.parts[0].prev is None and len(raw.domains) == 3
    assert all(d.rates.cpu_pct is None for d in build_snapshot(None, raw).domains)  # unknown, not 0


def test_a_tick_reads_before_any_scrape_begun_since_a_targets_last():
    # B's next scrape began at 100.5 (its last + interval), before A's last finished one at 101: it may be in
    # flight, stored between two of the tick's queries.  Read as of 50 ms before it; a target whose last scrape
    # failed (interval 0) holds nothing back; a late one holds the time back by one interval at most.
    assert ov.evaluation_time([(101.0, 1.0), (99.5, 1.0)]) == pytest.approx(100.45)
    assert ov.evaluation_time([(101.0, 1.0), (100.2, 1.0)]) == 101.0  # B's next begins after: nothing held
    assert ov.evaluation_time([(101.0, 1.0), (90.0, 0.0)]) == 101.0
    assert ov.evaluation_time([(101.0, 1.0), (90.0, 1.0)]) == 100.0
    assert ov.evaluation_time([]) is None


def test_the_tick_asks_at_the_time_before_a_scrape_in_flight(serve):
    log = copy.deepcopy(captured(TICK))
    targets = log[0]["answer"]["data"]["activeTargets"]
    a = targets[0]
    last_a = ov.instant(a["lastScrape"])
    b = copy.deepcopy(a)  # a second exporter, its last scrape 1.5 intervals before A's: its next is in flight
    b["labels"]["instance"] = b["discoveredLabels"]["__address__"] = "127.0.0.1:1"
    b["lastScrape"] = a["lastScrape"].replace(a["lastScrape"][17:19], f"{int(a['lastScrape'][17:19]) - 2:02d}")
    last_b = ov.instant(b["lastScrape"])
    assert last_b is not None and last_a is not None and last_b + 1.0 < last_a
    targets.append(b)
    s = serve(log)
    PrometheusSource(s.uri, timeout_s=3).collect()
    times = {float(q["time"]) for q in queries(s)}
    assert len(times) == 1 and times.pop() < last_b + 1.0


def test_back_from_libvirt_down_the_rate_spans_the_scrapes_with_figures(serve):
    """The scrape in the middle found libvirt down (libvirt_up 0, no domain series): the first tick after asks
    each counter's idelta, the difference to the scrape before that one; the rate spans both intervals."""
    log = copy.deepcopy(captured(TICK))
    series = next(e for e in log if e["params"].get("query", "").startswith("{__name__"))["answer"]["data"]["result"]
    middle = series[0]["values"][1][0]
    cpu = {}
    for s in series:
        if s["metric"]["__name__"] == "libvirt_up":
            s["values"][1][1] = "0"
        else:
            s["values"] = [v for v in s["values"] if v[0] != middle]
        if s["metric"]["__name__"] == "libvirt_domain_info_cpu_time_seconds_total":
            cpu[s["metric"]["domain"]] = s["values"]
    shot = build_snapshot(None, PrometheusSource(serve(log).uri, timeout_s=3).collect())
    assert shot.domains
    for view in shot.domains:
        (t0, a), (t1, b) = cpu[view.name]
        assert t1 - t0 == pytest.approx(2.0)
        assert view.rates.cpu_pct == pytest.approx(100 * (float(b) - float(a)) / (t1 - t0))


def test_at_scale_the_rare_gauges_are_read_every_rare_s_and_after_a_domain_appears(serve, monkeypatch):
    monkeypatch.setattr(prom, "DETAIL_DOMAINS", 2)  # three domains are "many" now
    monkeypatch.setattr(prom, "DETAIL_TARGETS", 0)
    s = serve(captured(TICK))
    source = PrometheusSource(s.uri, timeout_s=3)

    def tick() -> tuple[set[str], dict[str, tuple[int | None, int | None]]]:
        s.requests.clear()
        raw = source.collect()
        asked = {q["query"] for q in queries(s)}
        return asked, {d.name: (d.maxmem_kib, d.vcpus_current) for d in raw.domains}

    rare = {"max by (job, instance, uuid, domain) (libvirt_domain_info_maximum_memory_bytes)",
            "max by (job, instance, uuid, domain) (libvirt_domain_info_virtual_cpus)"}
    asked, read = tick()
    assert rare <= asked and all(m is not None and v for m, v in read.values())
    asked, kept = tick()  # within RARE_S: not asked, the figures as read
    assert not rare & asked and kept == read
    assert any("memory_usage" in q for q in asked)  # memory and state: every tick
    source._rare.domains[next(iter(source._rare.domains))].clear()  # as if every domain were new
    asked, _ = tick()
    assert not rare & asked  # the tick that sees new domains has no kept answer for them...
    asked, again = tick()
    assert rare <= asked and again == read  # ...the next one reads them
    source._rare.at -= ov.RARE_S
    asked, _ = tick()
    assert rare <= asked  # RARE_S later: read again
