"""Issue 20, item 4: the tick at 30, 100 and 300 real idle KVM guests, every path side by side in one run, and the
monitor's own CPU at 1 Hz at the largest count.

For each N (guests booted in parallel, each call bounded; ``kvm_fleet``), once the host has settled (the guests'
QEMU CPU near 0 and the load average down, a condition with a deadline), each round takes in turn (the order
rotated each round): the raw ``getAllDomainStats`` of every group xentui asks; ``collect()`` with the fast path
off (``--no-fast-path``) and on; and ``collect()`` with the fast path and the cadence (balloon and block read
each tick only for the shown rows, the first ``--shown`` guests, the others in turns).  Then, at the largest N,
``xentui -b -d 1 --fast`` and the live view at 1 Hz for ``--cpu-seconds`` each (``monitor_cpu``).
Prints Markdown tables for bench/RESULTS.md.  Destroys its guests at the end, also after a failure or Ctrl-C.
Root; one hold of the lab lock for the whole run (35 minutes here at 300 guests, booting most of it):

    flock /tmp/xentui-lab.lock flock /tmp/xentui-bench.lock .venv/bin/python bench/fastpath_scale.py \\
        --guests 30 100 300 --rounds 15 --cpu-seconds 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import kvm_fleet  # noqa: E402
import monitor_cpu  # noqa: E402

from xentui import lab  # noqa: E402
from xentui.sources import deadlines  # noqa: E402
from xentui.sources.libvirt import LibvirtSource, fastpath  # noqa: E402
from xentui.sources.libvirt.bulk_stats import STATS, STATS_FLAGS  # noqa: E402
from xentui.sources.libvirt.fastpath import turns as turns_module  # noqa: E402

RAW = "raw getAllDomainStats"
SLOW = "collect(), --no-fast-path"
FAST = "collect(), fast path"
TURNS = "collect(), fast path + cadence"
RAW_DEADLINE_S = 120.0
GROUPS = {"STATE": libvirt.VIR_DOMAIN_STATS_STATE, "CPU_TOTAL": libvirt.VIR_DOMAIN_STATS_CPU_TOTAL,
          "BALLOON": libvirt.VIR_DOMAIN_STATS_BALLOON, "VCPU": libvirt.VIR_DOMAIN_STATS_VCPU,
          "INTERFACE": libvirt.VIR_DOMAIN_STATS_INTERFACE, "BLOCK": libvirt.VIR_DOMAIN_STATS_BLOCK}


def source(enabled: bool, turns: bool = False, shown: list[str] | None = None) -> LibvirtSource:
    """A source made under that configuration (a source keeps what it was made with)."""
    fastpath.configure(enabled, turns=turns)
    try:
        made = LibvirtSource(lab.URI)
    finally:
        fastpath.configure(True)
    if shown is not None:
        made.set_shown(shown)
    return made


def alternately(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Each call's wall ms, the calls taken in turn each round, the first one rotated (load falls on all alike);
    one warm-up round first (the fast path's map, the sources' first reads)."""
    names = list(calls)
    for name in names:
        calls[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            calls[name]()
            times[name].append(1000 * (time.perf_counter() - start))
    return times


def timed(owner: object, name: str) -> list[float]:
    """The ms of each call of ``owner.name`` from now on, wrapped in place: the cadence's monitor reads (between
    ticks, in their own thread: ``turns._read``), a source's stats calls (libvirt and the kernel's files: what of
    its collect() is not xentui's own work)."""
    spent: list[float] = []
    inner = getattr(owner, name)

    def timing(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args)
        finally:
            spent.append(1000 * (time.perf_counter() - start))

    setattr(owner, name, timing)
    return spent


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


def cell(samples: list[float] | None, guests: int) -> str:
    if not samples:
        return "-"
    med = statistics.median(samples)
    return f"{med:.0f} / {p90(samples):.0f} ms ({med / guests:.2f})"


def group_costs(conn: libvirt.virConnect, fleet: kvm_fleet.Fleet, rounds: int, shown: int) -> str:
    """One line: each statistics group's own getAllDomainStats (medians), and the monitor groups of the shown
    guests alone (the cadence's every-tick share)."""
    def bounded(call: Callable[[], object]) -> Callable[[], object]:
        return lambda: deadlines.call(call, RAW_DEADLINE_S, "statistics call")

    doms = [conn.lookupByUUIDString(u) for u in fleet.running_uuids()[:shown]]
    calls = {name: bounded(lambda g=group: conn.getAllDomainStats(g, STATS_FLAGS))
             for name, group in GROUPS.items()}
    calls[f"BALLOON+BLOCK of {len(doms)} shown"] = bounded(
        lambda: conn.domainListGetStats(doms, libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_BLOCK,
                                        STATS_FLAGS))
    times = alternately(calls, rounds)
    return ", ".join(f"{name} {statistics.median(t):.0f}" for name, t in times.items()) + " (ms, medians)"


def measure(conn: libvirt.virConnect, fleet: kvm_fleet.Fleet, rounds: int,
            shown: int) -> tuple[dict[str, list[float]], str]:
    """The paths' samples at the guests running now, and the fast path's coverage as the fast source saw it,
    with the stats call's share of the fast sources' collect()."""
    slow, fast = source(False), source(True)
    turns = source(True, turns=True, shown=fleet.running_uuids()[:shown])
    inside = {FAST: timed(fast.fast_path, "stats"), TURNS: timed(turns.fast_path, "stats")}
    reads = timed(turns_module, "_read")
    ticks: list[float] = []

    def tick_in_turns() -> None:
        """collect(), timed; then the monitor read it began, let finish (as before a tick a delay later), so it
        never runs beside the other paths' calls."""
        start = time.perf_counter()
        turns.collect()
        ticks.append(1000 * (time.perf_counter() - start))
        pending = turns.fast_path.turns._pending if turns.fast_path.turns is not None else None
        if pending is not None:
            pending.wait(RAW_DEADLINE_S)

    calls: dict[str, Callable[[], object]] = {
        RAW: lambda: deadlines.call(lambda: conn.getAllDomainStats(STATS, STATS_FLAGS),
                                    RAW_DEADLINE_S, "getAllDomainStats"),
        SLOW: slow.collect,
        FAST: fast.collect,
        TURNS: tick_in_turns,
    }
    try:
        times = alternately(calls, rounds)
        times[TURNS] = ticks[1:]  # collect() alone, the warm-up's left out
        coverage = f"fast path read {fast.fast_path.fast} of {fast.fast_path.active} guests; of collect(), the " \
            "stats call: " + ", ".join(f"{name} {statistics.median(t[1:]):.0f} ms" for name, t in inside.items()) \
            + f"; the cadence's monitor read, between ticks: {statistics.median(reads[1:]):.0f} ms"
    finally:
        for made in (slow, fast, turns):
            made.close()
    return times, coverage


def own_cost(uuids: list[str], shown: int, ticks: int = 10) -> str:
    """xentui's own CPU a cadence tick (collect, snapshot, batch JSON frame; its read between ticks, let finish
    after each, included: the client's decoding is xentui's CPU), then the largest parts (cProfile, cumulative)."""
    import cProfile
    import io
    import pstats

    from xentui.model import build_snapshot
    from xentui.output import records

    made = source(True, turns=True, shown=uuids[:shown])
    state: dict[str, Any] = {"prev": None, "shot": None}

    def tick() -> None:
        raw = made.collect()
        state["shot"] = build_snapshot(state["prev"], raw, before=state["shot"])
        state["prev"] = raw
        records.json_frame(state["shot"], 1)
        pending = made.fast_path.turns._pending if made.fast_path.turns is not None else None
        if pending is not None:
            pending.wait(RAW_DEADLINE_S)

    try:
        for _ in range(3):
            tick()
        cpu, wall = time.process_time(), time.monotonic()
        for _ in range(ticks):
            tick()
        line = (f"{len(uuids)} guests, load {os.getloadavg()[0]:.2f}: xentui's own CPU "
                f"{1000 * (time.process_time() - cpu) / ticks:.1f} ms a cadence tick (its read between ticks "
                f"included), {1000 * (time.monotonic() - wall) / ticks:.1f} ms wall with that read")
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(ticks):
            tick()
        profile.disable()
    finally:
        made.close()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
    return line + "\n" + out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guests", type=int, nargs="+", default=[30, 100, 300])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--shown", type=int, default=40, help="rows on screen for the cadence (a 50-line terminal)")
    parser.add_argument("--cpu-seconds", type=float, default=60.0, help="0: no CPU runs")
    parser.add_argument("--groups", action="store_true", help="also each statistics group's own call")
    parser.add_argument("--profile", action="store_true", help="at the largest N, xentui's own CPU a cadence tick "
                        "(collect, snapshot, JSON frame) and where it goes (cProfile)")
    parser.add_argument("--compare-tree", type=Path, help="also the CPU runs of this checkout (e.g. `git worktree "
                        "add /tmp/before REV`), alternating with this one's, on the same guests")
    parser.add_argument("--settle-deadline", type=float, default=240.0)
    parser.add_argument("--settle-load", type=float, default=2.5, help="1-minute load average to wait for")
    parser.add_argument("--reserve-gib", type=float, default=4.0, help="memory that must stay available")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("fastpath_scale: run as root (the fast path reads the QEMU processes' /proc files)")
        return 2
    kvm_fleet.terminate_as_interrupt()
    conn = lab.connect()
    fleet = kvm_fleet.Fleet(conn, args.reserve_gib)
    rows, notes = [], []
    began = time.monotonic()
    try:
        for n in sorted(args.guests):
            try:
                boot_s = fleet.boot_to(n)
            except kvm_fleet.Short as err:
                print(f"fastpath_scale: {err}")
                notes.append(str(err))
                break
            settled = fleet.settle(args.settle_deadline, max(2.0, 0.02 * n), args.settle_load)
            print(f"{n} guests: booted in {boot_s:.0f} s, QEMU RSS {fleet.rss_per_guest_kib() / 1024:.0f} MiB each, "
                  f"{kvm_fleet.mem_available_kib() / 1048576:.1f} GiB available; "
                  f"{'settled' if settled.settled else 'NOT settled'} after {settled.waited_s:.0f} s: load "
                  f"{settled.load1:.2f}, guests' QEMU {settled.guests_cpu_pct:.1f} % of a core", flush=True)
            load0 = os.getloadavg()[0]
            times, coverage = measure(conn, fleet, args.rounds, args.shown)
            load1 = os.getloadavg()[0]
            rows.append(f"| {n} | {load0:.2f} → {load1:.2f} | " + " | ".join(
                cell(times.get(path), n) for path in (RAW, SLOW, FAST, TURNS)) + " |")
            print(rows[-1] + f"  ({coverage})", flush=True)
            if args.groups:
                notes.append(f"{n} guests, load {os.getloadavg()[0]:.2f}: "
                             + group_costs(conn, fleet, args.rounds, args.shown))
                print(notes[-1], flush=True)
        largest = fleet.running_uuids()
        if args.profile and largest:
            notes.append(own_cost(largest, args.shown))
            print(notes[-1], flush=True)
        cpu_rows = []
        trees = [None, args.compare_tree] if args.compare_tree else [None]
        if args.cpu_seconds > 0 and largest:
            for what, run in (("xentui -b -d 1 --format json --fast",
                               lambda: monitor_cpu.batch(lab.URI, args.cpu_seconds, ["--fast"])),
                              ("live view -d 1 (tmux 200x50)",
                               lambda: monitor_cpu.live_view(lab.URI, args.cpu_seconds, [],
                                                             Path(f"/tmp/fastpath-scale-{os.getpid()}.screen")))):
                for tree in trees:
                    load = os.getloadavg()[0]
                    try:
                        with monitor_cpu.checkout(tree):
                            line = run().line()
                    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as err:
                        line = f"failed: {err}"
                    cpu_rows.append(f"| {len(largest)} | {what}{f' ({tree})' if tree else ''} | {load:.2f} | "
                                    f"{line} |")
                    print(cpu_rows[-1], flush=True)
    finally:
        left = fleet.destroy()
        conn.close()
        print(f"guests destroyed ({'none left' if left == 0 else f'{left} still running!'}); "
              f"the run took {(time.monotonic() - began) / 60:.1f} min", flush=True)
    print("\n| guests | load (1 min) | " + " | ".join((RAW, SLOW, FAST, TURNS)) + " |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("(each cell: median / p90 ms (median ms per guest))")
    if cpu_rows:
        print("\n| guests | monitor at 1 Hz | load | cost |\n|---|---|---|---|")
        print("\n".join(cpu_rows))
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupted:
        print(f"fastpath_scale: interrupted ({interrupted or 'Ctrl-C'}); its guests were destroyed")
        sys.exit(130)
