"""The kernel's own files for one QEMU process, read through a directory fd bound to that process.

``/proc/PID`` opened as a directory stays bound to the process it named: once that process exits, every read
through the fd fails (ESRCH), even when the pid is handed to another process.  So a guest is proven once (its
``-uuid`` on the command line, read through the fd) and every later read is the guest's own or nothing.
Everything read is outside text: bounded, parsed strictly, anything odd is "not known" (None).
"""

from __future__ import annotations

import os
from pathlib import Path

from xentui.limits import counter
from xentui.sources.hostside.files import read_bounded, whole_lines
from xentui.sources.hostside.psi import clean_cgroup

MAX_CMDLINE = 256 * 1024  # QEMU's command line: a few KiB, more with many devices
MAX_SMALL = 512  # schedstat, statm, cpuacct.usage, a counter
MAX_CPU_STAT = 4096  # cgroup v2 cpu.stat
MAX_THREADS = 4096  # tasks of one QEMU looked at
MAX_NET_DEV = 4 * 1024 * 1024  # /proc/net/dev: ~130 bytes a device


def read_at(dirfd: int, name: str, limit: int) -> str | None:
    """At most ``limit`` bytes of ``name`` under ``dirfd``; None when absent, unreadable, the process gone, or
    longer than ``limit`` (a figure cut short would lie)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirfd)
    except OSError:
        return None
    try:
        data = os.read(fd, limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace") if len(data) <= limit else None


def open_process(proc: Path, pid: int) -> int | None:
    """A directory fd on ``proc/PID`` (None: no such process)."""
    try:
        return os.open(proc / str(pid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None


def cmdline_uuid(dirfd: int) -> str | None:
    """The ``-uuid`` argument of the process's command line, lower case (None: none, or not one)."""
    text = read_at(dirfd, "cmdline", MAX_CMDLINE)
    if text is None:
        return None
    args = text.split("\0")
    found = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-uuid"]
    return found[0].lower() if len(found) == 1 and len(found[0]) == 36 else None


def vcpu_threads(dirfd: int) -> dict[int, str] | None:
    """vCPU number -> ``task/TID`` of the process's ``CPU n/KVM`` threads (None: the tasks cannot be listed, or
    a number is named twice)."""
    try:
        task_fd = os.open("task", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dirfd)
    except OSError:
        return None
    try:
        tids = os.listdir(task_fd)
    except OSError:
        return None
    finally:
        os.close(task_fd)
    found: dict[int, str] = {}
    for tid in tids[:MAX_THREADS]:
        if not tid.isascii() or not tid.isdecimal():
            continue
        comm = read_at(dirfd, f"task/{tid}/comm", 64)
        n = vcpu_number(comm.rstrip("\n")) if comm is not None else None
        if n is not None:
            if n in found:
                return None
            found[n] = f"task/{tid}"
    return found


def vcpu_number(comm: str) -> int | None:
    """``CPU 3/KVM`` (QEMU's name for a KVM vCPU thread) -> 3; anything else None."""
    if not comm.startswith("CPU ") or not comm.endswith("/KVM"):
        return None
    n = comm[4:-4]
    return int(n) if n.isascii() and n.isdecimal() and len(n) <= 5 else None


def vcpu_times(dirfd: int, task: str, ticks_per_s: int) -> tuple[int, int] | None:
    """(vcpu.N.time, vcpu.N.delay) of one vCPU thread, from where libvirt reads them: ``task/TID/stat``'s
    utime + stime (clock ticks, as ns) and ``task/TID/schedstat``'s run-queue wait (ns)."""
    text = read_at(dirfd, f"{task}/schedstat", MAX_SMALL)
    parts = text.split() if text is not None else []
    wait = _number(parts[1]) if len(parts) == 3 else None
    run = stat_cpu_ns(dirfd, f"{task}/stat", ticks_per_s)
    return (run, wait) if run is not None and wait is not None else None


