"""The monitor's own cost at 1 Hz on a real host: ``xentui -b`` and the live view (in tmux, 200x50), each its CPU %
of one core (utime + stime over wall time, /proc/PID/stat), its RSS, and whether it kept 1 Hz: the batch JSON
frames' times, the live view's header clock (the shown snapshot's time) read from the pane five times a second.

Run on its own, it compares checkouts (``git worktree add /tmp/before REV``) on the guests already running, each
monitor of each checkout in turn, the order reversed every other pair:

    flock /tmp/xentui-bench.lock .venv/bin/python bench/monitor_cpu.py --seconds 60 --pairs 2 /tmp/before .

At 300 guests the steady state comes ~40 s after the start (the agents' second round, the fast path's first
looks at each guest): ``--warmup 60 --monitors live`` measures it (issue 20's figure).

This host's pace drifts by up to 2x within an hour (another VM's load under ours; a kernel reclaim thread), more
than a change makes.  ``--together`` runs every checkout's live view at once, each round over one window, so the
drift falls on all alike; they share libvirtd, which then serves two clients (a frame may come late):

    flock /tmp/xentui-bench.lock .venv/bin/python bench/monitor_cpu.py --together --warmup 60 --pairs 4 /tmp/before .
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run on its own: tests.procfs, via kvm_fleet too

import psutil
from kvm_fleet import cpu_seconds, rss_kib

from tests.procfs import proc_cpu_seconds

WARMUP_S = 10.0  # start-up, the first full paint and the fast path's map are not the steady cost (--warmup)
STOP_S = 10.0
# xentui.cli.main reads the command line's argv, as the installed program does (the same GC settings too)
RUN = "import sys; from xentui.cli import main; sys.exit(main())"
CLOCK = re.compile(r"\b\d\d:\d\d:\d\d\b")


@dataclass
class Cost:
    cpu_pct: float  # of one core
    rss_mib: float
    hwm_mib: float  # peak RSS
    frames: int  # in the window
    seconds: float
    worst_gap_s: float  # the longest wait between two frames in the window
    late: int  # gaps of more than 1.5 s (a second with no new frame)
    guests_pct: float = 0.0  # every QEMU process on the host together, % of one core, over the same window

    def line(self) -> str:
        return (f"{self.cpu_pct:.1f} % of one core, RSS {self.rss_mib:.0f} MiB (peak {self.hwm_mib:.0f}), "
                f"{self.frames} frames in {self.seconds:.0f} s ({self.late} gaps over 1.5 s, longest "
                f"{self.worst_gap_s:.2f} s); the guests' QEMU {self.guests_pct:.1f} %")


def qemu_pids() -> list[int]:
    """Every QEMU process on the host: what the monitor's reads wake (its QMP answers) costs them, not the monitor."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().startswith("qemu-system"):
                    pids.append(int(entry))
            except OSError:  # ended meanwhile
                continue
    return pids


def _sampling(seconds: float, sample: Callable[[], None] | None = None) -> None:
    """Wait ``seconds``, calling ``sample`` five times a second meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if sample:
            sample()
        time.sleep(0.2)


def guests_share(seconds: float) -> float:
    """Every QEMU process's CPU over ``seconds``, as a share of one core (no monitor started: the baseline)."""
    pids = qemu_pids()
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    _sampling(seconds)
    return (cpu_seconds(pids) - cpu0) / (time.monotonic() - t0)


def vm_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _window(pid: int, seconds: float,
            sample: Callable[[], None] | None = None) -> tuple[float, float, float, float, float]:
    """(CPU share of one core, RSS MiB, peak RSS MiB, wall start, the QEMU processes' share) over ``seconds`` after
    the warm-up."""
    _sampling(WARMUP_S, sample)
    guests = qemu_pids()
    cpu0, qemu0, t0, wall0 = proc_cpu_seconds(pid), cpu_seconds(guests), time.monotonic(), time.time()
    _sampling(seconds, sample)
    elapsed = time.monotonic() - t0
    share, qemu = (proc_cpu_seconds(pid) - cpu0) / elapsed, (cpu_seconds(guests) - qemu0) / elapsed
    return share, rss_kib(pid) / 1024, vm_kib(pid, "VmHWM") / 1024, wall0, qemu


def gaps(times: list[float]) -> tuple[float, int]:
    """The longest gap between frames, and how many exceed 1.5 s."""
    between = [b - a for a, b in itertools.pairwise(times)]
    return max(between, default=float("inf")), sum(g > 1.5 for g in between)


