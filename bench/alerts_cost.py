"""The alert engine's cost a tick: ``AlertEngine.evaluate`` at 1000 domains with 10 rules (issue 19: <= 5 ms).

    flock /tmp/xentui-bench.lock .venv/bin/python bench/alerts_cost.py [--domains 1000] [--ticks 60] [--against DIR]

``--against DIR`` (another checkout's ``xentui/`` folder, e.g. from ``git archive``) loads that tree's alert
engine beside this one in the same process and evaluates each tick with both, in alternating order, checking
that they fire the same alerts: an A/B that the load of a shared machine moves equally.

The snapshots come from the synthetic host (``-c synthetic://N``), built beforehand, so only the evaluation is
timed: the thread's CPU time (what a tick costs, whatever else runs) and the wall time.
The rules mix every kind of figure: rates, memory, steal (a mean over the vCPUs), Cache QoS, text,
flags, host figures, a ``match`` glob, and/or/not; several hold for hundreds of domains, so the firing ticks
(alerts made, the board sorted) are part of the figures.  Prints a Markdown table row per measure.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import xentui
from xentui import config
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


def alerts_package(tree: str) -> ModuleType:
    """``xentui.alerts`` as found in ``tree`` (a ``xentui/`` folder), on this process's model; sys.modules as it was."""
    def forget() -> dict[str, ModuleType]:
        return {k: sys.modules.pop(k) for k in [k for k in sys.modules if k.startswith("xentui.alerts")]}

    kept, path = forget(), xentui.__path__[:]
    xentui.__path__[:] = [tree]
    try:
        return importlib.import_module("xentui.alerts")
    finally:
        xentui.__path__[:] = path
        forget()
        sys.modules.update(kept)


def fired(board: Any) -> list[tuple[object, ...]]:
    return [(a.rule, a.severity.value, a.domain_key, a.since, a.values) for a in board.fired_now + board.firing]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--against", metavar="DIR", help="another tree's xentui/ folder, timed beside this one")
    args = parser.parse_args()
    source = SyntheticSource(count=args.domains, cache=True)
    raws = [source.collect() for _ in range(args.ticks + 1)]
    snapshots = [build_snapshot(prev, cur, n) for n, (prev, cur) in enumerate(itertools.pairwise(raws))]
    packages = {"this tree": importlib.import_module("xentui.alerts")}
    if args.against:
        packages[args.against] = alerts_package(args.against)
    engines = {}
    for name, package in packages.items():
        engines[name], problems = package.load(config.Settings(alert=RULES), hooks=False)
        assert not problems, problems
    cpu: dict[str, list[float]] = {name: [] for name in engines}
    wall: dict[str, list[float]] = {name: [] for name in engines}
    fired_count = 0
    for n, snapshot in enumerate(snapshots):
        boards = {}
        for name in list(engines)[::-1 if n % 2 else 1]:
            start, start_cpu = time.perf_counter(), time.thread_time()
            boards[name] = engines[name].evaluate(snapshot)
            cpu[name].append((time.thread_time() - start_cpu) * 1000)
            wall[name].append((time.perf_counter() - start) * 1000)
        first, *others = boards.values()
        assert all(fired(board) == fired(first) for board in others), f"tick {n}: the engines disagree"
        fired_count += len(first.fired_now)
    load1 = os.getloadavg()[0]
    for name in engines:
        for what, times in (("CPU", cpu[name]), ("wall", wall[name])):
            label = f"{name}: " if args.against else ""
            print(f"| {label}{args.domains} domains, {len(RULES)} rules, {args.ticks} ticks | {what} | median "
                  f"{statistics.median(times):.2f} ms | p95 {sorted(times)[int(0.95 * len(times))]:.2f} ms | max "
                  f"{max(times):.2f} ms | {fired_count} alerts fired, {len(first.firing)} firing at the end | "
                  f"load {load1:.2f} |")


if __name__ == "__main__":
    main()
