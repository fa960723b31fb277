"""Memory as the guest sees it: balloon statistics from bulk-stats records the tests build, GMEM(%), the swap and
fault rates over the guest's own updates, the memory cells' levels, JSON/CSV, config, the stats period."""

from __future__ import annotations

import csv
import io
import json
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest

from tests.factories import HOST, LibvirtFailure, dom, raw, wait_for
from xentui import config
from xentui.alerts.figures import DOMAIN as FIGURES
from xentui.guest_config import GuestOptions, parse
from xentui.model import BalloonStats, RawSample, build_snapshot
from xentui.output import records
from xentui.sources.libvirt.balloon import StatsPeriod, balloon_stats, stats_period
from xentui.sources.libvirt.bulk_stats import parse_stats
from xentui.ui import columns as cols
from xentui.ui.frame import conditional, measured
from xentui.ui.guest_mem_render import guest_mem_lines

UUID = "11111111-2222-3333-4444-555555555555"
T0 = 1_700_000_000  # raw()'s wall clock at t = 0


def record(**balloon: int) -> dict[str, object]:
    """A bulk-stats record of a running 1 GiB QEMU guest with ``balloon.<key>`` figures (``last_update`` for
    ``balloon.last-update``)."""
    rec: dict[str, object] = {"state.state": libvirt.VIR_DOMAIN_RUNNING, "cpu.time": 10**9,
                              "balloon.current": 1048576, "balloon.maximum": 1048576, "balloon.rss": 900000}
    for key, value in balloon.items():
        rec["balloon." + key.replace("last_update", "last-update")] = value
    return rec


GUEST = {"available": 1_000_000, "usable": 750_000, "unused": 500_000, "disk_caches": 225_000,
         "swap_in": 0, "swap_out": 0, "major_fault": 100, "minor_fault": 5000}


def test_a_record_s_balloon_figures_become_the_model_s() -> None:
    d = parse_stats(UUID, "web", 3, record(**GUEST, last_update=T0))
    assert d.balloon == BalloonStats(available_kib=1_000_000, usable_kib=750_000, unused_kib=500_000,
                                     disk_caches_kib=225_000, swap_in_kib=0, swap_out_kib=0, major_faults=100,
                                     minor_faults=5000, last_update=T0)
    assert d.balloon.used_kib == 250_000  # MemTotal - MemAvailable
    assert d.balloon.used_pct == pytest.approx(25.0)


def test_no_guest_figures_no_balloon_stats() -> None:
    """A guest without a balloon driver (the boot-sector lab guests): libvirt gives only current/maximum/rss."""
    assert parse_stats(UUID, "web", 3, record()).balloon is None
    assert parse_stats(UUID, "web", 3, record(swap_in=5, last_update=T0)).balloon is None


def test_hostile_figures_are_unknown_not_numbers() -> None:
    rec = record(**GUEST)
    rec.update({"balloon.usable": "750000", "balloon.unused": -1, "balloon.major_fault": True,
                "balloon.disk_caches": 2**70})
    b = balloon_stats(rec)
    assert b is not None
    assert (b.usable_kib, b.unused_kib, b.major_faults, b.disk_caches_kib) == (None, None, None, None)
    assert b.used_kib is None and b.used_pct is None  # neither MemAvailable nor free + caches: no guess


def test_without_memavailable_the_caches_are_taken_out() -> None:
    """A guest kernel older than 4.6 sends no MemAvailable: MemTotal - MemFree - page cache."""
    b = BalloonStats(available_kib=1000, unused_kib=300, disk_caches_kib=200)
    assert b.used_kib == 500 and b.used_pct == pytest.approx(50.0)
    assert BalloonStats(available_kib=0, usable_kib=0).used_pct is None


def sample(t: float, last_update: int | None, domid: int = 3, **figures: int) -> RawSample:
    stats = {**GUEST, **figures}
    rec = record(**stats) if last_update is None else record(**stats, last_update=last_update)
    return raw(t, parse_stats(UUID, "web", domid, rec))


def test_rates_span_the_guest_s_own_updates() -> None:
    """Ticks 3 s apart, the guest's figures 2 s apart (period 2): the rates are over those 2 s."""
    prev = sample(0.0, T0 - 1, swap_in=1000, major_fault=100, swap_out=0, minor_fault=5000)
    cur = sample(3.0, T0 + 1, swap_in=1400, major_fault=700, swap_out=64, minor_fault=6000)
    g = build_snapshot(prev, cur).domains[0].guest_mem
    assert g is not None
    assert g.swap_in_kib_s == pytest.approx(200.0)
    assert g.major_faults_s == pytest.approx(300.0)
    assert g.swap_out_kib_s == pytest.approx(32.0)
    assert g.minor_faults_s == pytest.approx(500.0)
    assert g.used_pct == pytest.approx(25.0)
    assert g.age_s == pytest.approx(2.0)  # wall T0 + 3, last update T0 + 1


