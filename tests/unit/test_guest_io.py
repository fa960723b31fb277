"""Disk latency (ms per request) and STEAL(%): libvirt's records parsed, the rate model, JSON/CSV, columns, config."""

from __future__ import annotations

import json

import pytest

from tests.factories import dom, raw
from xentui import config
from xentui.model import BlockSample, VcpuSample, build_snapshot
from xentui.model.latency import ms_per_request
from xentui.output import records
from xentui.sources.libvirt.bulk_stats import parse_stats
from xentui.ui import columns as cols
from xentui.ui import frame, presence

UUID = "11111111-2222-3333-4444-555555555555"
MS = 1_000_000


def record(rd: tuple[int, int], wr: tuple[int, int], fl: tuple[int, int] | None = None, *,
           disks: int = 1, times: bool = True) -> dict[str, object]:
    """A bulk-stats record as libvirt's QEMU driver gives it: (reqs, times ns) per kind, the same on each disk."""
    rec: dict[str, object] = {"state.state": 1, "cpu.time": 10**9, "block.count": disks}
    for i in range(disks):
        rec |= {f"block.{i}.name": f"vd{'abcd'[i]}", f"block.{i}.path": f"/img/{i}.qcow2",
                f"block.{i}.rd.reqs": rd[0], f"block.{i}.rd.bytes": rd[0] * 4096,
                f"block.{i}.wr.reqs": wr[0], f"block.{i}.wr.bytes": wr[0] * 4096}
        if times:
            rec |= {f"block.{i}.rd.times": rd[1], f"block.{i}.wr.times": wr[1]}
            if fl is not None:
                rec |= {f"block.{i}.fl.reqs": fl[0], f"block.{i}.fl.times": fl[1]}
    return rec


def test_request_times_are_read_from_the_bulk_record():
    block = parse_stats(UUID, "g", 3, record((10, 40 * MS), (5, 100 * MS), (2, 6 * MS))).blocks[0]
    assert (block.rd_reqs, block.rd_times_ns, block.wr_reqs, block.wr_times_ns) == (10, 40 * MS, 5, 100 * MS)
    assert (block.fl_reqs, block.fl_times_ns) == (2, 6 * MS)
    # The test driver and Xen give no times: unknown, not 0
    bare = parse_stats(UUID, "g", 3, record((10, 0), (5, 0), times=False)).blocks[0]
    assert (bare.rd_times_ns, bare.wr_times_ns, bare.fl_reqs, bare.fl_times_ns) == (None, None, None, None)
    # A hostile value is no counter
    assert parse_stats(UUID, "g", 3, record((10, -5), (5, 2**70))).blocks[0].rd_times_ns is None


def test_ms_per_request_over_the_same_requests():
    assert ms_per_request((100, 150), (0, 1000 * MS)) == pytest.approx(20.0)  # 50 reads in 1 s of time: 20 ms
    assert ms_per_request((100, 100), (5 * MS, 5 * MS)) is None  # no request: no latency, not 0
    assert ms_per_request((100, 90), (0, MS)) is None  # reset
    assert ms_per_request((1, 2), (5 * MS, 4 * MS)) is None  # time went back
    assert ms_per_request((None, 2), (0, MS)) is None


def snapshot_of(a: dict[str, object], b: dict[str, object], seconds: float = 2.0):
    return build_snapshot(raw(0.0, parse_stats(UUID, "g", 3, a)), raw(seconds, parse_stats(UUID, "g", 3, b)))


