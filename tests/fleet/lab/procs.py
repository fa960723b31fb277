"""Processes of the fleet lab: started detached, found again by pid file (or mount namespace), ended by pid.

Every daemon runs under a name of its own (exec'd through a symlink such as ``xtlab-libvirtd``), so the
single-host lab's ``pgrep -x libvirtd`` / ``pkill -x libvirtd`` never see or kill the fleet's, and ours are
never mistaken for anyone else's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class LabError(RuntimeError):
    """A step of the lab failed; the message says which and why, in one line."""


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy; LabError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise LabError(f"{what}: not after {timeout:.0f} s")
        time.sleep(interval)


def run(*cmd: str, timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command with a deadline; with ``check``, a failure is a one-line LabError."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(cmd[:4])}: no answer within {timeout:.0f} s") from None
    if check and done.returncode:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise LabError(f"{' '.join(cmd[:4])} failed ({done.returncode}): {last[0]}")
    return done


def spawn(cmd: list[str], log: Path) -> int:
    """Start ``cmd`` detached (its own session, reparented to init, output to ``log``); its pid."""
    done = run("setsid", "sh", "-c", '"$@" >"$0" 2>&1 </dev/null & echo $!', str(log), *cmd, timeout=10)
    return int(done.stdout.strip())


def comm(pid: int) -> str | None:
    """The process's name, None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:]
    return None if rest.startswith(("Z", "X")) else name


def read_pid(path: Path, name: str) -> int | None:
    """The pid in ``path`` when that process is alive and called ``name`` (a stale file says None)."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if comm(pid) == name[:15] else None


def uts_ns(pid: int) -> str | None:
    """The UTS namespace of a process (``uts:[inode]``): a lab host's, for all of its processes, qemu too
    (libvirt gives each qemu a mount namespace of its own, but leaves it the UTS namespace of its libvirtd)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/uts")
    except OSError:
        return None


def pids_in_ns(ns: str) -> list[int]:
    """Every live process in the UTS namespace ``ns``."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and uts_ns(int(p)) == ns and comm(int(p))]


def terminate(pids: list[int], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL what is still alive after ``timeout`` s; returns once all are gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        live = [p for p in pids if comm(p)]
        for pid in live:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        try:
            wait_for(f"pids {live} to end", lambda live=live: not any(comm(p) for p in live), wait)
            return
        except LabError:
            if sig == signal.SIGKILL:
                raise


def tcp_banner(address: str, port: int, timeout: float = 3.0) -> bytes:
    """The first bytes a TCP server says (b"" when it is not there)."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            return sock.recv(64)
    except OSError:
        return b""


def tcp_open(address: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through an http_proxy


def http_get(url: str, timeout: float = 5.0) -> str | None:
    """The body of a 200 answer, None otherwise."""
    try:
        with _DIRECT.open(url, timeout=timeout) as resp:
            return resp.read().decode() if resp.status == 200 else None
    except (OSError, ValueError):
        return None
