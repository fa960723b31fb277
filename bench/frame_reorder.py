"""The main thread's frame at N rows when the rows reorder every tick, as idle guests' do: their CPU % jitters
between 0.3, 0.4 and 0.5, so the CPU sort moves most lines on screen (issue 20; the live view at 300 guests draws
~40 moved lines a tick).  Synthetic domains, each given 3, 4 or 5 ms of CPU a tick at random (seeded), in process
and headless (200x50); prints the median wall time of a tick's update and repaint and its mean thread CPU.

    .venv/bin/python bench/frame_reorder.py --domains 300 --ticks 60

Run it from another checkout (``git worktree add /tmp/before REV``, then ``cd /tmp/before``) to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's xentui, not the installed one
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tui_cost  # (installs Textual's partial line updates, as run_app does)

from xentui.model import RawSample
from xentui.sources.synthetic import SyntheticSource


class Jittering(SyntheticSource):
    """Every domain running, its CPU time advancing by 3, 4 or 5 ms a tick at random."""

    def __init__(self, count: int, seed: int = 7) -> None:
        super().__init__(count=count, pcpus=2)
        self._rng = random.Random(seed)
        self._busy_ns: dict[int | None, int] = {}

    def collect(self) -> RawSample:
        raw = super().collect()
        running = raw.domains[0].state
        domains = []
        for dom in raw.domains:
            busy = self._busy_ns.get(dom.domid, 10**12) + self._rng.choice((3, 4, 5)) * 10**6
            self._busy_ns[dom.domid] = busy
            domains.append(dataclasses.replace(dom, cpu_ns=busy, state=running))
        return dataclasses.replace(raw, domains=tuple(domains))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=300)
    parser.add_argument("--ticks", type=int, default=60)
    args = parser.parse_args()
    wall, cpu = asyncio.run(tui_cost.tick_costs(Jittering(args.domains), args.ticks))
    print(f"{args.domains} domains, {args.ticks} ticks: wall median {statistics.median(wall):.2f} ms, "
          f"thread CPU mean {statistics.mean(cpu):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
