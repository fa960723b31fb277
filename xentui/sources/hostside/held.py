"""Small kernel files read every tick, kept open and read again from their start.

procfs, sysfs and cgroupfs make a file's text afresh for a read at offset 0 (``pread``), so a file held open
costs one system call a read instead of three and a walk of its path: 241 guests' ~1700 files a tick took 6 ms
of CPU instead of 17 (measured, bench/RESULTS.md).  A file under ``/proc/PID`` stays bound to the process it was
opened in: once that process ends, every read fails (ESRCH), whoever is given the pid after; a cgroup's file
fails (ENODEV) once the cgroup is removed.  Either is "not known now", never another's figure.

Descriptors are bounded.  The first file held raises RLIMIT_NOFILE's soft limit towards its hard one (at most
WANTED_FDS); held files take what that allows less RESERVE_FDS, and past it a file is opened at each read, as
before (:class:`OpenedEachRead`).
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path
from typing import Protocol

from xentui.sources.hostside.files import READ_FLAGS, bounded_text, read_bounded, read_bounded_bytes

WANTED_FDS = 65536
RESERVE_FDS = 512  # always left to everything else: libvirt's sockets, the terminal, logs, subprocesses


class Reread(Protocol):
    def read(self, limit: int) -> tuple[str, bool] | None:
        """At most ``limit`` bytes from its start as text, and whether there was more; None: cannot be read now."""

    def read_bytes(self, limit: int) -> bytes | None:
        """Its bytes from its start; None: cannot be read now, or longer than ``limit`` (a figure cut short would
        lie).  For the figures read every tick: no text made of them."""

    def close(self) -> None: ...


class _Budget:
    """How many descriptors held files may take (one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held = 0
        self.allowed: int | None = None  # learnt (and the limit raised) when the first file is held

    def take(self) -> bool:
        with self._lock:
            if self.allowed is None:
                self.allowed = max(0, _raised_limit() - RESERVE_FDS)
            if self.held >= self.allowed:
                return False
            self.held += 1
            return True

    def give(self) -> None:
        with self._lock:
            self.held -= 1


def _raised_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = WANTED_FDS if hard == resource.RLIM_INFINITY else min(hard, WANTED_FDS)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):  # not allowed here: the limit as it is
            pass
    return WANTED_FDS if soft == resource.RLIM_INFINITY else min(soft, WANTED_FDS)


BUDGET = _Budget()


class HeldFile:
    """One file kept open, read with ``pread`` at offset 0."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def read(self, limit: int) -> tuple[str, bool] | None:
        data = self._pread(limit + 1)
        return None if data is None else bounded_text(data, limit)

    def read_bytes(self, limit: int) -> bytes | None:
        return whole(self._pread(limit + 1), limit)

    def _pread(self, size: int) -> bytes | None:
        if self._fd < 0:
            return None
        try:
            return os.pread(self._fd, size, 0)
        except OSError:
            return None

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)
            BUDGET.give()

    def __del__(self) -> None:  # one dropped unclosed (a map replaced mid-tick): its descriptor is given back
        self.close()


class OpenedEachRead:
    """A file opened at each read (no descriptor left to hold it): ``name`` under ``dir_fd``, or a path."""

    __slots__ = ("_dir_fd", "_name")

    def __init__(self, name: str | Path, dir_fd: int | None = None) -> None:
        self._name, self._dir_fd = name, dir_fd

    def read(self, limit: int) -> tuple[str, bool] | None:
        return read_bounded(self._name, limit, self._dir_fd)

    def read_bytes(self, limit: int) -> bytes | None:
        return whole(read_bounded_bytes(self._name, limit, self._dir_fd), limit)

    def close(self) -> None:
        pass


def whole(data: bytes | None, limit: int) -> bytes | None:
    """A read of ``limit + 1`` bytes as the file whole: None when it was longer (a figure cut short would lie)."""
    return data if data is not None and len(data) <= limit else None


def hold(name: str | Path, dir_fd: int | None = None) -> Reread | None:
    """``name`` (under ``dir_fd`` when given) to read again each tick; None when it is not there or unreadable."""
    if not BUDGET.take():
        return OpenedEachRead(name, dir_fd) if os.access(name, os.R_OK, dir_fd=dir_fd) else None
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        BUDGET.give()
        return None
    return HeldFile(fd)


def close_all(files: tuple[Reread | None, ...] | list[Reread | None]) -> None:
    for f in files:
        if f is not None:
            f.close()
