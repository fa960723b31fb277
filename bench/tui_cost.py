"""What the live view costs: frame time at 1000 domains, CPU of the monitor, bytes per frame.

    .venv/bin/python bench/tui_cost.py [--seconds 60]

1. frame cost: one tick's table update plus render at 1000 domains (synthetic host, in process,
   headless), median of 20 ticks;
2. CPU of the real `xentui` over --seconds at 1 Hz (after 10 s of start-up) on a 1000-domain
   test-driver host and on synthetic://1000, in a real pseudo-terminal (200x50), from /proc/<pid>/stat;
3. bytes written to the terminal per frame at 200x50 with 50 domains when only numbers change.
Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from tests.libvirt_test_driver import driver_xml  # noqa: E402
from tests.procfs import proc_cpu_seconds  # noqa: E402
from xentui import config  # noqa: E402
from xentui.model import build_snapshot  # noqa: E402
from xentui.sources.base import Source  # noqa: E402
from xentui.sources.synthetic import SyntheticSource  # noqa: E402
from xentui.ui import textual_workarounds  # noqa: E402
from xentui.ui.app import XentuiApp  # noqa: E402

textual_workarounds.install()  # as run_app does: partial line updates (the bytes per frame)


async def tick_costs(source: Source, ticks: int, warm: int = 2) -> tuple[list[float], list[float]]:
    """(wall ms, main-thread CPU ms) of each of ``ticks`` ticks: the table's update and the repaint it causes, in
    process and headless (200x50), after ``warm`` ticks (the first frames build every row)."""
    app = XentuiApp(source, config.Settings(), config_path=None, poll=False)
    wall, cpu = [], []
    async with app.run_test(size=(200, 50)) as pilot:
        prev = source.collect()
        for seq in range(ticks + warm):
            raw = source.collect()
            snapshot = build_snapshot(prev, raw, seq)
            prev = raw
            started, started_cpu = time.perf_counter(), time.thread_time()
            app.snapshot = snapshot
            await pilot.pause()  # the update and the repaint it causes
            if seq >= warm:
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.thread_time() - started_cpu) * 1000)
    return wall, cpu


async def frame_cost(domains: int = 1000, ticks: int = 20) -> tuple[float, float]:
    wall, _cpu = await tick_costs(SyntheticSource(count=domains, pcpus=64), ticks)
    return statistics.median(wall), max(wall)


WARMUP_S = 10.0  # start-up (imports, first paint, the prime) is not the steady cost


def run_in_pty(argv: list[str], seconds: float, size=(200, 50)) -> tuple[list[tuple[float, int]], float]:
    """Run argv on a pseudo-terminal for WARMUP_S + seconds; return [(time, bytes read)] and the
    share of one core it used over the last ``seconds`` (steady state)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    chunks = []
    started = time.monotonic()
    deadline = started + WARMUP_S + seconds
    cpu = cpu_at_warmup = 0.0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunks.append((time.monotonic(), len(os.read(fd, 65536))))
            except OSError:
                break
        cpu = proc_cpu_seconds(pid)
        if time.monotonic() - started < WARMUP_S:
            cpu_at_warmup = cpu
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
    return chunks, (cpu - cpu_at_warmup) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    median, worst = asyncio.run(frame_cost())
    rows = ["| measure | result | target |", "|---|---|---|",
            f"| frame cost, 1000 domains (table update + render), median / worst of 20 | {median:.1f} ms / "
            f"{worst:.1f} ms | ≤ 50 ms |"]
    env_home = tempfile.mkdtemp()
    os.environ["XDG_CONFIG_HOME"] = env_home  # no saved settings
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.xml"
        big.write_text(driver_xml(1000))
        _chunks, cpu = run_in_pty([sys.executable, "-m", "xentui", "-c", f"test://{big}", "-d", "1"], args.seconds)
        rows.append(f"| CPU of `xentui` over {args.seconds:.0f} s at 1 Hz, 1000 domains (test driver, "
                    f"its 4000 per-domain calls a tick included) | {100 * cpu:.1f} % of one core "
                    f"| ≤ 5 % |")
        _chunks, cpu = run_in_pty([sys.executable, "-m", "xentui", "-c", "synthetic://1000", "-d", "1"],
                                  args.seconds)
        rows.append(f"| CPU of `xentui` over {args.seconds:.0f} s at 1 Hz, 1000 domains (synthetic://1000: "
                    f"the monitor without libvirt's cost) | {100 * cpu:.1f} % of one core | ≤ 5 % |")
        small = Path(tmp) / "small.xml"
        small.write_text(driver_xml(50))
        os.environ["XENTUI_SORT"] = "name"  # a stable order: only the numbers change
        chunks, _ = run_in_pty([sys.executable, "-m", "xentui", "-c", f"test://{small}", "-d", "1"], 12)
        start = chunks[0][0] + WARMUP_S  # past start-up, the first full paint and the prime
        steady = [n for t, n in chunks if start <= t < start + 12]
        per_frame = sum(steady) / 12
        rows.append(f"| bytes written per frame, 200x50, 50 domains, numbers changing (12 frames) | "
                    f"{per_frame / 1024:.1f} KB | ≤ 8 KB |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
