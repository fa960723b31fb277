"""Tick cost of the local KVM fast path beside libvirt's bulk call, in one run, at N idle real KVM guests (issue 20).

Boots N lab ``idle`` guests (a ``hlt`` loop, 32 MiB) under the local libvirtd, then times alternately, for each N:
the raw ``getAllDomainStats`` of every group xentui asks, the fast path's tick (libvirt without CPU_TOTAL, VCPU
and INTERFACE, plus the kernel's files), and ``collect()`` with the fast path on and off.  Destroys its guests at
the end, even after a failure.  Root; run under ``flock /tmp/xentui-lab.lock flock /tmp/xentui-bench.lock``:

    .venv/bin/python bench/fastpath_cost.py --guests 30 100 --rounds 15
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from collections.abc import Callable

from xentui import lab
from xentui.sources.libvirt import LibvirtSource, fastpath
from xentui.sources.libvirt.bulk_stats import STATS, STATS_FLAGS
from xentui.sources.libvirt.fastpath import FastPath

PREFIX = f"xtb-fp-{os.getpid()}-"


def alternately(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median ms of each call, the calls taken in turn each round (load falls on all alike)."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    conn = lab.connect()
    started = 0
    try:
        for n in sorted(args.guests):
            while started < n:
                lab.start_guest(conn, f"{PREFIX}{started}", "idle")
                started += 1
            time.sleep(3)  # let the last ones leave the BIOS for their hlt loop
            path = FastPath(lab.URI, "QEMU")
            path.stats(conn, STATS, STATS_FLAGS)  # the map, made once
            fast_source = LibvirtSource(lab.URI)
            fastpath.configure(False)
            slow_source = LibvirtSource(lab.URI)
            fastpath.configure(True)
            try:
                got = alternately({
                    "raw getAllDomainStats": lambda: conn.getAllDomainStats(STATS, STATS_FLAGS),
                    "fast path stats": functools.partial(path.stats, conn, STATS, STATS_FLAGS),
                    "collect(), fast path": fast_source.collect,
                    "collect(), --no-fast-path": slow_source.collect,
                }, args.rounds)
            finally:
                path.close()
                fast_source.close()
                slow_source.close()
            running = len(conn.listAllDomains(1))
            load = os.getloadavg()[0]
            print(f"\n{n} lab guests ({running} running on the host), load average {load:.2f}, "
                  f"fast path: {path.fast} of {path.active}")
            print("| what | median ms | ms per guest |\n|---|---|---|")
            for name, ms in got.items():
                print(f"| {name} | {ms:.1f} | {ms / running:.2f} |")
    finally:
        lab.destroy_guests(conn, PREFIX)
        conn.close()


if __name__ == "__main__":
    main()