def test_no_new_figures_no_rates() -> None:
    prev = sample(0.0, T0, swap_in=1000)
    cur = sample(3.0, T0, swap_in=1000)
    g = build_snapshot(prev, cur).domains[0].guest_mem
    assert g is not None and g.used_pct == pytest.approx(25.0)
    assert (g.swap_in_kib_s, g.major_faults_s) == (None, None)


def test_without_a_time_stamp_the_tick_is_the_window() -> None:
    g = build_snapshot(sample(0.0, None, swap_in=0), sample(4.0, None, swap_in=400)).domains[0].guest_mem
    assert g is not None and g.swap_in_kib_s == pytest.approx(100.0) and g.age_s is None


def test_a_restart_or_a_reset_counter_gives_no_rate() -> None:
    restarted = build_snapshot(sample(0.0, T0 - 2, swap_in=500), sample(3.0, T0, domid=4, swap_in=900))
    assert restarted.domains[0].guest_mem.swap_in_kib_s is None
    reset = build_snapshot(sample(0.0, T0 - 2, major_fault=900), sample(3.0, T0, major_fault=10))
    assert reset.domains[0].guest_mem.major_faults_s is None


def test_figures_from_long_ago_are_not_shown_as_now() -> None:
    """The stats period off: QEMU keeps what the guest sent at boot; GMEM(%) says nothing rather than lie."""
    g = build_snapshot(sample(0.0, T0 - 600), sample(3.0, T0 - 600)).domains[0].guest_mem
    assert g is not None and g.used_pct is None and g.age_s == pytest.approx(603.0)
    assert "stats period is off" in guest_mem_lines(build_snapshot(None, sample(3.0, T0 - 600)).domains[0])[1]


def test_the_memory_cells_turn_warn_and_crit_on_the_guest_s_pressure() -> None:
    quiet = build_snapshot(sample(0.0, T0 - 2), sample(3.0, T0)).domains[0]
    swapping = build_snapshot(sample(0.0, T0 - 2, swap_in=0), sample(3.0, T0, swap_in=256)).domains[0]  # 128 KiB/s
    faulting = build_snapshot(sample(0.0, T0 - 2, major_fault=0), sample(3.0, T0, major_fault=4000)).domains[0]
    ctx = cols.Context()
    mem, gmem = cols.BY_KEY["mem"], cols.BY_KEY["gmem_pct"]
    assert quiet.mem_pct == pytest.approx(25.0)  # 1 GiB of the 4 GiB host: below the host share's levels
    assert [mem.level(v, ctx) for v in (quiet, swapping, faulting)] == [None, "warn", "crit"]
    assert [gmem.level(v, ctx) for v in (quiet, swapping, faulting)] == [None, "warn", "crit"]
    strict = cols.Context(guest=GuestOptions(swap_in_warn_kib_s=1, swap_in_crit_kib_s=100))
    assert gmem.level(swapping, strict) == "crit"
    assert gmem.text(quiet, ctx) == "25.0"


def test_gmem_is_a_column_only_where_a_guest_reports() -> None:
    with_guest = build_snapshot(None, sample(0.0, T0))
    without = build_snapshot(None, raw(0.0, dom(1.0)))
    assert "gmem_pct" in conditional(with_guest) and "gmem_pct" not in conditional(without)
    assert "gmem_pct" in measured(with_guest) and "gmem_pct" not in measured(without)
    assert "gmem_pct" in cols.DEFAULT_COLUMNS


def test_json_and_csv_carry_gmem_and_the_raw_figures() -> None:
    shot = build_snapshot(sample(0.0, T0 - 2, swap_in=0), sample(3.0, T0, swap_in=256))
    frame = json.loads(records.json_frame(shot, 1))
    d = frame["domains"][0]
    assert d["guest_mem_used_pct"] == 25.0
    assert (d["guest_mem_total_kib"], d["guest_mem_available_kib"], d["guest_mem_free_kib"]) == (
        1_000_000, 750_000, 500_000)
    assert (d["guest_mem_caches_kib"], d["guest_mem_used_kib"], d["guest_swap_in_kib_per_s"]) == (
        225_000, 250_000, 128.0)
    rows = list(csv.DictReader(io.StringIO(records.csv_header() + records.csv_rows(shot, 1))))
    assert rows[0]["guest_mem_used_pct"] == "25.0" and rows[0]["guest_major_faults"] == "100"
    plain = json.loads(records.json_frame(build_snapshot(None, raw(0.0, dom(1.0))), 1))["domains"][0]
    assert plain["guest_mem_used_pct"] is None and plain["guest_mem_total_kib"] is None


def test_alert_figure_gmem_pct() -> None:
    view = build_snapshot(None, sample(0.0, T0)).domains[0]
    assert FIGURES["gmem_pct"][1](view) == pytest.approx(25.0)
    assert FIGURES["gmem_pct"][1](build_snapshot(None, raw(0.0, dom(1.0))).domains[0]) is None