def batch(uri: str, seconds: float, extra: list[str]) -> Cost:
    """``xentui -b -d 1 --format json`` (each frame carries its ``epoch_s``) for WARMUP_S + ``seconds``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "frames.jsonl"
        with out.open("w") as sink:
            proc = subprocess.Popen([sys.executable, "-c", RUN, "-b", "-d", "1", "-c", uri, "--format", "json",
                                     *extra], stdout=sink, stderr=subprocess.PIPE, env=_env(tmp))
        try:
            share, rss, hwm, wall0, qemu = _window(proc.pid, seconds)
        finally:
            proc.terminate()
            try:
                _out, err = proc.communicate(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                _out, err = proc.communicate(timeout=STOP_S)
        times = []
        for line in out.read_text().splitlines():
            try:
                frame = json.loads(line)
            except ValueError:
                continue  # the last line, cut by SIGTERM
            if isinstance(frame, dict) and isinstance(frame.get("epoch_s"), int | float):
                times.append(float(frame["epoch_s"]))
        if proc.returncode not in (0, -15) or not times:
            raise RuntimeError(f"xentui -b ended with {proc.returncode}: {err.decode(errors='replace')[-300:]}")
    window = [t for t in times if wall0 <= t <= wall0 + seconds]
    return Cost(100 * share, rss, hwm, len(window), seconds, *gaps(window), 100 * qemu)


class LiveView:
    """One full-screen view in a tmux server of its own (200x50); frames counted by its header's clock, read from
    the pane five times a second."""

    def __init__(self, uri: str, extra: list[str], tmp: str, tag: str = "") -> None:
        self.sock = f"xtb-scale-{os.getpid()}{tag}"
        self.tmux = ["tmux", "-L", self.sock]
        self.seen: list[tuple[str, float]] = []  # (clock shown, when first seen)
        self.screen = ""
        subprocess.run([*self.tmux, "new-session", "-d", "-s", "bench", "-x", "200", "-y", "50", "-c",
                        os.getcwd(), "--", "env", f"XDG_CONFIG_HOME={tmp}", "TERM=xterm-256color", sys.executable,
                        "-c", RUN, "-c", uri, "-d", "1", *extra], check=True, timeout=10, env=_env(tmp))
        try:
            pane = subprocess.run([*self.tmux, "list-panes", "-t", "bench", "-F", "#{pane_pid}"],
                                  capture_output=True, text=True, check=True, timeout=5)
            self.pid = int(pane.stdout.split()[0])  # env execs python: the same pid
        except (subprocess.SubprocessError, ValueError, IndexError):
            self.stop()
            raise

    def sample(self) -> None:
        got = subprocess.run([*self.tmux, "capture-pane", "-p", "-t", "bench"], capture_output=True, text=True,
                             timeout=5)
        match = CLOCK.search("\n".join(got.stdout.splitlines()[:3]))
        if match and (not self.seen or self.seen[-1][0] != match.group()):
            self.seen.append((match.group(), time.monotonic()))
        self.screen = got.stdout

    def cost(self, share: float, start: float, seconds: float, guests: float) -> Cost:
        window = [t for _clock, t in self.seen if start <= t <= start + seconds]
        return Cost(100 * share, rss_kib(self.pid) / 1024, vm_kib(self.pid, "VmHWM") / 1024, len(window), seconds,
                    *gaps(window), 100 * guests)

    def stop(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, timeout=10)
        Path(f"/tmp/tmux-{os.getuid()}/{self.sock}").unlink(missing_ok=True)  # tmux leaves its socket file


def live_view(uri: str, seconds: float, extra: list[str], screen_out: Path | None = None) -> Cost:
    """The full-screen view of the checkout run from, alone."""
    with tempfile.TemporaryDirectory() as tmp:
        view = LiveView(uri, extra, tmp)
        try:
            start = time.monotonic() + WARMUP_S
            share, _rss, _hwm, _wall0, guests = _window(view.pid, seconds, view.sample)
            cost = view.cost(share, start, seconds, guests)  # (RSS read while it runs)
        finally:
            view.stop()
    if screen_out is not None:
        screen_out.write_text(view.screen)
    return cost


def host_busy() -> tuple[float, float]:
    """(busy, steal) CPU seconds of all CPUs so far: the host's pace over a window."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - times.iowait - times.guest - times.guest_nice, times.steal  # (guest: in user)