def test_domain_latency_weighs_every_disks_requests():
    a = record((100, 1000 * MS), (10, 50 * MS), (0, 0), disks=2)
    b = record((200, 1000 * MS + 100 * 4 * MS), (10, 50 * MS), (4, 8 * MS), disks=2)
    b["block.1.rd.reqs"], b["block.1.rd.times"] = 102, 1000 * MS + 2 * 40 * MS  # the second disk: 2 slow reads
    view = snapshot_of(a, b).domains[0]
    r = view.rates
    assert r.blk_rd_ms == pytest.approx((400 + 80) / 102)  # all the reads together, not the mean of two disks
    assert r.blk_wr_ms is None  # no write in the interval
    assert [(x.name, x.rd_ms, x.wr_ms, x.fl_ms) for x in r.blk_latency] == [
        ("vda", pytest.approx(4.0), None, pytest.approx(2.0)), ("vdb", pytest.approx(40.0), None, pytest.approx(2.0))]
    got = json.loads(records.json_frame(snapshot_of(a, b), 1))["domains"][0]
    assert got["vbd_rd_ms_per_req"] == pytest.approx(4.706, abs=0.001)
    assert got["vbd_wr_ms_per_req"] is None
    assert [(d["name"], d["rd_ms_per_req"], d["fl_ms_per_req"]) for d in got["vbd_list"]] == [
        ("vda", 4.0, 2.0), ("vdb", 40.0, 2.0)]
    assert got["vbd_list"][0]["rd_times_ns"] == 1400 * MS
    row = records.csv_rows(snapshot_of(a, b), 1).split(",")
    header = records.csv_header().strip().split(",")
    assert row[header.index("vbd_rd_ms_per_req")] == "4.706"


def test_domain_latency_is_unknown_where_one_disks_counters_are():
    a = record((100, 1000 * MS), (10, 50 * MS), disks=2)
    b = record((200, 1400 * MS), (20, 90 * MS), disks=2)
    assert snapshot_of(a, b).domains[0].rates.blk_rd_ms == pytest.approx(4.0)
    for unknown in ("block.1.rd.times", "block.1.rd.reqs"):  # a partial sum would lie
        lost = dict(b)
        del lost[unknown]
        r = snapshot_of(a, lost).domains[0].rates
        assert r.blk_rd_ms is None and r.blk_wr_ms == pytest.approx(4.0), unknown
    reset = dict(b) | {"block.1.rd.reqs": 5}  # one disk's counter went back
    assert snapshot_of(a, reset).domains[0].rates.blk_rd_ms is None


def test_no_latency_where_no_times_or_a_disk_changed():
    plain = snapshot_of(record((1, 0), (1, 0), times=False), record((9, 0), (9, 0), times=False)).domains[0]
    assert (plain.rates.blk_rd_ms, plain.rates.blk_latency) == (None, ())
    assert "vbd_rd_ms_per_req" in records.domain_record(plain) and "rd_ms_per_req" not in json.loads(
        records.json_frame(snapshot_of(record((1, 0), (1, 0), times=False), record((9, 0), (9, 0), times=False)),
                           1))["domains"][0]["vbd_list"][0]
    a, b = record((1, MS), (1, MS)), record((9, 9 * MS), (1, MS))
    b["block.0.name"] = "vdz"  # hot-plugged: no rate across it
    assert snapshot_of(a, b).domains[0].rates.blk_rd_ms is None
    a["block.0.wr.times"] = None  # one disk's time unknown: the domain's sum would lie
    assert snapshot_of(a, record((9, 9 * MS), (3, 5 * MS))).domains[0].rates.blk_wr_ms is None


def vcpus(*delays_ms: int | None, offline: tuple[int, ...] = ()) -> tuple[VcpuSample, ...]:
    return tuple(VcpuSample(n, online=n not in offline, time_ns=0, delay_ns=None if d is None else d * MS)
                 for n, d in enumerate(delays_ms))


def test_steal_is_the_online_vcpus_delay_rates_summed():
    a, b = dom(1, vcpus=vcpus(0, 0, 0, 0), vcpus_current=4), dom(2, vcpus=vcpus(100, 250, 50, 0), vcpus_current=4)
    view = build_snapshot(raw(0, a), raw(1, b)).domains[0]
    assert view.rates.steal_pct == pytest.approx(40.0)  # 0.4 s of steal in 1 s: 40 % of one pCPU
    assert records.domain_record(view)["steal_pct"] == 40.0
    # An offline vCPU is left out; an online one without a delay makes the sum unknown
    off = build_snapshot(raw(0, dom(1, vcpus=vcpus(0, None, offline=(1,)))),
                         raw(1, dom(2, vcpus=vcpus(300, None, offline=(1,)))))
    assert off.domains[0].rates.steal_pct == pytest.approx(30.0)
    gap = build_snapshot(raw(0, dom(1, vcpus=vcpus(0, None))), raw(1, dom(2, vcpus=vcpus(300, None))))
    assert gap.domains[0].rates.steal_pct is None
    assert build_snapshot(raw(0, dom(1)), raw(1, dom(2))).domains[0].rates.steal_pct is None  # no vCPUs known


