#!/usr/bin/env python3
"""xentui through a real Prometheus scraping 200 made-up libvirt hosts x 50 domains (bench/fleet_exporters.py).

    .venv/bin/python bench/fleet_prom_cost.py [--hosts 200] [--domains 50] [--ticks 10] [--minutes 10] [--profile]
    .venv/bin/python bench/fleet_prom_cost.py --uri prometheus+http://127.0.0.1:PORT --ticks 6 --minutes 0

1. one tick of PrometheusSource (collect + build_snapshot), in process, every 5 s (the delay), request by
   request with the bytes read; once with the CLI's deadline (5 s), then with 60 s to see what it takes;
2. the real ``xentui -b --format json -d 5`` and the live view (``xentui -d 5`` in a 200x50 pseudo-terminal),
   side by side for --minutes: RSS (VmRSS) and CPU (utime+stime, % of one core) sampled every 30 s;
3. with --profile, where one collect's time goes (cProfile, by each function's own time).
The exporters and Prometheus run in a child process (their CPU is not xentui's).  Load averages are printed
with every figure.  Prints Markdown for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import fcntl
import os
import pstats
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.procfs import proc_cpu_seconds  # noqa: E402
from xentui.model import build_snapshot  # noqa: E402
from xentui.sources.base import SourceError  # noqa: E402
from xentui.sources.prometheus import PrometheusSource  # noqa: E402
from xentui.sources.prometheus.client import Client  # noqa: E402

XENTUI = [sys.executable, "-m", "xentui"]
MIB = 1 << 20


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def ticks(uri: str, count: int, timeout_s: float, delay: float = 5.0) -> list[str]:
    """``count`` ticks (collect + build_snapshot) ``delay`` s apart; Markdown lines."""
    timings: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    get = Client.get

    def kind(path: str, query: str) -> str:
        """The request's role in a tick (a tick asks one query per metric name: grouped)."""
        if not query:
            return path
        return ("previous values (idelta)" if "idelta(" in query else "figures (max by)" if query.startswith("max by")
                else "raw samples" if query.endswith("ms]") else query[:28])

    read = Client._read
    said = threading.local()  # the size of the answer this thread read last

    def counted(self: Client, r: Any, deadline: float) -> bytes:
        body = read(self, r, deadline)
        said.size = len(body)
        return body

    def timed(self: Client, path: str, params: dict[str, str] | None = None, deadline: float | None = None):
        what = kind(path, (params or {}).get("query", ""))
        began = time.perf_counter()
        data = get(self, path, params, deadline)
        timings.setdefault(what, []).append(time.perf_counter() - began)
        sizes[what] = sizes.get(what, 0) + getattr(said, "size", 0)
        return data

    Client.get, Client._read = timed, counted  # type: ignore[method-assign]
    source = PrometheusSource(uri, timeout_s=timeout_s)
    collects, rates, errors, prev, domains = [], [], [], None, 0
    try:
        for seq in range(count):
            began = time.perf_counter()
            try:
                raw = source.collect()
            except SourceError as err:
                errors.append(str(err))
                time.sleep(max(0.0, delay - (time.perf_counter() - began)))
                continue
            collected = time.perf_counter()
            snap = build_snapshot(prev, raw, seq)
            rates.append(time.perf_counter() - collected)
            collects.append(collected - began)
            prev, domains = raw, len(snap.domains)
            time.sleep(max(0.0, delay - (time.perf_counter() - began)))
    finally:
        Client.get, Client._read = get, read  # type: ignore[method-assign]
        source.close()
    out = [f"deadline {timeout_s:g} s, {count} ticks {delay:g} s apart, {load()}: {len(collects)} answered, "
           f"{len(errors)} failed" + (f" ({errors[0]})" if errors else "")]
    if collects:
        whole = [c + r for c, r in zip(collects, rates, strict=True)]
        out.append(f"- {domains} domains; tick (collect + build_snapshot) median {1e3 * statistics.median(whole):.0f}"
                   f" ms, max {1e3 * max(whole):.0f} ms; build_snapshot median {1e3 * statistics.median(rates):.0f} ms")
        asked = len(collects) + len(errors)
        for what, t in timings.items():
            out.append(f"  - {what}: {len(t) / asked:.1f} a tick, each median {1e3 * statistics.median(t):.0f} ms; "
                       f"{sizes[what] / asked / MIB:.2f} MiB a tick (bytes read)")
    return out


class Watched:
    """A running xentui: its RSS and CPU seconds from /proc, sampled on demand."""

    def __init__(self, label: str, pid: int):
        self.label, self.pid = label, pid
        self.samples: list[tuple[float, float, float]] = []  # (elapsed s, RSS MiB, CPU s)

    def sample(self, elapsed: float) -> None:
        with contextlib.suppress(OSError):
            cpu = proc_cpu_seconds(self.pid)
            with open(f"/proc/{self.pid}/status") as f:
                rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), None)
            if rss is not None:  # None: it has exited (a zombie has no memory)
                self.samples.append((elapsed, rss / 1024, cpu))


