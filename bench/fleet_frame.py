#!/usr/bin/env python3
"""Frame cost of the fleet view at 10,000 rows: 200 synthetic hosts x 50 domains, HOST and GROUP columns.

    .venv/bin/python bench/fleet_frame.py [--hosts 200] [--domains 50] [--ticks 20] [--unprepared]
    .venv/bin/python bench/fleet_frame.py --hosts 0 --domains 1000     # one host of 1000, as tui_cost's frame

In process, headless, 200x50 (as bench/tui_cost.py): one tick = setting the fleet snapshot (the table's diff of
the lines on screen, the fleet header) plus the repaint it causes, until Textual is idle again: the event loop's
share.  As the live feed does (xentui/ui/controllers/connection.py), each snapshot is first prepared in the
poller's worker thread (the history, the rows in order, the fleet's sums): timed apart, with build_snapshot, as
the worker's share; the snapshots (collect and rates) are made before the clock starts.  ``--unprepared`` sets
the snapshots as a test does (the loop computes everything).  Prints the median and worst of --ticks with the
load average.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.ui.fleet_source import synthetic_fleet
from xentui import config
from xentui.model import Snapshot, build_snapshot
from xentui.sources.synthetic import SyntheticSource
from xentui.ui import textual_workarounds
from xentui.ui.app import XentuiApp
from xentui.ui.controllers.connection import Connection

textual_workarounds.install()


def snapshots(hosts: int, domains: int, ticks: int) -> tuple[list[Snapshot], list[float]]:
    """``ticks`` + 2 fleet snapshots in a row (``hosts`` 0: one host of ``domains``, as bench/tui_cost.py's
    frame_cost), and the time build_snapshot took for each."""
    source = synthetic_fleet(hosts, domains) if hosts else SyntheticSource(count=domains, pcpus=64)
    prev, out, rates = source.collect(), [], []
    for seq in range(ticks + 2):
        raw = source.collect()
        began = time.perf_counter()
        out.append(build_snapshot(prev, raw, seq))
        rates.append(time.perf_counter() - began)
        prev = raw
    return out, rates


async def frames(snaps: list[Snapshot], prepared: bool = True) -> tuple[list[float], list[float], list[float]]:
    """Each frame's time (wall clock, as bench/tui_cost.py: it includes pilot.pause's idle wait, at least one
    20 ms sleep) and the event loop thread's CPU in it, and each snapshot's preparation in the poller's thread."""
    source = synthetic_fleet(1, 1)  # the app's source: snapshots are set from outside (poll=False)
    app = XentuiApp(source, config.Settings(), config_path=None, poll=False)
    spent, cpu, worker = [], [], []
    async with app.run_test(size=(200, 50)) as pilot:
        feed = app.feed
        assert isinstance(feed, Connection)
        for seq, snapshot in enumerate(snaps):
            if prepared:  # as Connection.run: in the poller's worker thread, before the snapshot is set
                began = time.perf_counter()
                await app.poller.call(functools.partial(feed.prepare, snapshot))
                worker.append(time.perf_counter() - began)
            began, began_cpu = time.perf_counter(), time.thread_time()
            app.snapshot = snapshot
            await pilot.pause()  # the update and the repaint it causes
            if seq >= 2:  # the first frames build every row
                spent.append(time.perf_counter() - began)
                cpu.append(time.thread_time() - began_cpu)
    return spent, cpu, worker[2:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=200, help="0: one host (not a fleet) of --domains")
    ap.add_argument("--domains", type=int, default=50)
    ap.add_argument("--ticks", type=int, default=20)
    ap.add_argument("--unprepared", action="store_true", help="set the snapshots as a test does: no worker share")
    args = ap.parse_args()
    snaps, rates = snapshots(args.hosts, args.domains, args.ticks)
    before = os.getloadavg()
    spent, cpu, worker = asyncio.run(frames(snaps, prepared=not args.unprepared))
    rows = len(snaps[-1].domains)
    what = f"{args.hosts} hosts x {args.domains}" if args.hosts else "one host"
    print(f"load {before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; {what}: {rows} rows")
    how = "unprepared: all on the loop" if args.unprepared else "event loop"
    view = "fleet view" if args.hosts else "single-host"
    print(f"| {view} frame at {rows} rows ({how}), median / worst of {len(spent)} | "
          f"{1e3 * statistics.median(spent):.1f} ms / {1e3 * max(spent):.1f} ms | ≤ 50 ms |")
    print(f"| the event loop thread's CPU in a frame, median / worst | {1e3 * statistics.median(cpu):.1f} ms / "
          f"{1e3 * max(cpu):.1f} ms | |")
    print(f"| build_snapshot ({rows} domains, worker thread), median | "
          f"{1e3 * statistics.median(rates):.1f} ms | |")
    if worker:
        print(f"| its preparation (history, rows in order, fleet sums; worker thread), median / worst | "
              f"{1e3 * statistics.median(worker):.1f} ms / {1e3 * max(worker):.1f} ms | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