def rss_kib(dirfd: int, page_kib: int) -> int | None:
    """Resident memory (KiB) of ``statm``'s second field: what libvirt's balloon.rss reads."""
    text = read_at(dirfd, "statm", MAX_SMALL)
    parts = text.split() if text is not None else []
    pages = _number(parts[1]) if len(parts) >= 2 else None
    return counter(pages * page_kib) if pages is not None else None


def stat_cpu_ns(dirfd: int, name: str, ticks_per_s: int) -> int | None:
    """utime + stime of a ``stat`` file in ns (libvirt's cpu.time where the guest has no cpuacct cgroup)."""
    text = read_at(dirfd, name, 4096)
    if text is None or ") " not in text:
        return None
    fields = text.rpartition(") ")[2].split()  # the name may hold spaces and parentheses: after the last ")"
    if len(fields) < 13:
        return None
    utime, stime = _number(fields[11]), _number(fields[12])
    return counter((utime + stime) * 1_000_000_000 // ticks_per_s) \
        if utime is not None and stime is not None else None


def cgroup_cpu_file(dirfd: int, cgroup_root: Path) -> str | None:
    """The file of the guest's cgroup CPU time: v1 ``cpuacct.usage`` (ns) or v2 ``cpu.stat`` (``usage_usec``),
    of the cgroup of its QEMU (the parent of libvirt's ``emulator`` one).  None: no such cgroup, or the root
    (the whole host's time, never the guest's)."""
    text = read_at(dirfd, "cgroup", 64 * 1024)
    if text is None:
        return None
    for line in whole_lines(text, False):
        hierarchy, _, path = line.partition(":")[2].partition(":")
        controllers = hierarchy.split(",")
        if "cpuacct" in controllers or line.startswith("0::"):
            clean = clean_cgroup(path)
            if clean is not None and clean.endswith("/emulator"):
                clean = clean.rpartition("/")[0]
            if not clean:
                continue  # the root, or not a plain path
            if line.startswith("0::"):
                candidate = cgroup_root / "unified" / clean.lstrip("/") / "cpu.stat"
                if not candidate.exists():
                    candidate = cgroup_root / clean.lstrip("/") / "cpu.stat"
            else:
                candidate = cgroup_root / ",".join(controllers) / clean.lstrip("/") / "cpuacct.usage"
                if not candidate.exists():
                    candidate = cgroup_root / "cpuacct" / clean.lstrip("/") / "cpuacct.usage"
            if candidate.exists():
                return str(candidate)
    return None


def cgroup_cpu_ns(path: str) -> int | None:
    """The cgroup's CPU time in ns from :func:`cgroup_cpu_file`'s file."""
    if path.endswith("cpuacct.usage"):
        read = read_bounded(path, MAX_SMALL)
        return _number(read[0].strip()) if read is not None and not read[1] else None
    read = read_bounded(path, MAX_CPU_STAT)
    if read is None or read[1]:
        return None
    for line in whole_lines(*read):
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            usec = _number(value.strip())
            return counter(usec * 1000) if usec is not None else None
    return None


def net_dev(text: str, truncated: bool = False) -> dict[str, tuple[int, ...]]:
    """``/proc/net/dev`` (where libvirt reads a tap's counters) -> device -> its 8 counters in libvirt's order
    (rx bytes, packets, errs, drop, tx bytes, packets, errs, drop), as the host sees them."""
    out: dict[str, tuple[int, ...]] = {}
    for line in whole_lines(text, truncated)[2:]:
        dev, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or len(fields) != 16:
            continue
        values = [_number(f) for f in (*fields[0:4], *fields[8:12])]
        if None not in values:
            out[dev.strip()] = tuple(v for v in values if v is not None)
    return out


def _number(text: str) -> int | None:
    return counter(int(text)) if text.isascii() and text.isdecimal() and len(text) <= 20 else None
