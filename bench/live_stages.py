"""Where the live view's CPU goes, stage by stage, in the real program (issue 20): thread CPU time
(``time.thread_time``: Python and the kernel's work for that thread, such as /proc reads) measured around each
per-tick stage of the running ``xentui``, and each thread's own CPU from /proc, as ms per tick.

It starts the live view in tmux (200x50) with timers wrapped around the stages, waits ``--warmup`` seconds (60 for
the steady state: the guest agents' first reads of 300 guests take ~40 s), measures for ``--seconds`` and prints
the table.  The stages nest (indented): a parent's time includes its children's.  The
stats call runs in a call thread, so its time is not part of ``collect``'s.

    flock /tmp/xentui-bench.lock .venv/bin/python bench/live_stages.py --seconds 40 -- -d 1

It measures the checkout it is run from: run it from another worktree to compare two checkouts.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.procfs

from tests.procfs import thread_cpu_seconds

WARMUP_S = 15.0  # by default
SESSION = "xentui-live-stages"

spent: collections.defaultdict[str, float] = collections.defaultdict(float)
ticks = [0]
order: list[str] = []  # the stages as listed in instrument(): parents before their children


def wrap(owner: object, name: str, label: str) -> None:
    """``owner.name`` (a function where its caller looks it up) timed under ``label``."""
    fn = getattr(owner, name)
    order.append(label)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - start
    setattr(owner, name, timed)


def instrument() -> None:
    """Timers around the stages, and a count of the ticks."""
    import xentui.poller as poller
    import xentui.sources.libvirt as source
    import xentui.ui.controllers.connection as connection
    import xentui.ui.frame as frame
    from xentui.sources import hostside
    from xentui.sources.cache_qos.libvirt import LibvirtCacheQos
    from xentui.sources.libvirt import agent, balloon, fallback, fastpath, jobs, stale
    from xentui.sources.libvirt.fastpath import turns
    from xentui.ui.app import XentuiApp
    from xentui.ui.widgets.domain_table import DomainTable

    for owner, name, label in [
        (source.LibvirtSource, "collect", "collect (poller thread)"),
        (source.LibvirtSource, "_stats_domains", "  records to samples"),
        (source, "parse_stats", "    parse_stats"),
        (hostside.HostSide, "read", "    PSI (HostSide.read)"),
        (fallback.Fallback, "fill_all", "    keys, the fallback's groups (fill_all)"),
        (stale.HungMonitors, "stale", "    hung monitors (stale)"),
        (source.LibvirtSource, "_read_placement", "    placement (vcpus() calls due)"),
        (LibvirtCacheQos, "caches", "    Cache QoS (caches)"),
        (agent.AgentWatch, "handed", "    agents' facts (handed)"),
        (balloon.StatsPeriod, "apply", "    balloon stats period (apply)"),
        (source.LibvirtSource, "_with_jobs", "  jobs"),
        (jobs.JobWatch, "_sweep", "    the sweep (its calls)"),
        (fastpath.FastPath, "stats", "stats call (call thread)"),
        (turns.Turns, "read", "  the monitor's figures in turns (Turns.read)"),
        (fastpath.FastPath, "_net_dev", "  /proc/net/dev"),
        (fastpath.FastPath, "_map", "  mapping guests"),
        (fastpath, "fill", "  kernel reads (fill)"),
        (turns, "_read", "the monitor's next turn (call thread, Turns._read)"),
        (poller, "build_snapshot", "build_snapshot"),
        (connection.Connection, "prepare", "history, rows, alerts"),
        (frame, "prepare", "  rows (frame.prepare)"),
        (XentuiApp, "present", "the frame's update (main thread, XentuiApp.present)"),
        (DomainTable, "render_line", "table lines drawn (main thread, render_line)"),
    ]:
        wrap(owner, name, label)
    collect_and_build = poller.Poller._collect_and_build

    def counted(self: Any) -> Any:
        ticks[0] += 1
        return collect_and_build(self)
    poller.Poller._collect_and_build = counted  # type: ignore[method-assign]


def threads_cpu_ms() -> dict[str, float]:
    """CPU (user + system, ms) of the threads of this process, by their Python name (numbers left out)."""
    names = {t.native_id: t.name.rstrip("0123456789_ -()") for t in threading.enumerate()}
    out: collections.defaultdict[str, float] = collections.defaultdict(float)
    for tid, (_comm, seconds) in thread_cpu_seconds(os.getpid()).items():
        out[names.get(int(tid), "other")] += 1000 * seconds
    return dict(out)


def report(seconds: float, out: Path, warmup: float) -> None:
    time.sleep(warmup)
    spent.clear()
    ticks[0] = 0
    threads0, cpu0, wall0 = threads_cpu_ms(), time.process_time(), time.monotonic()
    time.sleep(seconds)
    n, wall = max(1, ticks[0]), time.monotonic() - wall0
    threads = {k: (v - threads0.get(k, 0.0)) / n for k, v in threads_cpu_ms().items()}
    out.write_text(json.dumps({
        "ticks": ticks[0], "seconds": round(wall, 1),
        "process_cpu_pct": round(100 * (time.process_time() - cpu0) / wall, 2),
        "stages_ms": {k: round(1000 * spent[k] / n, 2) for k in order},
        "threads_ms": {k: round(v, 1) for k, v in sorted(threads.items(), key=lambda kv: -kv[1]) if v > 0},
    }))


def inside(seconds: float, out: Path, argv: list[str], warmup: float) -> int:
    instrument()
    threading.Thread(target=report, args=(seconds, out, warmup), daemon=True).start()
    from xentui.cli import main
    sys.argv = ["xentui", *argv]
    return main()


def drive(seconds: float, argv: list[str], warmup: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stages.json"
        command = shlex.join([sys.executable, __file__, "--inside", str(out), "--seconds", str(seconds),
                              "--warmup", str(warmup), "--", *argv])
        subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "200", "-y", "50",
                        f"cd {shlex.quote(os.getcwd())} && exec {command}"], check=True)
        try:
            deadline = time.monotonic() + warmup + seconds + 60
            while not out.exists():
                if time.monotonic() > deadline:
                    sys.exit("no measurement came: is the live view running? (tmux attach -t " + SESSION + ")")
                time.sleep(0.5)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", SESSION], check=False)
        got = json.loads(out.read_text())
    print(f"{got['ticks']} ticks in {got['seconds']} s; the process: {got['process_cpu_pct']} % of one core")
    print("| stage | ms a tick |\n|---|---|")
    for stage, ms in got["stages_ms"].items():
        print(f"| {stage.replace('  ', '&nbsp;&nbsp;')} | {ms} |")
    print("| thread | ms a tick |\n|---|---|")
    for thread, ms in got["threads_ms"].items():
        print(f"| {thread} | {ms} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="measured, after the warm-up")
    parser.add_argument("--warmup", type=float, default=WARMUP_S, help="seconds running before the measurement")
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)  # the instrumented program itself
    parser.add_argument("xentui_args", nargs="*", help="the live view's arguments, after --")
    args = parser.parse_args()
    if args.inside is not None:
        sys.exit(inside(args.seconds, args.inside, args.xentui_args, args.warmup))
    drive(args.seconds, args.xentui_args, args.warmup)


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the checkout it is run from
    main()
