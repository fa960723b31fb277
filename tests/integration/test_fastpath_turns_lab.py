"""The QEMU monitor's figures in turns (issue 20, item 2) on real lab guests: the guest shown is read between any
two ticks; one off screen is read in turns, its disk counters after a read are libvirt's own of that moment, and
otherwise the ones of its last read, with that read's time.  Run only under ``flock /tmp/xentui-lab.lock``."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import URI, first_disk
from xentui.model import build_snapshot
from xentui.sources.libvirt import LibvirtSource, fastpath
from xentui.sources.libvirt.fastpath import turns as turns_module

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the fast path reads QEMU's /proc files: root only")
MAX_TICKS = 60


@pytest.fixture
def in_turns(monkeypatch) -> Iterator[LibvirtSource]:
    monkeypatch.setattr(turns_module, "BUDGET_S", 0.0)  # no room beyond the row shown: one other guest a tick
    fastpath.configure(True, turns=True)
    try:
        source = LibvirtSource(URI)
    finally:
        fastpath.configure(True)
    assert source.fast_path.turns is not None, source.fast_path.off_reason
    yield source
    source.close()


def test_the_row_shown_every_tick_and_one_off_screen_in_turns(guests, in_turns) -> None:
    shown = guests.start("idle")
    io = guests.start("io")  # reads its disk all the time: its counters move between any two reads
    others = guests.start("idle")
    in_turns.set_shown([shown.UUIDString()])
    prev_raw = prev_shot = None
    read_ticks = kept_ticks = 0
    last_io: tuple[float, int] | None = None
    prev_shot_rate: float | None = None
    prev: tuple[float, int, int, float] | None = None  # a read is begun by one tick and taken by the next
    turns = in_turns.fast_path.turns
    assert turns is not None
    # one object tells both readers in turns (the monitor's figures, PSI) which rows are on screen
    assert in_turns.host_side is not None and in_turns.host_side.on_screen is turns.on_screen
    assert turns.on_screen.wants(shown.UUIDString()) and not turns.on_screen.wants(others.UUIDString())
    for _tick in range(MAX_TICKS):
        low = first_disk(io, "rd.bytes")
        start = time.monotonic()
        raw = in_turns.collect()
        end = time.monotonic()
        pending = turns._pending  # the read this tick began has ended before the next (a delay later, -d)
        if pending is not None:
            pending.wait(30)
        high = first_disk(io, "rd.bytes")  # (never while xentui's read holds the guest's job: NOWAIT would skip it)
        shot = build_snapshot(prev_raw, raw, before=prev_shot)
        by_uuid = {v.uuid: v for v in shot.domains}
        seen, mine, other = (by_uuid[d.UUIDString()] for d in (shown, io, others))
        # this tick's figures: of the read the tick before began (the first tick's: its own, waited for)
        began, ended, floor, ceiling = (start, end, low, high) if prev is None else (prev[0], start, prev[1], prev[2])
        assert seen.sample.monitor_at is not None and began <= seen.sample.monitor_at <= ended  # every tick
        assert seen.monitor_age_s is None
        assert other.sample.rss_kib is not None and other.sample.mem_kib is not None  # kept or read: always there
        at, got = mine.sample.monitor_at, mine.sample.blocks[0].rd_bytes
        assert at is not None and got is not None
        if last_io is None or at != last_io[0]:  # read since the last tick: libvirt's own counter of that moment
            assert began <= at <= ended and floor <= got <= ceiling, (began, at, ended, floor, got, ceiling)
            if last_io is not None and got > last_io[1]:
                want = (got - last_io[1]) / (at - last_io[0])  # over its two reads, not over the tick
                assert mine.rates.blk_rd_bytes_s == pytest.approx(want)
                read_ticks += 1
            last_io = (at, got)
        else:  # not read: the figures and time of its last read, aged, with the rate as last computed
            assert got == last_io[1] and prev is not None and at < prev[3]  # taken by the tick before
            assert mine.monitor_age_s == pytest.approx(raw.monotonic - at)  # read on a tick before
            assert mine.rates.blk_rd_bytes_s == prev_shot_rate
            kept_ticks += 1
        prev = (start, low, high, end)
        prev_shot_rate = mine.rates.blk_rd_bytes_s
        prev_raw, prev_shot = raw, shot
        if read_ticks >= 2 and kept_ticks >= 2:
            break
    assert read_ticks >= 2 and kept_ticks >= 2, (read_ticks, kept_ticks)
    notice = next(n for n in raw.notices if n.startswith("fast path: "))
    assert "memory and disks of the rows off screen in turns" in notice