def together(trees: list[Path], uri: str, seconds: float) -> list[tuple[Path, Cost]]:
    """Every checkout's live view at once, over one window: a change in the host's pace falls on all alike."""
    views: list[tuple[Path, LiveView]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for n, tree in enumerate(trees):
                with checkout(tree):
                    (home := Path(tmp) / str(n)).mkdir()
                    views.append((tree, LiveView(uri, [], str(home), f"-{n}")))

            def sample_all() -> None:
                for _tree, view in views:
                    view.sample()

            _sampling(WARMUP_S, sample_all)
            start, guests = time.monotonic(), qemu_pids()
            cpu0, qemu0 = [proc_cpu_seconds(view.pid) for _tree, view in views], cpu_seconds(guests)
            _sampling(seconds, sample_all)
            elapsed = time.monotonic() - start
            qemu = (cpu_seconds(guests) - qemu0) / elapsed  # (all the views' together)
            return [(tree, view.cost((proc_cpu_seconds(view.pid) - before) / elapsed, start, seconds, qemu))
                    for (tree, view), before in zip(views, cpu0, strict=True)]
        finally:
            for _tree, view in views:
                view.stop()


def _env(tmp: str) -> dict[str, str]:
    return {**os.environ, "XDG_CONFIG_HOME": tmp}  # no saved settings


@contextlib.contextmanager
def checkout(tree: Path | None) -> Iterator[None]:
    """The monitors started within run ``tree``'s xentui: started in it (``python -c`` puts its working directory
    first on the path, before PYTHONPATH: session 13's comparison, run from one checkout, ran that one twice)."""
    if tree is None:
        yield
        return
    here = os.getcwd()
    os.chdir(tree.resolve())
    try:
        yield
    finally:
        os.chdir(here)


def main() -> int:
    global WARMUP_S
    parser = argparse.ArgumentParser(description="batch --fast and the live view of each checkout, in turn")
    parser.add_argument("trees", nargs="+", type=Path, help="checkouts of xentui (a git worktree each)")
    parser.add_argument("--uri", default="qemu:///system")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pairs", type=int, default=2, help="rounds of every checkout, each monitor")
    parser.add_argument("--warmup", type=float, default=WARMUP_S, help="seconds before the measured window")
    parser.add_argument("--monitors", choices=("both", "batch", "live"), default="both")
    parser.add_argument("--view-args", default="", help="the live view's own arguments (--view-args=--no-fast-path)")
    parser.add_argument("--baseline", action="store_true",
                        help="each round first measures the guests' QEMU CPU with no monitor running")
    parser.add_argument("--together", action="store_true",
                        help="the checkouts' live views all at once, each round over one window (--monitors live)")
    args = parser.parse_args()
    WARMUP_S = args.warmup
    view_args = shlex.split(args.view_args)
    if args.together:
        return run_together(args.trees, args.uri, args.seconds, args.pairs)
    monitors = [(what, run) for what, run in (("batch --fast", lambda: batch(args.uri, args.seconds, ["--fast"])),
                                              (" ".join(["live view", *view_args]),
                                               lambda: live_view(args.uri, args.seconds, view_args)))
                if args.monitors == "both" or what.startswith(args.monitors)]
    print("| round | monitor | checkout | load (1 min) | cost |\n|---|---|---|---|---|", flush=True)
    for round_number in range(1, args.pairs + 1):
        order = args.trees if round_number % 2 else args.trees[::-1]
        if args.baseline:
            load = os.getloadavg()[0]
            idle = 100 * guests_share(args.seconds)
            print(f"| {round_number} | none | - | {load:.2f} | the guests' QEMU {idle:.1f} % of one core |", flush=True)
        for what, run in monitors:
            for tree in order:
                load = os.getloadavg()[0]
                with checkout(tree):
                    try:
                        line = run().line()
                    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as err:
                        line = f"failed: {err}"
                print(f"| {round_number} | {what} | {tree} | {load:.2f} | {line} |", flush=True)
    return 0


def run_together(trees: list[Path], uri: str, seconds: float, rounds: int) -> int:
    cpus = os.cpu_count() or 1
    print("| round | checkout | load (1 min) | host busy, steal over the round (% of all CPUs) | cost |\n"
          "|---|---|---|---|---|", flush=True)
    for round_number in range(1, rounds + 1):
        load, (busy0, steal0), t0 = os.getloadavg()[0], host_busy(), time.monotonic()
        try:
            costs = [(tree, cost.line()) for tree, cost in together(trees, uri, seconds)]
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as err:
            costs = [(tree, f"failed: {err}") for tree in trees]
        busy1, steal1 = host_busy()
        of_all = (time.monotonic() - t0) * cpus / 100  # CPU seconds in 1 % of all CPUs over the round
        host = f"{(busy1 - busy0) / of_all:.0f}, {(steal1 - steal0) / of_all:.1f}"
        for tree, line in costs:
            print(f"| {round_number} | {tree} | {load:.2f} | {host} | {line} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
