"""Device-model processes in dom0, from /proc: which domain each serves (``-xen-domid N``), their CPU.

A QEMU serving domain N runs as ``qemu-system-i386 ... -xen-domid N`` (libxl's own command line).  Anyone can
start a process with such a command line, so only root's, or a ``xen-qemuuser*`` user's (libxl's
``device_model_user``), count.  A pid is kept with its start time (/proc/<pid>/stat field 22): the same pid with
another start time is another process.
"""

from __future__ import annotations

import itertools
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLK_TCK = os.sysconf("SC_CLK_TCK")
NS_PER_TICK = 1_000_000_000 // CLK_TCK
MAX_CMDLINE = 64 * 1024  # a command line read is bounded (QEMU's are a few KiB)
QEMU_USER_PREFIX = "xen-qemuuser"


@dataclass(frozen=True)
class Process:
    """One dom0 process serving a domain: its pid and the start time that makes the pid its own."""

    pid: int
    start_ticks: int  # clock ticks after boot


def _read(path: Path, most: int = MAX_CMDLINE) -> bytes | None:
    try:
        with path.open("rb") as f:
            return f.read(most)
    except OSError:  # gone, or not ours to read
        return None


def stat_fields(proc: Path, pid: int) -> tuple[int, int] | None:
    """(start ticks, user + system ticks) of a process (None: gone or unreadable)."""
    raw = _read(proc / str(pid) / "stat", 4096)
    if raw is None:
        return None
    fields = raw.rpartition(b")")[2].split()  # the name, in parentheses, may hold spaces and ")"
    try:  # after the name: state is field 3, utime 14, stime 15, starttime 22
        return int(fields[19]), int(fields[11]) + int(fields[12])
    except (IndexError, ValueError):
        return None


def served_domid(argv: list[bytes]) -> int | None:
    """The N of a QEMU's ``-xen-domid N`` (None: not a device model)."""
    if not argv or b"qemu" not in argv[0].rsplit(b"/", 1)[-1]:
        return None
    for flag, value in itertools.pairwise(argv):
        if flag == b"-xen-domid" and value.isdigit() and len(value) <= 10:
            return int(value)
    return None


def _trusted(uid: int) -> bool:
    if uid == 0:
        return True
    try:
        return pwd.getpwuid(uid).pw_name.startswith(QEMU_USER_PREFIX)
    except KeyError:
        return False


def device_models(proc: Path = PROC) -> dict[int, list[Process]]:
    """Every trusted device-model process in dom0, by the domid it serves (one pass over /proc)."""
    out: dict[int, list[Process]] = {}
    try:
        entries = [e for e in os.scandir(proc) if e.name.isdigit()]
    except OSError:
        return out
    for entry in entries:
        pid = int(entry.name)
        process = device_model(proc, pid)
        if process is not None:
            out.setdefault(process[0], []).append(process[1])
    return out


def device_model(proc: Path, pid: int) -> tuple[int, Process] | None:
    """(served domid, process) when ``pid`` is a trusted device model, else None."""
    raw = _read(proc / str(pid) / "cmdline")
    if not raw:
        return None
    domid = served_domid(raw.rstrip(b"\0").split(b"\0"))
    if domid is None:
        return None
    try:
        uid = os.stat(proc / str(pid)).st_uid
    except OSError:
        return None
    fields = stat_fields(proc, pid)
    if not _trusted(uid) or fields is None:
        return None
    return domid, Process(pid, fields[0])


def cpu_ns(proc: Path, processes: tuple[Process, ...]) -> int | None:
    """The processes' CPU time together, ns; None when one is gone or its pid now names another process."""
    total = 0
    for p in processes:
        fields = stat_fields(proc, p.pid)
        if fields is None or fields[0] != p.start_ticks:
            return None
        total += fields[1]
    return total * NS_PER_TICK
