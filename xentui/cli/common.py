"""What every command shares: one-line usage errors with exit status 2, the delay argument."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

from xentui.config import PATH_SETTINGS, Settings, check_delay
from xentui.text import visible

EXIT_USAGE = 2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")


class UsageParser(argparse.ArgumentParser):
    """Bad options: one line naming the fix, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def add_fast_path_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-fast-path", action="store_true", help="local qemu:///system: read every figure through "
                   "libvirt, not CPU, vCPU, RSS and net from /proc")


def configure_host_side(prog: str) -> None:
    """The host's file roots (/proc, the cgroup and NUMA trees, QEMU's pid files: PSI, NUMA, the fast path) from
    config.toml and XENTUI_*, as the live view takes them; each problem met in the config: one line."""
    from xentui import config

    settings, problems = config.load()
    use_host_paths(settings)
    for line in problems:
        print(f"{prog}: {visible(line)}", file=sys.stderr)


def use_host_paths(settings: Settings) -> None:
    """The host's file roots of ``settings`` for every source made from now on (before the first sample)."""
    from xentui.sources import hostside

    hostside.configure(hostside.from_settings(*(getattr(settings, k) for k in PATH_SETTINGS)))


def delay_arg(text: str) -> float:
    try:
        return check_delay(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


async def unless_signalled(work: Coroutine[Any, Any, T]) -> T | None:
    """Run ``work`` until it ends, or until SIGINT or SIGTERM (then it is cancelled and None returned)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        return None
    finally:
        stopper.cancel()
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
