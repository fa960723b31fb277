"""The QEMU monitor's figures in turns (issue 20, item 2): the rows on screen every tick, the others as the budget
allows, the longest unread first; a guest not read keeps its figures with their time, and the model's rates span
two reads (never a tick in which nothing was read), shown as last computed, with their age."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import libvirt
import pytest

from tests.factories import dom, raw, run_cli
from tests.libvirt_test_driver import domain_xml, node_xml
from xentui.model import BlockSample, build_snapshot
from xentui.sources.libvirt.bulk_stats import MONITOR_AT, parse_stats
from xentui.sources.libvirt.fastpath import turns as turns_module
from xentui.sources.libvirt.fastpath.turns import MAX_TURNS, MONITOR_GROUPS, Turns

RUNNING = libvirt.VIR_DOMAIN_RUNNING


class Dom:
    def __init__(self, n: int) -> None:
        self.uuid = f"00000000-0000-0000-0000-{n:012d}"

    def UUIDString(self) -> str:
        return self.uuid


class Conn:
    """domainListGetStats: the monitor groups of the domains asked; ``silent``: those whose job is held (NOWAIT
    leaves their monitor's figures out); each read's bytes count up, so every read is told apart."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.silent: set[str] = set()
        self.reads = 0

    def domainListGetStats(self, doms: list[Dom], groups: int, _flags: int) -> list[tuple[Dom, dict[str, object]]]:
        assert groups == MONITOR_GROUPS
        self.asked.append([d.uuid for d in doms])
        out: list[tuple[Dom, dict[str, object]]] = []
        for d in doms:
            self.reads += 1
            rec: dict[str, object] = {"state.state": RUNNING, "balloon.current": 2048}  # (without the monitor too)
            if d.uuid not in self.silent:
                rec.update({"balloon.rss": 1000, "balloon.current": 2048, "block.count": 1,
                            "block.0.name": "vda", "block.0.rd.bytes": self.reads * 4096})
            out.append((d, rec))
        return out


def entries(n: int) -> list[tuple[Dom, dict[str, object], tuple[str, int]]]:
    doms = [Dom(i) for i in range(n)]
    return [(d, {"state.state": RUNNING}, (d.uuid, 10 + i)) for i, d in enumerate(doms)]


def tick(turns: Turns, conn: Conn, n: int) -> list[tuple[Dom, dict[str, object], tuple[str, int]]]:
    """One tick: its records get the figures of the read started at the tick before (at the first, its own);
    the read it starts is let finish before the next tick."""
    running = entries(n)
    turns.read(conn, running, [], libvirt.VIR_DOMAIN_STATS_STATE | MONITOR_GROUPS, 0)
    turns.begin()  # (the source begins it once the tick's other calls are done)
    if turns._pending is not None:
        turns._pending.wait(10)
    return running


def test_every_guest_first_then_the_rows_shown_every_tick_and_the_others_oldest_first(monkeypatch) -> None:
    monkeypatch.setattr(turns_module, "BUDGET_S", 0.0)  # room for none beyond those shown: the floor decides
    turns, conn = Turns(), Conn()
    tick(turns, conn, 90)
    assert len(conn.asked[0]) == 90  # never read: all of them at once (and the next read begins at once)
    shown = [e[0].uuid for e in entries(90)[:20]]
    turns.on_screen.rows = frozenset(shown)
    turns.on_screen.detail = entries(90)[50][0].uuid
    seen: set[str] = set()
    for _ in range(69 // 3):
        tick(turns, conn, 90)
        asked = conn.asked[-1]
        assert asked[:21] == [*shown, turns.on_screen.detail]  # those shown and the detail view's: every tick
        others = asked[21:]
        assert len(others) == 3  # 69 others over MAX_TURNS ticks: 3 a tick
        assert not seen & set(others)  # the longest unread first: no guest twice before all are read
        seen |= set(others)
    assert len(seen) == 69  # every one read within 23 ticks


def test_the_budget_sets_how_many_others_a_tick(monkeypatch) -> None:
    monkeypatch.setattr(turns_module, "BUDGET_S", 0.040)
    turns, conn = Turns(), Conn()
    tick(turns, conn, 300)
    turns._cost_s = 0.002  # as measured: 2 ms a guest
    turns.on_screen.rows = frozenset(e[0].uuid for e in entries(300)[:10])
    assert len(turns.due(entries(300))) == 20  # 40 ms: the 10 shown (20 ms), then 10 others
    turns._cost_s = 0.010  # a slow host: the budget is spent by those shown; the floor keeps the turns going
    assert len(turns.due(entries(300))) == 10 + 290 // MAX_TURNS + 1


def test_a_guest_not_read_keeps_its_figures_with_their_time_and_one_not_answering_is_asked_again(monkeypatch) -> None:
    monkeypatch.setattr(turns_module, "BUDGET_S", 0.0)
    monkeypatch.setattr(turns_module, "MAX_TURNS", 1000)  # one other a read, beyond those shown
    turns, conn = Turns(), Conn()
    first = tick(turns, conn, 3)  # all three read (waited for); the next read, of the first, begins
    stamp = first[2][1][MONITOR_AT]
    assert all(rec["block.0.rd.bytes"] and rec[MONITOR_AT] == stamp for _d, rec, _k in first)
    turns.on_screen.rows = frozenset({first[0][0].uuid})
    conn.silent = {first[1][0].uuid}
    unchanged = tick(turns, conn, 3)  # the read begun at the first tick is taken; the next begins
    asked = conn.asked[-1]
    assert asked == [first[0][0].uuid, first[1][0].uuid]  # the one shown, and the one read longest ago
    assert [rec["block.0.rd.bytes"] for _d, rec, _k in unchanged[1:]] == \
        [rec["block.0.rd.bytes"] for _d, rec, _k in first[1:]]
    second = tick(turns, conn, 3)  # that read's figures
    shown_rec, silent_rec, kept_rec = (rec for _d, rec, _k in second)
    assert shown_rec[MONITOR_AT] > stamp and shown_rec["block.0.rd.bytes"] > first[0][1]["block.0.rd.bytes"]
    assert "balloon.rss" not in silent_rec and MONITOR_AT not in silent_rec  # stale.py judges it
    assert kept_rec["block.0.rd.bytes"] == first[2][1]["block.0.rd.bytes"] and kept_rec[MONITOR_AT] == stamp
    assert first[1][0].uuid in {e[0].uuid for e in turns.due(entries(3))[:2]}  # not answering: asked again
    turns.prune(set())
    assert len(turns.due(entries(3))) == 3  # forgotten guests are read again as new


def test_the_monitor_time_reaches_the_sample() -> None:
    assert parse_stats("u", "web", 7, {"state.state": RUNNING, MONITOR_AT: 12.5}).monitor_at == 12.5
    assert parse_stats("u", "web", 7, {"state.state": RUNNING, MONITOR_AT: "12.5"}).monitor_at is None


def disk(read_bytes: int) -> tuple[BlockSample, ...]:
    return (BlockSample("vda", "", rd_reqs=read_bytes // 4096, rd_bytes=read_bytes, wr_reqs=0, wr_bytes=0),)


def test_rates_span_two_reads_and_are_kept_with_their_age_while_not_read_again() -> None:
    # ticks 1 s apart; the disk read at t=10 (0 B), t=13 (3 MiB read since: 1 MiB/s), then not until t=16
    samples = [raw(10, dom(1, blocks=disk(0), monitor_at=10.0)),
               raw(11, dom(2, blocks=disk(0), monitor_at=10.0)),
               raw(13, dom(4, blocks=disk(3 << 20), monitor_at=12.9)),
               raw(14, dom(5, blocks=disk(3 << 20), monitor_at=12.9)),
               raw(15, dom(6, blocks=disk(3 << 20), monitor_at=12.9))]
    shots = []
    before = None
    for prev, cur in zip([None, *samples], samples, strict=False):
        before = build_snapshot(prev, cur, before=before)
        shots.append(before.domains[0])
    assert shots[1].rates.blk_rd_bytes_s is None and shots[1].monitor_age_s == pytest.approx(1.0)
    assert shots[2].rates.blk_rd_bytes_s == pytest.approx((3 << 20) / 2.9)  # over the reads' 2.9 s, not the tick's 2
    assert shots[2].monitor_age_s is None  # read this tick
    for later, age in ((shots[3], 1.1), (shots[4], 2.1)):
        assert later.rates.blk_rd_bytes_s == shots[2].rates.blk_rd_bytes_s  # as last computed, never 0
        assert later.monitor_age_s == pytest.approx(age)
        assert later.rates.cpu_pct == pytest.approx(100.0)  # the fast figures stay per tick


def test_kept_disk_rates_stand_on_a_tick_with_no_window_of_its_own() -> None:
    # the kernel's figures stamped at one instant on two ticks (no window: no CPU rate); the disks' rates as last
    # shown all the same, their figures not read again
    a = raw(10, dom(1, blocks=disk(0), monitor_at=10.0, kernel_at=10.0))
    b = raw(11, dom(2, blocks=disk(1 << 20), monitor_at=11.0, kernel_at=11.0))
    c = raw(12, dom(3, blocks=disk(1 << 20), monitor_at=11.0, kernel_at=11.0))
    read = build_snapshot(a, b, before=build_snapshot(None, a)).domains[0]
    kept = build_snapshot(b, c, before=build_snapshot(a, b, before=build_snapshot(None, a))).domains[0]
    assert read.rates.blk_rd_bytes_s == pytest.approx(1 << 20) and read.rates.cpu_pct == pytest.approx(100.0)
    assert kept.rates.cpu_pct is None and kept.rates.blk_rd_bytes_s == read.rates.blk_rd_bytes_s
    assert kept.monitor_age_s == pytest.approx(1.0)


def test_without_turns_nothing_is_aged_or_kept() -> None:
    a, b = raw(10, dom(1, blocks=disk(0))), raw(11, dom(2, blocks=disk(1 << 20)))
    shot = build_snapshot(b, raw(12, dom(3, blocks=disk(1 << 20))), before=build_snapshot(a, b))
    assert shot.domains[0].monitor_age_s is None and shot.domains[0].rates.blk_rd_bytes_s == 0.0


@pytest.mark.parametrize("argv, turns", [(["-b", "-i", "1"], False), (["-b", "-i", "1", "--fast"], True)])
def test_batch_reads_everything_every_update_unless_fast(argv: list[str], turns: bool, tmp_path) -> None:
    from xentui.sources.libvirt import fastpath

    try:
        node = tmp_path / "node.xml"
        node.write_text(node_xml([domain_xml("web", "6695eb01-f6a4-8304-79aa-97f2502e193f", 1048576, "/img/web.img",
                                             "vnet0")], 1, 2, 1, 4194304))
        code, out, err = run_cli([*argv, "-c", f"test://{node}"])
        assert code == 0 and "NAME" in out, err
        assert fastpath._turns is turns
    finally:
        fastpath.configure(True)


@pytest.mark.parametrize("argv, turns", [([], True), (["--fast"], True), (["--record", "x.xtrec.gz"], False),
                                         (["-b"], False), (["-b", "--fast"], True)])
def test_the_live_view_reads_in_turns_unless_recording_and_batch_only_with_fast(argv: list[str], turns: bool) -> None:
    from xentui.cli import build_parser
    from xentui.cli.view import in_turns

    assert in_turns(build_parser().parse_args(argv)) is turns


def test_fast_and_the_fast_path_options_say_what_is_wrong() -> None:
    from xentui.cli import export, record

    for argv, said in ((["--fast", "--record", "x.xtrec.gz"], "--record keeps every figure of every update"),
                       (["-b", "--fast", "--no-fast-path"], "--fast reads the fast path's guests")):
        code, _out, err = run_cli(argv)
        assert code == 2 and said in err and "Traceback" not in err
    assert record.parser().parse_args(["-o", "x.xtrec.gz", "--no-fast-path"]).no_fast_path
    assert export.parser().parse_args(["--no-fast-path"]).no_fast_path


def test_a_tick_read_whole_between_turns_spans_from_the_last_read() -> None:
    """A tick whose monitor figures come with the sample (an abandoned tick still held the fast path: libvirt gave
    everything) after ones read in turns: the disk rate spans from the last read, not the tick."""
    a = raw(10, dom(1, blocks=disk(0), monitor_at=8.0))  # its disk last read 2 s before this tick
    b = raw(11, dom(2, blocks=disk(3 << 20)))  # read with the sample, at 11
    assert build_snapshot(a, b).domains[0].rates.blk_rd_bytes_s == pytest.approx((3 << 20) / 3.0)
    c = raw(12, dom(3, blocks=disk(4 << 20), monitor_at=11.5))
    assert build_snapshot(b, c).domains[0].rates.blk_rd_bytes_s == pytest.approx((1 << 20) / 0.5)


def test_the_domains_shut_off_keep_their_configured_figures_and_one_not_answering_keeps_libvirts() -> None:
    turns, conn = Turns(), Conn()
    conn.silent = {entries(2)[1][0].uuid}
    running = entries(2)
    off = (Dom(99), {"state.state": libvirt.VIR_DOMAIN_SHUTOFF})
    turns.read(conn, running, [off], MONITOR_GROUPS, 0)
    assert off[0].uuid in conn.asked[-1] and off[1]["balloon.current"] == 2048 and MONITOR_AT not in off[1]
    silent = running[1][1]
    assert silent["balloon.current"] == 2048  # what libvirt gave without the monitor: MEM stays shown
    assert "balloon.rss" not in silent and MONITOR_AT not in silent  # stale.py still judges it


def test_no_kept_figure_is_older_than_max_age(monkeypatch) -> None:
    monkeypatch.setattr(turns_module, "BUDGET_S", 0.0)
    monkeypatch.setattr(turns_module, "MAX_TURNS", 1000)
    turns, conn = Turns(), Conn()
    tick(turns, conn, 5)
    key = entries(5)[3][2]
    monitor, _at = turns._last[key]
    turns._last[key] = (monitor, time.monotonic() - turns_module.MAX_AGE_S - 1)  # read 31 s ago
    assert entries(5)[3][0].uuid in [e[0].uuid for e in turns.due(entries(5))][:1]  # first, whatever the budget


def test_a_tick_read_whole_makes_the_turns_start_afresh() -> None:
    from tests.unit.test_fastpath import Conn as FastConn
    from tests.unit.test_fastpath import Dom as FastDom
    from tests.unit.test_fastpath import Tree
    from xentui.sources.libvirt import fastpath

    fastpath.configure(True, turns=True)
    try:
        path = fastpath.FastPath("qemu:///system", "QEMU", Tree(Path(tempfile.mkdtemp())).paths, euid=0)
    finally:
        fastpath.configure(True)
    assert path.turns is not None
    path.turns._last[("u", 1)] = ({"block.count": 0}, 1.0)
    path._busy.acquire()  # an abandoned tick still holds the map: the next reads everything from libvirt
    path.stats(FastConn([FastDom("web")]), MONITOR_GROUPS, 0)
    path._busy.release()
    path.stats(FastConn([]), MONITOR_GROUPS, 0)
    assert not path.turns._last  # the kept figures are older than the whole read's: read anew
    path.close()


def test_a_kept_warn_or_crit_keeps_its_colour_dim() -> None:
    from xentui.ui.widgets.domain_table import with_age

    assert [with_age(level, True) for level in ("warn", "crit", None, "running")] == \
        ["warn-aged", "crit-aged", "aged", "aged"]
    assert with_age("crit", False) == "crit" and with_age(None, False) is None


class SlowConn(Conn):
    """Its monitor reads take ``delay_s`` (a hung QEMU, a busy libvirtd) once the first has answered."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.release = threading.Event()
        self.calls = 0

    def domainListGetStats(self, doms: list[Dom], groups: int, flags: int) -> list[tuple[Dom, dict[str, object]]]:
        self.calls += 1
        if self.calls > 1:
            self.release.wait(self.delay_s)
        return super().domainListGetStats(doms, groups, flags)


def test_the_tick_never_waits_on_a_monitor_read_and_none_piles_on_a_hung_one(monkeypatch) -> None:
    """The first read is waited for (the first frame has every figure); later ones run between ticks.  A read that
    hangs (a stopped QEMU's monitor) leaves the ticks at once with the figures last read, their stamps unchanged
    (so shown as aged); past its deadline it is set aside, told as a call past its deadline and never taken, and
    one new read begins (NOWAIT skips the guest whose job the hung one holds); never a third on top of two."""
    from xentui.sources import deadlines

    monkeypatch.setattr(turns_module, "HUNG_MIN_S", 0.0)
    monkeypatch.setattr(turns_module, "HUNG_FACTOR", 0.0)  # past it as soon as a tick sees it running
    turns, conn = Turns(), SlowConn(delay_s=30)
    first = entries(2)
    turns.read(conn, first, [], MONITOR_GROUPS, 0)
    stamp = first[0][1][MONITOR_AT]
    assert first[0][1]["balloon.rss"] == 1000 and conn.calls == 1  # waited for
    turns.begin()  # the next: it hangs
    until(lambda: conn.calls == 2)
    hung = turns._pending
    try:
        for _ in range(3):
            began = time.monotonic()
            running = entries(2)
            turns.read(conn, running, [], MONITOR_GROUPS, 0)
            turns.begin()
            assert time.monotonic() - began < 5.0  # never waits on the read hung for 30 s (slack for a loaded machine)
            assert running[0][1][MONITOR_AT] == stamp and running[0][1]["balloon.rss"] == 1000
        until(lambda: conn.calls == 3)
        assert hung is not None and hung.abandoned and turns._hung is hung  # set aside, told
        assert deadlines.abandoned() >= 1
        assert turns._pending is not None and turns._pending is not hung  # one new read, and none on top of it
        assert conn.calls == 3
    finally:
        conn.release.set()
    until(lambda: hung.done() and turns._pending is not None and turns._pending.done())
    running = entries(2)
    turns.read(conn, running, [], MONITOR_GROUPS, 0)  # the new read is taken (the one set aside never is)
    assert running[0][1][MONITOR_AT] > stamp and turns._pending is None
    turns.begin()
    until(lambda: conn.calls == 4)
    turns._pending.wait(10)  # type: ignore[union-attr]


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.005)


def test_json_says_how_old_the_memory_and_disk_figures_are() -> None:
    import json

    from xentui.output.records import json_frame

    a = raw(10, dom(1, blocks=disk(0), monitor_at=10.0))
    b = raw(11, dom(2, blocks=disk(0), monitor_at=10.0))  # not read again: 1 s old
    c = raw(12, dom(3, blocks=disk(1 << 20), monitor_at=11.9))  # read this update
    first = build_snapshot(a, b, before=build_snapshot(None, a))
    [aged] = json.loads(json_frame(first, 1))["domains"]
    [fresh] = json.loads(json_frame(build_snapshot(b, c, before=first), 2))["domains"]
    assert aged["monitor_age_s"] == 1.0 and fresh["monitor_age_s"] is None
