#!/usr/bin/env python3
"""Frame cost of the fleet view at 10,000 rows: 200 synthetic hosts x 50 domains, HOST and GROUP columns.

    .venv/bin/python bench/fleet_frame.py [--hosts 200] [--domains 50] [--ticks 20]

In process, headless, 200x50 (as bench/tui_cost.py): one tick = setting the fleet snapshot (sort, filter, the
table's diff, the fleet header's sums) plus the repaint it causes, until Textual is idle again; the snapshots
(collect and rates) are made before the clock starts.  Also times build_snapshot of the fleet (the worker's
share).  Prints the median and worst of --ticks with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.ui.fleet_source import synthetic_fleet
from xentui import config
from xentui.model import Snapshot, build_snapshot
from xentui.ui import textual_workarounds
from xentui.ui.app import XentuiApp

textual_workarounds.install()


def snapshots(hosts: int, domains: int, ticks: int) -> tuple[list[Snapshot], list[float]]:
    """``ticks`` + 2 fleet snapshots in a row, and the time build_snapshot took for each."""
    source = synthetic_fleet(hosts, domains)
    prev, out, rates = source.collect(), [], []
    for seq in range(ticks + 2):
        raw = source.collect()
        began = time.perf_counter()
        out.append(build_snapshot(prev, raw, seq))
        rates.append(time.perf_counter() - began)
        prev = raw
    return out, rates


async def frames(snaps: list[Snapshot]) -> list[float]:
    source = synthetic_fleet(1, 1)  # the app's source: snapshots are set from outside (poll=False)
    app = XentuiApp(source, config.Settings(), config_path=None, poll=False)
    spent = []
    async with app.run_test(size=(200, 50)) as pilot:
        for seq, snapshot in enumerate(snaps):
            began = time.perf_counter()
            app.snapshot = snapshot
            await pilot.pause()  # the update and the repaint it causes
            if seq >= 2:  # the first frames build every row
                spent.append(time.perf_counter() - began)
    return spent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--domains", type=int, default=50)
    ap.add_argument("--ticks", type=int, default=20)
    args = ap.parse_args()
    snaps, rates = snapshots(args.hosts, args.domains, args.ticks)
    before = os.getloadavg()
    spent = asyncio.run(frames(snaps))
    rows = len(snaps[-1].domains)
    print(f"load {before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; {args.hosts} hosts x {args.domains} = "
          f"{rows} rows")
    print(f"| fleet view frame at {rows} rows, median / worst of {len(spent)} | "
          f"{1e3 * statistics.median(spent):.1f} ms / {1e3 * max(spent):.1f} ms | ≤ 50 ms |")
    print(f"| build_snapshot of the fleet ({rows} domains, worker thread), median | "
          f"{1e3 * statistics.median(rates):.1f} ms | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