def drain(fd: int, counter: list[int]) -> None:
    """Reads ``fd`` until it closes, counting newlines (batch JSON: one iteration a line)."""
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 1 << 16):
            counter[0] += chunk.count(b"\n")


def sustained(uri: str, minutes: float, warmup: float = 60.0) -> list[str]:
    """Batch JSON and the live view side by side for ``minutes``; a table of RSS and CPU over time."""
    env = dict(os.environ, XDG_CONFIG_HOME=os.environ.get("TMPDIR", "/tmp") + "/xentui-bench-noconfig",
               TERM="xterm-256color")
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - read and closed after both have ended
    batch = subprocess.Popen([*XENTUI, "-b", "--format", "json", "-c", uri, "-d", "5"], stdout=subprocess.PIPE,
                             stderr=errors, env=env)
    lines = [0]
    threading.Thread(target=drain, args=(batch.stdout.fileno(), lines), daemon=True).start()  # type: ignore[union-attr]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvpe(XENTUI[0], [*XENTUI, "-c", uri, "-d", "5"], env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    threading.Thread(target=drain, args=(fd, [0]), daemon=True).start()
    watched = [Watched("batch JSON (`-b --format json -d 5`)", batch.pid), Watched("live view (`-d 5`, 200x50)", pid)]
    loads = []
    began = time.monotonic()
    try:
        while (elapsed := time.monotonic() - began) < warmup + 60 * minutes:
            for w in watched:
                w.sample(elapsed)
            loads.append(os.getloadavg()[0])
            time.sleep(30 - (time.monotonic() - began) % 30)
        for w in watched:
            w.sample(time.monotonic() - began)
    finally:
        batch.terminate()
        os.kill(pid, 15)
        batch.wait(timeout=20)
        os.waitpid(pid, 0)
    errors.seek(0)
    said = errors.read().decode(errors="replace").strip().splitlines()
    errors.close()
    out = [f"{minutes:g} min after {warmup:.0f} s of start-up, both at once; load average (1 min) "
           f"{min(loads):.2f}-{max(loads):.2f}, median {statistics.median(loads):.2f}; batch printed {lines[0]} "
           "iterations" + (f"; it said: {said[-1]}" if said else ""), "",
           "| xentui | RSS at start-up end | RSS over time (min: MiB) | RSS at end | CPU % of one core (steady) |",
           "|---|---|---|---|---|"]
    for w in watched:
        steady = [s for s in w.samples if s[0] >= warmup - 1]
        if len(steady) < 2:
            out.append(f"| {w.label} | exited early | | | |")
            continue
        trend = ", ".join(f"{s[0] / 60:.0f}: {s[1]:.0f}" for s in steady[::4])
        cpu = (steady[-1][2] - steady[0][2]) / (steady[-1][0] - steady[0][0])
        out.append(f"| {w.label} | {steady[0][1]:.0f} MiB | {trend} | {steady[-1][1]:.0f} MiB | {100 * cpu:.1f} % |")
    return out


def profile(uri: str) -> None:
    """One collect under cProfile: the functions that took the most time of their own."""
    source = PrometheusSource(uri, timeout_s=60)
    source.collect()
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.runcall(source.collect)
    print(f"one collect under cProfile: {time.perf_counter() - began:.1f} s ({load()}); by own time:")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(12)
    source.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--domains", type=int, default=50)
    ap.add_argument("--ticks", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--profile", action="store_true", help="where one collect's time goes (cProfile)")
    ap.add_argument("--uri", help="a Prometheus already serving the made-up fleet (bench/fleet_exporters.py): "
                    "A/B runs of two checkouts against one Prometheus")
    args = ap.parse_args()
    if args.uri:
        print("\n".join([f"{args.uri} ({load()})", *ticks(args.uri, args.ticks, 5.0)]), flush=True)
        if args.minutes > 0:
            print("\n".join(sustained(args.uri, args.minutes)), flush=True)
        return 0
    fleet = subprocess.Popen([sys.executable, str(HERE / "fleet_exporters.py"), "--hosts", str(args.hosts),
                              "--domains", str(args.domains)], stdout=subprocess.PIPE, text=True)
    out: list[str] = []
    try:
        ready = fleet.stdout.readline().split()  # type: ignore[union-attr]
        if not ready or ready[0] != "ready":
            print("the made-up fleet did not start", file=sys.stderr)
            return 1
        uri = f"prometheus+{ready[1]}"
        out.append(f"Prometheus 2.42 scraping {args.hosts} targets x {args.domains} domains every 5 s ({load()})")
        out += ticks(uri, args.ticks, 5.0)
        out += ticks(uri, args.ticks, 60.0)
        print("\n".join(out), flush=True)
        if args.profile:
            profile(uri)
        if args.minutes > 0:
            out = sustained(uri, args.minutes)
            print("\n".join(out), flush=True)
    finally:
        fleet.terminate()
        fleet.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
