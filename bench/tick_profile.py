"""Where a cadence tick goes at N real idle KVM guests (issue 20): xentui's own CPU a tick (collect, snapshot, batch
JSON) beside its wall time, a cProfile of 10 ticks, the monitor groups (BALLOON+BLOCK) of the 40 shown guests in
1, 2, 4 and 5 concurrent ``domainListGetStats`` calls, and libvirt's STATE-only call.  Boots its guests with
bench/kvm_fleet.py and destroys them at the end.  Root; run under both locks:

    flock /tmp/xentui-lab.lock flock /tmp/xentui-bench.lock .venv/bin/python bench/tick_profile.py --guests 100
"""

from __future__ import annotations

import argparse
import concurrent.futures
import cProfile
import functools
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

import libvirt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # (kvm_fleet reads tests.procfs)

from kvm_fleet import Fleet  # noqa: E402

from xentui import lab  # noqa: E402
from xentui.model import build_snapshot  # noqa: E402
from xentui.output import records  # noqa: E402
from xentui.sources.libvirt import LibvirtSource, fastpath  # noqa: E402
from xentui.sources.libvirt.bulk_stats import STATS_FLAGS  # noqa: E402
from xentui.sources.libvirt.fastpath.turns import MONITOR_GROUPS  # noqa: E402

SHOWN = 40  # a 50-line terminal's rows


def median_ms(call, rounds: int = 8) -> float:
    times = []
    for _ in range(rounds):
        start = time.monotonic()
        call()
        times.append(1000 * (time.monotonic() - start))
    return statistics.median(times)


def read_in(pool: concurrent.futures.ThreadPoolExecutor, conn: libvirt.virConnect,
            chunks: list[list[libvirt.virDomain]]) -> None:
    """The monitor groups of ``chunks``' guests, one concurrent call a chunk."""
    list(pool.map(lambda chunk: conn.domainListGetStats(chunk, MONITOR_GROUPS, STATS_FLAGS), chunks))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, default=100)
    args = parser.parse_args()
    conn = lab.connect()
    fleet = Fleet(conn, reserve_gib=3.0)
    try:
        fleet.boot_to(args.guests)
        print(fleet.settle(300, 1.0, 4.0))
        fastpath.configure(True, turns=True)
        source = LibvirtSource(lab.URI)
        uuids = fleet.running_uuids()
        source.set_shown(uuids[:SHOWN])
        state = {"prev": None, "shot": None}

        def tick() -> None:
            raw = source.collect()
            state["shot"] = build_snapshot(state["prev"], raw, before=state["shot"])
            state["prev"] = raw
            records.json_frame(state["shot"], 1)

        for _ in range(3):
            tick()
        cpu, wall = time.process_time(), time.monotonic()
        for _ in range(10):
            tick()
        print(f"{args.guests} guests, load {os.getloadavg()[0]:.2f}: xentui {100 * (time.process_time() - cpu):.1f} "
              f"ms of CPU a tick, {100 * (time.monotonic() - wall):.1f} ms wall")
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(10):
            tick()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
        source.close()
        doms = [conn.lookupByUUIDString(u) for u in uuids[:SHOWN]]
        for ways in (1, 2, 4, 5):
            chunks = [chunk for i in range(ways) if (chunk := doms[i::ways])]
            with concurrent.futures.ThreadPoolExecutor(ways) as pool:
                ms = median_ms(functools.partial(read_in, pool, conn, chunks))
            print(f"{len(doms)} guests' BALLOON+BLOCK in {ways} concurrent call(s): median {ms:.1f} ms")
        ms = median_ms(lambda: conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, STATS_FLAGS))
        print(f"getAllDomainStats(STATE) of {args.guests}: median {ms:.1f} ms")
    finally:
        fleet.destroy()
        conn.close()


if __name__ == "__main__":
    main()
