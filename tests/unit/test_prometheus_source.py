"""PrometheusSource on real API answers (Prometheus 2.42 scraping kumina's exporter on the lab guests, captured
by tests/prometheus/capture.py), served back from a loopback server; other dialects made from them by renaming."""

from __future__ import annotations

import copy
import json
import re
import time
from typing import Any

import pytest

from tests.prometheus.replay_server import Reply, Server, captured
from xentui.model import DomainState, HostState, build_snapshot
from xentui.sources.prometheus import PrometheusSource
from xentui.sources.prometheus.dialects import INOVEX, KUMINA, TINKOFF, XENTUI, detect

TICK, DOWN, HISTORY = "tick-kumina.json", "tick-kumina-exporter-down.json", "history-kumina.json"


def source_of(server: Server) -> PrometheusSource:
    return PrometheusSource(server.uri, timeout_s=3)


def matrix(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The captured range-vector answer's series."""
    return next(e for e in log if e["params"].get("query", "").startswith("{__name__"))["answer"]["data"]["result"]


def by(log: list[dict[str, Any]], name: str) -> dict[str, list[list[Any]]]:
    """domain -> samples of metric ``name`` in the capture."""
    return {s["metric"]["domain"]: s["values"] for s in matrix(log) if s["metric"]["__name__"] == name}


def test_a_kumina_tick_is_one_host_whose_rates_come_from_its_last_two_scrapes(serve):
    log = captured(TICK)
    source = source_of(serve(log))
    raw = source.collect()
    (part,) = raw.parts
    assert (part.name, part.state, part.reason) == ("127.0.0.1", HostState.UP, "")
    shot = build_snapshot(None, raw)
    cpu = by(log, "libvirt_domain_info_cpu_time_seconds_total")
    assert sorted(d.name for d in shot.domains) == sorted(cpu) == ["xtlab-busy", "xtlab-half", "xtlab-idle"]
    for view in shot.domains:
        (t0, a), (t1, b) = cpu[view.name][-2:]
        assert view.rates.cpu_pct == pytest.approx(100 * (float(b) - float(a)) / (t1 - t0))
        assert view.sample.host == "127.0.0.1" and view.key == f"127.0.0.1/{view.uuid}"
        assert view.sample.state is DomainState.RUNNING  # libvirt_domain_state_code 1
    (host,) = shot.hosts
    samples = cpu["xtlab-busy"]
    assert host.interval_s == pytest.approx(samples[-1][0] - samples[-2][0])  # one scrape interval: 1 s
    assert host.behind_s == pytest.approx(time.time() - samples[-1][0], abs=5)


def test_gauges_devices_and_uuids_are_the_exporters_own(serve):
    log = captured(TICK)
    raw = source_of(serve(log)).collect()
    uuids = {s["metric"]["domain"]: s["metric"]["uuid"] for s in matrix(log)
             if s["metric"]["__name__"] == "libvirt_domain_info_cpu_time_seconds_total"}
    mem = by(log, "libvirt_domain_info_memory_usage_bytes")
    vcpus = by(log, "libvirt_domain_info_virtual_cpus")
    disks = {s["metric"]["domain"]: s["metric"] for s in matrix(log)
             if s["metric"]["__name__"] == "libvirt_domain_block_stats_read_bytes_total"}
    nics = by(log, "libvirt_domain_interface_stats_receive_bytes_total")
    for d in raw.domains:
        assert d.uuid == uuids[d.name]
        assert d.mem_kib == int(float(mem[d.name][-1][1])) // 1024
        assert d.vcpus_current == int(vcpus[d.name][-1][1])
        ((disk),) = d.blocks
        assert (disk.name, disk.path) == (disks[d.name]["target_device"], disks[d.name]["source_file"])
        assert [n.rx_bytes for n in d.nets] == [int(nics[d.name][-1][1])]
        # kumina has no RSS, no maximum vCPUs, no per-vCPU times: unknown, never guessed
        assert (d.rss_kib, d.vcpus_max, d.vcpus, d.domid) == (None, None, (), None)
    assert raw.parts[0].cur.host.pcpus == 0  # no node_exporter here: the host's size is unknown


def test_the_view_says_it_is_prometheus_and_how_far_behind(serve):
    source = source_of(serve(captured(TICK)))
    raw = source.collect()
    assert re.fullmatch(r"Prometheus, \d+ s behind", raw.notices[0])
    assert raw.parts[0].cur.notices == (raw.notices[0],)
    assert raw.host.hypervisor == "Prometheus" and raw.parts[0].cur.host.hypervisor_version == "kumina exporter"
    assert source.readonly and not PrometheusSource.CAN_ACT


def test_a_stopped_exporter_makes_its_host_down_with_prometheus_reason_and_its_rows_stale(serve):
    source = source_of(serve(captured(TICK), captured(DOWN)))
    first = source.collect()
    second = source.collect()
    (part,) = second.parts
    targets = captured(DOWN)[0]["answer"]["data"]["activeTargets"]
    assert part.state is HostState.DOWN and part.reason == targets[0]["lastError"]
    assert "connection refused" in part.reason
    shot = build_snapshot(first, second)
    assert len(shot.domains) == 3
    assert all(d.sample.stale == f"host 127.0.0.1 down: {part.reason}" for d in shot.domains)
    assert not any(n.startswith("Prometheus,") for n in second.notices)  # nothing live to be behind


def test_a_host_down_since_before_xentui_started_is_down_without_rows(serve):
    raw = source_of(serve(captured(DOWN))).collect()
    (part,) = raw.parts
    assert (part.state, part.cur) == (HostState.DOWN, None) and "connection refused" in part.reason
    assert raw.domains == ()


def test_history_rates_use_the_counter_real_scrape_times(serve):
    log = captured(HISTORY)
    source = source_of(serve(captured(TICK), log))
    busy = next(d for d in source.collect().domains if d.name == "xtlab-busy")
    points = source.history(busy.key, 20)
    values, stamps = (log[i]["answer"]["data"]["result"][0]["values"] for i in (0, 1))
    assert [p.wall for p in points] == [t for t, _v in values]
    for i in range(1, len(points)):
        dt = float(stamps[i][1]) - float(stamps[i - 1][1])
        assert points[i].cpu_pct == pytest.approx(100 * (float(values[i][1]) - float(values[i - 1][1])) / dt)
    assert points[0].cpu_pct is None and all(p.mem_kib == 32768 for p in points)
    assert source.history("127.0.0.1/no-such-uuid", 20) == []


def _rename(log: list[dict[str, Any]], dialect: str) -> list[dict[str, Any]]:
    """The capture as ``dialect`` would say it (names and labels per its exporter's source)."""
    out = copy.deepcopy(log)
    series = matrix(out)
    meta = []
    for s in series:
        m = s["metric"]
        uuid = m.pop("uuid", None) if dialect in (INOVEX, TINKOFF) else m.get("uuid")
        if m["__name__"] == "libvirt_domain_state_code":
            m["__name__"] = {INOVEX: "libvirt_domain_info_state", TINKOFF: "libvirt_domain_info_vstate"}.get(
                dialect, m["__name__"])
            if dialect == TINKOFF:
                meta.append({"metric": {**m, "__name__": "libvirt_domain_info_meta", "uuid": uuid},
                             "values": [[t, "1"] for t, _v in s["values"]]})
        if m["__name__"] == "libvirt_domain_info_cpu_time_seconds_total" and dialect != KUMINA:
            meta.append({"metric": {**m, "__name__": "libvirt_domain_vcpu_time_seconds_total", "vcpu": "0"},
                         "values": s["values"]})
        if m["__name__"] == "libvirt_up" and dialect == XENTUI:
            m["__name__"] = "xentui_up"
    series.extend(meta)
    return out


@pytest.mark.parametrize("dialect", [KUMINA, INOVEX, TINKOFF, XENTUI])
def test_each_dialect_is_detected_and_mapped_through_the_one_table(serve, dialect):
    log = _rename(captured(TICK), dialect)
    raw = source_of(serve(log)).collect()
    assert raw.parts[0].cur.host.hypervisor_version == f"{dialect} exporter"
    shot = build_snapshot(None, raw)
    kumina = {d.name: d for d in build_snapshot(None, source_of(serve(captured(TICK))).collect()).domains}
    for view in shot.domains:
        same = kumina[view.name]
        assert view.rates.cpu_pct == same.rates.cpu_pct and view.sample.state is same.sample.state
        assert view.sample.mem_kib == same.sample.mem_kib
        # inovex labels no UUID: the domain is keyed by its name; Tinkoff's comes from its meta series
        assert view.uuid == (f"name:{view.name}" if dialect == INOVEX else same.uuid)
        if dialect != KUMINA:
            assert view.rates.vcpus[0].cpu_pct == same.rates.cpu_pct  # per-vCPU time, vCPU 0


def test_detection_goes_by_the_names_only_one_dialect_has():
    assert detect({"libvirt_domain_state_code", "libvirt_up"}) == KUMINA
    assert detect({"libvirt_domain_info_state", "libvirt_domain_vcpu_delay_seconds_total"}) == INOVEX
    assert detect({"libvirt_domain_info_vstate"}) == TINKOFF
    assert detect({"xentui_up", "libvirt_domain_state_code"}) == XENTUI
    assert detect({"libvirt_domain_info_cpu_time_seconds_total"}) == KUMINA  # kumina before state_code
    assert detect({"node_memory_MemTotal_bytes", "up"}) is None


def test_an_exporter_that_cannot_reach_libvirt_marks_its_host_down(serve):
    log = copy.deepcopy(captured(TICK))
    for s in matrix(log):
        if s["metric"]["__name__"] == "libvirt_up":
            s["values"] = [[t, "0"] for t, _v in s["values"]]
    (part,) = source_of(serve(log)).collect().parts
    assert part.state is HostState.DOWN and "libvirt_up 0" in part.reason


def test_node_exporter_on_the_same_address_gives_the_host_its_size(serve):
    log = captured(TICK)
    t = matrix(log)[0]["values"][-1][0]
    node = {"instance": "127.0.0.1:9100", "job": "node"}
    facts = [{"metric": node, "value": [t, "4"]},  # count by (instance): no name
             {"metric": {"__name__": "node_memory_MemTotal_bytes", **node}, "value": [t, "8589934592"]},
             {"metric": {"__name__": "node_memory_MemAvailable_bytes", **node}, "value": [t, "4294967296"]}]
    answer = {"status": "success", "data": {"resultType": "vector", "result": facts}}
    server = serve(log)
    route = server.route
    server.route = lambda path, params: (Reply(json.dumps(answer).encode())
                                         if params.get("query", "").startswith("count by") else route(path, params))
    raw = source_of(server).collect()
    (part,) = raw.parts  # node_exporter is no libvirt host of its own
    host = part.cur.host
    assert (host.pcpus, host.mem_total_kib, host.mem_free_kib) == (4, 8 * 1024 * 1024, 4 * 1024 * 1024)
    assert build_snapshot(None, raw).domains[0].rates.cpu_host_pct is not None


def test_without_a_targets_api_the_interval_is_assumed_and_said(serve):
    """Mimir and Thanos have no /api/v1/targets: Prometheus's default interval is assumed, and said."""
    server = serve(captured(TICK))
    route = server.route
    server.route = lambda path, params: (Reply(b'{"status": "error", "error": "404 page not found"}', 404)
                                         if path == "/api/v1/targets" else route(path, params))
    raw = source_of(server).collect()
    assert raw.parts[0].state is HostState.UP and len(raw.domains) == 3
    assert any("assuming 15 s" in n and "404 page not found" in n for n in raw.notices)
    window = next(q["query"] for p, q, _h in server.requests if q.get("query", "").startswith("{__name__"))
    assert window.endswith("[45000ms]")  # three scrape intervals


def _as_xentui_export(log: list[dict[str, Any]], fresh: bool = True) -> list[dict[str, Any]]:
    """The capture as ``xentui export`` says it (docs/export.md): its domain info, host size and pCPU time."""
    out = _rename(log, XENTUI)
    series = matrix(out)
    times = [t for t, _v in series[0]["values"]]
    target = {k: series[0]["metric"][k] for k in ("instance", "job")}
    for i, s in enumerate(s for s in list(series) if s["metric"]["__name__"].endswith("cpu_time_seconds_total")):
        dom = {k: s["metric"][k] for k in ("domain", "uuid")}
        series.append({"metric": {"__name__": "xentui_domain_info", **target, **dom, "domid": str(7 + i),
                                  "state": "running", "flags": "-----r"}, "values": [[t, "1"] for t in times]})
        series.append({"metric": {"__name__": "xentui_domain_stale", **target, **dom},
                       "values": [[t, "0" if fresh else "1"] for t in times]})
    for name, value in (("xentui_host_cpus", "2"), ("xentui_host_memory_total_bytes", "8589934592"),
                        ("xentui_host_memory_free_bytes", "2147483648")):
        series.append({"metric": {"__name__": name, **target}, "values": [[t, value] for t in times]})
    for pcpu in range(2):
        series.append({"metric": {"__name__": "xentui_host_pcpu_busy_seconds_total", **target, "pcpu": str(pcpu)},
                       "values": [[t, str(100 + (0.5 + pcpu / 4) * (t - times[0]))] for t in times]})
    if not fresh:
        for s in series:
            if s["metric"]["__name__"] == "xentui_up":
                s["values"] = [[t, "0"] for t in times]
        series.append({"metric": {"__name__": "xentui_scrape_error_info", **target,
                                  "reason": "no answer from libvirt within 3.75 s"}, "values": [[times[-1], "1"]]})
    return out


def test_xentui_export_gives_domain_ids_flags_the_host_size_and_pcpu_load(serve):
    raw = source_of(serve(_as_xentui_export(captured(TICK)))).collect()
    shot = build_snapshot(None, raw)
    assert sorted(d.sample.domid for d in shot.domains) == [7, 8, 9]
    assert all(d.sample.state_flags == "-----r" and d.sample.stale == "" for d in shot.domains)
    host = shot.hosts[0]
    assert (host.host.pcpus, host.host.mem_total_kib, host.host.mem_free_kib) == (2, 8 << 20, 2 << 20)
    assert host.pcpu_pct == pytest.approx((50.0, 75.0))  # its pCPU counters, through the rate model


def test_xentui_export_serving_an_old_sample_marks_its_host_stale_with_its_reason(serve):
    (part,) = source_of(serve(_as_xentui_export(captured(TICK), fresh=False))).collect().parts
    assert (part.state, part.reason) == (HostState.STALE, "no answer from libvirt within 3.75 s")


def test_a_real_xentui_export_tick_maps_its_own_families(serve):
    """Captured from Prometheus 2.42 scraping ``xentui export -c test:///default`` (branch fleet-export)."""
    log = captured("tick-xentui-export.json")
    raw = source_of(serve(log)).collect()
    (part,) = raw.parts
    assert part.state is HostState.UP and part.cur.host.hypervisor_version == "xentui exporter"
    series = {s["metric"]["__name__"]: s for s in matrix(log)}
    host = part.cur.host
    assert host.pcpus == int(float(series["xentui_host_cpus"]["values"][-1][1]))
    assert host.mem_total_kib == int(float(series["xentui_host_memory_total_bytes"]["values"][-1][1])) // 1024
    (d,) = raw.domains
    info = series["xentui_domain_info"]["metric"]
    assert (d.name, d.uuid, d.domid, d.state_flags) == (info["domain"], info["uuid"], int(info["domid"]), info["flags"])
    assert [v.pcpu for v in d.vcpus] == [int(float(s["values"][-1][1])) for s in matrix(log)
                                         if s["metric"]["__name__"] == "xentui_domain_vcpu_pcpu"]
    assert d.blocks[0].errors == int(float(series["xentui_domain_block_stats_errors_total"]["values"][-1][1]))
    assert d.vcpus_max == 2 and d.stale == ""


def test_a_prometheus_without_libvirt_exporters_says_so(serve):
    log = copy.deepcopy(captured(TICK))
    for e in log:
        if e["path"] == "/api/v1/query":
            e["answer"]["data"]["result"] = []
    raw = source_of(serve(log)).collect()
    assert raw.parts == () and raw.domains == ()
    assert "scrapes no libvirt exporter" in raw.notices[0]


def test_every_target_has_a_host_name_of_its_own():
    """The address alone when unique; address:port when two exporters share an address; job/instance when two
    jobs scrape the same instance (names are keys: the host list and routing need them unique)."""
    source = PrometheusSource("prometheus+http://127.0.0.1:1")
    try:
        keys = {("libvirt", "10.0.0.1:9177"), ("libvirt", "10.0.0.2:9177"), ("xentui", "10.0.0.2:9300"),
                ("libvirt", "10.0.0.3:9177"), ("libvirt-b", "10.0.0.3:9177")}
        names = source._names(keys, keys)
    finally:
        source.close()
    assert names[("libvirt", "10.0.0.1:9177")] == "10.0.0.1"
    assert {names[("libvirt", "10.0.0.2:9177")], names[("xentui", "10.0.0.2:9300")]} == {"10.0.0.2:9177",
                                                                                         "10.0.0.2:9300"}
    assert {names[("libvirt", "10.0.0.3:9177")], names[("libvirt-b", "10.0.0.3:9177")]} == {
        "libvirt/10.0.0.3:9177", "libvirt-b/10.0.0.3:9177"}
    assert len(set(names.values())) == len(names)