def test_the_guest_table_is_read_checked_and_saved(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("delay = 2\n[guest]\nballoon_stats_period_s = 2\nmajor_faults_crit_s = 500\n")
    settings, problems = config.load(path, env={})
    assert problems == [] and settings.guest == GuestOptions(balloon_stats_period_s=2, major_faults_crit_s=500)
    assert config.save(settings, path) is None
    assert config.load(path, env={})[0] == settings
    for bad, says in (("balloon_stats_period_s = 2.5", "whole seconds"), ("balloon_stats_period_s = -1", "from 0"),
                      ("period = 2", "not a setting"), ("swap_in_warn_kib_s = 5000", "warn level is above"),
                      ('swap_in_crit_kib_s = "x"', "must be a number")):
        path.write_text(f"[guest]\n{bad}\n")
        settings, problems = config.load(path, env={})
        assert len(problems) == 1 and says in problems[0] and "\n" not in problems[0], problems
        assert settings.guest == GuestOptions()
    with pytest.raises(ValueError, match=r"\[guest\] table"):
        parse("2")


def test_the_stats_period_in_a_domain_s_xml() -> None:
    def period(devices: str) -> int | None:
        return stats_period(ET.fromstring(f"<domain><devices>{devices}</devices></domain>"))

    assert period("<memballoon model='virtio'><stats period='5'/></memballoon>") == 5
    assert period("<memballoon model='virtio'/>") == 0
    assert period("<memballoon model='virtio'><stats period='\uff15'/></memballoon>") == 0  # not ASCII digits
    assert period("<memballoon model='none'/>") is None
    assert period("") is None


class FakeDomain:
    """A domain whose setMemoryStatsPeriod is noted, or refused the way libvirt refuses."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.calls: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def setMemoryStatsPeriod(self, period: int, flags: int) -> int:  # libvirt's name
        with self.lock:
            self.calls.append((period, flags))
        if self.refuse:
            raise LibvirtFailure("Requested operation is not valid: domain has no memballoon",
                                 libvirt.VIR_ERR_OPERATION_INVALID)
        return 0


def test_the_period_is_set_live_once_per_incarnation_where_it_is_0() -> None:
    setter = StatsPeriod()
    off, on, refusing = FakeDomain(), FakeDomain(), FakeDomain(refuse=True)
    due = [(off, "off", ("u1", 1), 0), (on, "on", ("u2", 2), 5), (refusing, "bad", ("u3", 3), 0)]
    assert setter.apply(due) == []  # period_s 0 (the default): nothing touched
    setter.period_s = 2
    assert setter.apply(due) == []
    wait_for(lambda: off.calls and refusing.calls, "the thread's calls")
    problems: list[str] = []
    wait_for(lambda: problems.extend(setter.apply(due)) or problems, "the refusal reported")
    assert off.calls == [(2, libvirt.VIR_DOMAIN_AFFECT_LIVE)] and on.calls == []
    assert len(problems) == 1 and problems[0].startswith("bad: the balloon's stats period was not set")
    assert "no memballoon" in problems[0]
    setter.apply(due)
    assert len(off.calls) == 1 and len(refusing.calls) == 1  # never asked again for that incarnation
    setter.prune({("u1", 1)})
    setter.apply([(off, "off", ("u1", 9), 0)])  # restarted: a new incarnation
    wait_for(lambda: len(off.calls) == 2, "the new incarnation's call")
    setter.close()


def test_the_libvirt_source_sets_it_only_read_write() -> None:
    from xentui.sources.libvirt import LibvirtSource

    readonly = LibvirtSource("test:///default")
    try:
        assert "--write" in (readonly.set_balloon_stats_period(2) or "")
    finally:
        readonly.close()
    source = LibvirtSource("test:///default", readonly=False)
    try:
        assert source.set_balloon_stats_period(3) is None

        def xml_says_3() -> bool:
            source.collect()
            xml = source.conn.lookupByName("test").XMLDesc(0)
            return stats_period(ET.fromstring(xml)) == 3

        wait_for(xml_says_3, "the test domain's stats period set to 3")
    finally:
        source.close()
    assert HOST.mem_total_kib  # the factories' host is what sample() builds on


def test_a_fleet_tells_each_host(tmp_path: Path) -> None:
    from tests.libvirt_test_driver import domain_xml, node_xml
    from xentui.sources.fleet import FleetSource, HostSpec

    path = tmp_path / "host.xml"
    guest = domain_xml("web", "aaaaaaaa-0000-4000-8000-000000000001", 262144, "/img/web.img", "tap0")
    path.write_text(node_xml([guest.replace("</devices>", "<memballoon model='virtio'/></devices>")], 1, 2, 1,
                             8388608))
    readonly = FleetSource([HostSpec("h0", f"test://{path}")])
    try:
        assert "read-only" in (readonly.set_balloon_stats_period(2) or "")
    finally:
        readonly.close()
    fleet = FleetSource([HostSpec("h0", f"test://{path}")], readonly=False)
    try:
        assert fleet.set_balloon_stats_period(2) is None

        def web_period() -> int | None:
            fleet.collect()
            member = fleet.members[0].source
            return None if member is None else stats_period(ET.fromstring(
                member.conn.lookupByName("web").XMLDesc(0)))  # type: ignore[attr-defined]  # a LibvirtSource

        wait_for(lambda: web_period() == 2, "the fleet host's domain given the period")
    finally:
        fleet.close()
