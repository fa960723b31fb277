#!/usr/bin/env python3
"""Time from spawning the live view to the first lab guest's name on its screen, in a real pty.

Usage (as root, the KVM lab under the lab lock):
    flock /tmp/xentui-lab.lock .venv/bin/python bench/first_row.py [--runs 5] [--before DIR] [--uri URI]

``xentui lab up`` starts the three lab guests (busy, idle, half) if they are not running (and ``lab down``
stops them again at the end).  Each run spawns ``python -m xentui -c URI`` in a 120x30 pty with a fresh
config directory, reads the screen's bytes (escape sequences removed) until a guest name (``xtlab-``)
appears, presses q and waits for the exit.  ``--before DIR``: also time the checkout in DIR (e.g. a
worktree of main) the same way, runs interleaved.  Prints the median of each.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[@-Z\\-_])")
SHOW_DEADLINE_S = 30.0
EXIT_DEADLINE_S = 10.0


def spawn(tree: Path, uri: str, config: str) -> tuple[int, int]:
    """The live view of the checkout ``tree`` in a new 120x30 pty: (pid, the pty's fd)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once (nothing else may run after fork)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "30",
               "XDG_CONFIG_HOME": config, "PYTHONPATH": str(tree)}
        os.chdir(tree)  # python -m puts the working directory first on the path
        os.execve(sys.executable, [sys.executable, "-m", "xentui", "-c", uri], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    return pid, fd


def read_until(fd: int, needle: bytes, deadline: float) -> bool:
    """Read the pty until ``needle`` shows in its text (escape sequences removed) or the deadline passes."""
    seen = b""
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], min(0.2, left))
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child exited
            return False
        if not chunk:
            return False
        seen = (seen + chunk)[-262144:]
        if needle in ANSI.sub(b"", seen):
            return True
    return False


def stop(pid: int, fd: int) -> None:
    """q, then wait for the exit (killed after EXIT_DEADLINE_S)."""
    with contextlib.suppress(OSError):
        os.write(fd, b"q")
    deadline = time.monotonic() + EXIT_DEADLINE_S
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            read_until(fd, b"\x00never", time.monotonic() + 0.1)  # drain, so the child never blocks on output
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)


def first_row_s(tree: Path, uri: str, name: bytes) -> float:
    with tempfile.TemporaryDirectory() as config:
        began = time.monotonic()
        pid, fd = spawn(tree, uri, config)
        shown = read_until(fd, name, began + SHOW_DEADLINE_S)
        took = time.monotonic() - began
        stop(pid, fd)
    if not shown:
        raise SystemExit(f"first_row: no guest name on the screen of {tree} within {SHOW_DEADLINE_S:g} s")
    return took


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xentui", "lab", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--uri", default="qemu:///system")
    p.add_argument("--name", default="xtlab-", help="text of a guest row to wait for (default: the lab's prefix)")
    p.add_argument("--no-lab", action="store_true", help="do not start the lab (e.g. --uri synthetic://3 --name web)")
    p.add_argument("--before", type=Path, help="another checkout to time the same way (e.g. a worktree of main)")
    args = p.parse_args()
    was_up = args.no_lab or "xtlab-" in lab("status").stdout
    if not was_up:
        up = lab("up", "--no-linux")  # the three tiny guests, as in RESULTS.md
        if up.returncode != 0:
            raise SystemExit(f"first_row: xentui lab up failed: {up.stderr.strip()}")
    trees = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    times: dict[str, list[float]] = {name: [] for name in trees}
    try:
        name = args.name.encode()
        first_row_s(ROOT, args.uri, name)  # warm the page cache and libvirtd: not counted
        for _ in range(args.runs):
            for which, tree in trees.items():
                times[which].append(first_row_s(tree, args.uri, name))
    finally:
        if not was_up:
            lab("down")
    for which, values in times.items():
        print(f"{which}: median {statistics.median(values):.2f} s over {len(values)} runs "
              f"({', '.join(f'{v:.2f}' for v in values)}) [{trees[which]}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
