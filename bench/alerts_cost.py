"""The alert engine's cost a tick: ``AlertEngine.evaluate`` at 1000 domains with 10 rules (issue 19: <= 5 ms).

    flock /tmp/xentui-bench.lock .venv/bin/python bench/alerts_cost.py [--domains 1000] [--ticks 60]

The snapshots come from the synthetic host (``-c synthetic://N``), built beforehand, so only the evaluation is
timed: the thread's CPU time (what a tick costs, whatever else runs) and the wall time.
The rules mix every kind of figure: rates, memory, steal (a mean over the vCPUs), Cache QoS, text,
flags, host figures, a ``match`` glob, and/or/not; several hold for hundreds of domains, so the firing ticks
(alerts made, the board sorted) are part of the figures.  Prints a Markdown table row per measure.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from xentui import config
from xentui.alerts import load
from xentui.model.rates import build_snapshot
from xentui.sources.synthetic import SyntheticSource

RULES = (
    {"name": "busy", "when": "cpu_pct > 90", "for": "3s", "severity": "crit"},
    {"name": "crashed", "when": 'state == "crashed"', "severity": "crit"},
    {"name": "stale", "when": "stale", "for": "30s"},
    {"name": "steal", "when": "steal_pct > 20", "for": "60s"},
    {"name": "host-memory", "when": "host_mem_pct > 95", "for": "60s", "severity": "crit"},
    {"name": "memory", "when": "mem_pct > 5 and vcpus >= 2", "for": "10s"},
    {"name": "net", "when": "net_rx_bytes_per_s > 1e6 or net_tx_bytes_per_s > 1e6", "for": "5s"},
    {"name": "disk", "when": "vbd_wr_bytes_per_s > 5e5 and not (state == \"paused\")", "for": "5s"},
    {"name": "web-llc", "when": "llc_pct > 10", "for": "5s", "match": "web*"},
    {"name": "overhead", "when": "(overhead_cpu_pct > 20 or cpu_pct_of_host > 50) and host_cpu_pct > 10"},
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=60)
    args = parser.parse_args()
    source = SyntheticSource(count=args.domains, cache=True)
    raws = [source.collect() for _ in range(args.ticks + 1)]
    snapshots = [build_snapshot(prev, cur, n) for n, (prev, cur) in enumerate(itertools.pairwise(raws))]
    engine, problems = load(config.Settings(alert=RULES), hooks=False)
    assert not problems, problems
    cpu, wall, fired = [], [], 0
    for snapshot in snapshots:
        start, start_cpu = time.perf_counter(), time.thread_time()
        board = engine.evaluate(snapshot)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
        fired += len(board.fired_now)
    load1 = os.getloadavg()[0]
    for what, times in (("CPU", cpu), ("wall", wall)):
        print(f"| {args.domains} domains, {len(RULES)} rules, {args.ticks} ticks | {what} | median "
              f"{statistics.median(times):.2f} ms | p95 {sorted(times)[int(0.95 * len(times))]:.2f} ms | max "
              f"{max(times):.2f} ms | {fired} alerts fired, {len(board.firing)} firing at the end | load {load1:.2f} |")


if __name__ == "__main__":
    main()
