"""Bounded reads of kernel files (procfs, sysfs, cgroupfs), whose contents are outside text."""

from __future__ import annotations

import os
from pathlib import Path

from xentui.limits import MAX_VCPUS

MAX_THREADS = MAX_VCPUS + 1024  # a QEMU's threads read at most (vCPUs, I/O and worker threads)


READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a kernel file: never a link, never blocking


def read_bounded(path: Path | str, limit: int, dir_fd: int | None = None) -> tuple[str, bool] | None:
    """At most ``limit`` bytes of ``path`` (under ``dir_fd`` when given) as text and whether there was more; None
    when it is absent or unreadable (never an error: a file the kernel does not offer here is "not present").
    Undecodable bytes are replaced: a caller's parser drops what it does not recognise."""
    data = read_bounded_bytes(path, limit, dir_fd)
    return None if data is None else bounded_text(data, limit)


def read_bounded_bytes(path: Path | str, limit: int, dir_fd: int | None = None) -> bytes | None:
    """At most ``limit + 1`` bytes of ``path`` (more than ``limit``: the file is longer); None when it is absent
    or unreadable."""
    try:
        fd = os.open(path, READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:  # procfs hands out a page or so per read
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks)


def bounded_text(data: bytes, limit: int) -> tuple[str, bool]:
    """``limit`` bytes of a read of ``limit + 1`` as text, undecodable bytes replaced, and whether there was more."""
    return data[:limit].decode("utf-8", "replace"), len(data) > limit


def whole_lines(text: str, truncated: bool) -> list[str]:
    """The text's lines, a line cut by the bound dropped."""
    lines = text.split("\n")
    return [line for line in (lines[:-1] if truncated else lines) if line]


def task_ids(proc: Path, pid: int) -> list[int]:
    """The thread ids of process ``pid`` (``/proc/PID/task``; at most MAX_THREADS; empty when it is gone)."""
    try:
        with os.scandir(proc / str(pid) / "task") as entries:
            names = [e.name for _, e in zip(range(MAX_THREADS), entries, strict=False)]
    except OSError:
        return []
    return [int(n) for n in names if n.isascii() and n.isdecimal()]


def vcpu_tids(proc: Path, pid: int, tids: list[int] | None = None) -> dict[int, int]:
    """vCPU number -> thread id of a QEMU process: its threads (``tids``, else all of them) named ``CPU n/KVM``."""
    out: dict[int, int] = {}
    for tid in task_ids(proc, pid) if tids is None else tids:
        comm = read_bounded(proc / str(pid) / "task" / str(tid) / "comm", 64)
        n = vcpu_number(comm[0].strip()) if comm is not None else None
        if n is not None and n < MAX_VCPUS:
            out[n] = tid
    return out


def vcpu_number(comm: str) -> int | None:
    """``CPU 3/KVM`` (QEMU's name for a KVM vCPU thread) -> 3; anything else None (ASCII digits only)."""
    if not comm.startswith("CPU ") or not comm.endswith("/KVM"):
        return None
    n = comm[4:-4]
    return int(n) if n.isascii() and n.isdecimal() and len(n) <= 5 else None