def test_steal_level_is_its_share_of_the_vcpus_and_configurable(tmp_path):
    a = dom(1, vcpus=vcpus(0, 0, 0, 0), vcpus_current=4)
    view = build_snapshot(raw(0, a), raw(1, dom(2, vcpus=vcpus(100, 100, 100, 100), vcpus_current=4))).domains[0]
    col = cols.BY_KEY["steal_pct"]
    assert col.text(view, cols.Context()) == "40.0"
    assert col.level(view, cols.Context()) == "warn"  # 10 % of each vCPU's time: the default warn
    assert col.level(view, cols.Context(steal_levels=(2.0, 5.0))) == "crit"
    assert col.level(view, cols.Context(steal_levels=(20.0, 50.0))) is None
    path = tmp_path / "config.toml"
    path.write_text("steal_warn_pct = 2\nsteal_crit_pct = 5.5\n")
    settings, problems = config.load(path, env={})
    assert (settings.steal_levels, problems) == ((2.0, 5.5), [])
    settings, problems = config.load(path, env={"XENTUI_STEAL_CRIT_PCT": "lots"})
    assert settings.steal_crit_pct == 5.5
    assert problems == ["environment: steal_crit_pct 'lots' must be a percentage from 0 to 100, e.g. 10"]
    assert config.load(path, env={"XENTUI_STEAL_WARN_PCT": "nan"})[1][0].endswith("from 0 to 100, e.g. 10")
    config.save(settings, path)
    assert config.load(path, env={})[0].steal_levels == (2.0, 5.5)


def test_latency_columns_show_only_where_disks_report_times():
    timed = snapshot_of(record((1, MS), (1, MS)), record((3, 5 * MS), (1, MS)))
    plain = snapshot_of(record((1, 0), (1, 0), times=False), record((3, 0), (1, 0), times=False))
    assert frame.conditional(timed) >= presence.LATENCY_COLUMNS
    assert not presence.LATENCY_COLUMNS & frame.conditional(plain)
    assert {"rd_ms", "wr_ms"} <= frame.measured(timed) and not {"rd_ms", "wr_ms"} & frame.measured(plain)
    view = timed.domains[0]
    assert (cols.BY_KEY["rd_ms"].text(view, cols.Context()), cols.BY_KEY["wr_ms"].text(view, cols.Context())) == (
        "2.00", "-")
    assert cols.ms_text(123.44) == "123.4" and cols.ms_text(0.054) == "0.05"
    assert [c.key for c in cols.listed(False, frame.measured(timed))][-2:] == ["rd_ms", "wr_ms"]


def test_block_sample_defaults_keep_other_sources_unknown():
    b = BlockSample("xvda", rd_reqs=1)
    assert (b.rd_times_ns, b.wr_times_ns, b.fl_reqs, b.fl_times_ns) == (None, None, None, None)


def test_disk_latency_levels_default_and_configurable(tmp_path):
    a = record((100, 0), (10, 0))
    view = snapshot_of(a, record((110, 10 * 60 * MS), (20, 10 * 250 * MS))).domains[0]  # reads 60 ms, writes 250 ms
    rd, wr = cols.BY_KEY["rd_ms"], cols.BY_KEY["wr_ms"]
    assert (rd.level(view, cols.Context()), wr.level(view, cols.Context())) == ("warn", "crit")  # 50 / 200 ms
    assert rd.level(view, cols.Context(disk_ms_levels=(70.0, 300.0))) is None
    idle = snapshot_of(a, a).domains[0]
    assert rd.level(idle, cols.Context()) is None  # no request: no level
    path = tmp_path / "config.toml"
    path.write_text("disk_warn_ms = 5\ndisk_crit_ms = 20.5\n")
    settings, problems = config.load(path, env={})
    assert (settings.disk_ms_levels, problems) == ((5.0, 20.5), [])
    settings, problems = config.load(path, env={"XENTUI_DISK_CRIT_MS": "-1"})
    assert settings.disk_crit_ms == 20.5
    assert problems == ["environment: disk_crit_ms '-1' must be milliseconds from 0 to 60000, e.g. 50"]
