"""The garbage collector's share of a monitor's CPU: the real CLI run in this process (``xentui.cli.main``, its
output to /dev/null) with every collection timed (``gc.callbacks``, each pass's thread CPU, by generation).
``--thresholds`` sets them first (the CLI then sets its own unless told not to: ``--keep``).  Root, on a host with
guests:

    .venv/bin/python bench/gc_cost.py -- -c qemu:///system -b -d 1 --format json --fast -i 40
    .venv/bin/python bench/gc_cost.py --keep --thresholds 700,10,10 -- -c qemu:///system -b -d 1 --format json \\
        --fast -i 40          (the interpreter's defaults, as before cli.monitor_gc)
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xentui import cli


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", help="e.g. 700,10,10")
    parser.add_argument("--keep", action="store_true", help="keep these thresholds (no cli.monitor_gc)")
    parser.add_argument("xentui", nargs=argparse.REMAINDER, help="-- then xentui's arguments")
    args = parser.parse_args()
    passes: dict[int, list[float]] = {0: [], 1: [], 2: []}
    began: dict[int, float] = {}

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[threading.get_ident()] = time.thread_time()
        elif (start := began.pop(threading.get_ident(), None)) is not None:
            passes[info["generation"]].append(time.thread_time() - start)

    gc.callbacks.append(timed)
    if args.keep:
        cli.monitor_gc = lambda: None  # type: ignore[assignment]  # the thresholds below stay
    if args.thresholds:
        gc.set_threshold(*(int(v) for v in args.thresholds.split(",")))
    sys.argv = ["xentui", *[a for a in args.xentui if a != "--"]]
    cpu, wall = time.process_time(), time.monotonic()
    stdout = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    try:
        cli.main()
    finally:
        os.dup2(stdout, 1)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    spent = sum(sum(p) for p in passes.values())
    print(f"thresholds {gc.get_threshold()}: the process {100 * cpu / wall:.1f} % of a core over {wall:.1f} s; "
          f"collecting {1000 * spent:.0f} ms ({100 * spent / wall:.2f} % of a core): "
          + ", ".join(f"gen{g} {len(p)} passes {1000 * sum(p):.0f} ms (longest {1000 * max(p, default=0):.1f})"
                      for g, p in passes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
