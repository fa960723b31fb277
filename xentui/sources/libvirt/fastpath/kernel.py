"""The kernel's own files for one QEMU process, read through a directory fd bound to that process.

``/proc/PID`` opened as a directory stays bound to the process it named: once that process exits, every read
through the fd fails (ESRCH), even when the pid is handed to another process.  So a guest is proven once (its
``-uuid`` on the command line, read through the fd) and every later read is the guest's own or nothing.  The files
read every tick are opened through that fd once and held (hostside/held.py): bound to the process the same way.
Everything read is outside text: bounded, parsed strictly, anything odd is "not known" (None).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from xentui.cpulist import CpuListError, parse_cpulist
from xentui.limits import MAX_COUNTER, MAX_CPUS, counter
from xentui.sources.hostside.files import vcpu_number, whole_lines
from xentui.sources.hostside.held import OpenedEachRead, Reread
from xentui.sources.hostside.psi import clean_cgroup

MAX_CMDLINE = 256 * 1024  # QEMU's command line: a few KiB, more with many devices
MAX_SMALL = 512  # schedstat, statm, cpuacct.usage, a counter
MAX_STAT = 4096  # /proc/PID/stat, /proc/PID/task/TID/stat
MAX_STATUS = 16 * 1024  # /proc/PID/task/TID/status: ~1.5 KiB, its CPU lists longer on big hosts
MAX_CPU_STAT = 4096  # cgroup v2 cpu.stat
MAX_THREADS = 4096  # tasks of one QEMU looked at
MAX_NET_DEV = 4 * 1024 * 1024  # /proc/net/dev: ~130 bytes a device


def read_at(dirfd: int, name: str, limit: int) -> str | None:
    """At most ``limit`` bytes of ``name`` under ``dirfd``, opened for this read; None when absent, unreadable, the
    process gone, or longer than ``limit`` (a figure cut short would lie)."""
    read = OpenedEachRead(name, dirfd).read(limit)
    return read[0] if read is not None and not read[1] and read[0] else None


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


def thread_links(dirfd: int) -> int | None:
    """The link count of the process's ``task`` directory: 2 + its number of threads (procfs), one stat (None: the
    process ended)."""
    try:
        return os.stat("task", dir_fd=dirfd).st_nlink
    except OSError:
        return None


@dataclass(frozen=True)
class VcpuFiles:
    """One vCPU thread's files, held (held.py)."""

    number: int
    stat: Reread  # task/TID/stat
    schedstat: Reread  # task/TID/schedstat
    task: str  # task/TID


@dataclass(frozen=True)
class CpuFile:
    """Where a guest's CPU time is read: its cgroup's ``cpuacct.usage`` (v1, ns) or ``cpu.stat`` (v2,
    ``usage_usec``), else its process's ``stat`` (utime + stime)."""

    file: Reread
    kind: str  # "cpuacct.usage", "cpu.stat" or "stat"


# The files read every tick are parsed as bytes (no text made of them; ``bytes.isdigit`` is ASCII digits only).

def vcpu_times(files: VcpuFiles, ticks_per_s: int) -> tuple[int, int] | None:
    """(vcpu.N.time, vcpu.N.delay) of one vCPU thread, from where libvirt reads them: ``task/TID/stat``'s
    utime + stime (clock ticks, as ns) and ``task/TID/schedstat``'s run-queue wait (ns)."""
    parts = (files.schedstat.read_bytes(MAX_SMALL) or b"").split()
    wait = _count(parts[1]) if len(parts) == 3 else None
    run = stat_cpu_ns(files.stat, ticks_per_s)
    return (run, wait) if run is not None and wait is not None else None


def last_cpu(stat_fields: list[bytes]) -> int | None:
    """The pCPU a thread last ran on: its ``stat``'s ``processor`` (field 39, what ``vcpus()`` gives)."""
    return _count(stat_fields[36]) if len(stat_fields) > 36 else None


def affinity(dirfd: int, files: VcpuFiles) -> frozenset[int] | None:
    """The vCPU thread's hard affinity, ``Cpus_allowed_list`` of its ``status`` (``sched_getaffinity``, as
    libvirt's ``vcpus()`` reads it), through the process's fd (None: unreadable, the thread gone, not a list)."""
    text = read_at(dirfd, f"{files.task}/status", MAX_STATUS)
    for line in text.split("\n") if text is not None else ():
        if line.startswith("Cpus_allowed_list:"):
            try:
                return parse_cpulist(line.partition(":")[2].strip(), MAX_CPUS)
            except CpuListError:
                return None
    return None


def rss_kib(statm: Reread, page_kib: int) -> int | None:
    """Resident memory (KiB) of ``statm``'s second field: what libvirt's balloon.rss reads."""
    parts = (statm.read_bytes(MAX_SMALL) or b"").split()
    pages = _count(parts[1]) if len(parts) >= 2 else None
    return counter(pages * page_kib) if pages is not None else None


def stat_fields(stat: Reread, most: int = -1) -> list[bytes]:
    """The fields of a ``stat`` file after the process's name (``state`` first: field 3 is index 0); [] when it
    cannot be read."""
    _name, sep, tail = (stat.read_bytes(MAX_STAT) or b"").rpartition(b") ")  # the name may hold spaces and ")"
    return tail.split(None, most) if sep else []  # (``most`` splits: the rest left whole)


def stat_cpu_ns(stat: Reread, ticks_per_s: int) -> int | None:
    """utime + stime of a ``stat`` file in ns (libvirt's cpu.time where the guest has no cpuacct cgroup)."""
    fields = stat_fields(stat, 13)  # (utime and stime are the 12th and 13th)
    if len(fields) < 14:
        return None
    utime, stime = _count(fields[11]), _count(fields[12])
    return counter((utime + stime) * 1_000_000_000 // ticks_per_s) \
        if utime is not None and stime is not None else None


def _count(digits: bytes) -> int | None:
    return counter(int(digits)) if digits.isdigit() and len(digits) <= 20 else None


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


def cpu_ns(cpu: CpuFile, ticks_per_s: int) -> int | None:
    """The guest's CPU time in ns from :func:`cgroup_cpu_file`'s file, else its process's ``stat``."""
    if cpu.kind == "stat":
        return stat_cpu_ns(cpu.file, ticks_per_s)
    if cpu.kind == "cpuacct.usage":
        return _count((cpu.file.read_bytes(MAX_SMALL) or b"").strip())
    for line in (cpu.file.read_bytes(MAX_CPU_STAT) or b"").split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"usage_usec":
            usec = _count(value.strip())
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
        wanted = (*fields[0:4], *fields[8:12])
        digits = "".join(wanted)  # one check a line: plain ASCII decimals (int() takes "+1", "1_0", non-ASCII digits)
        if digits.isascii() and digits.isdecimal() and max(map(len, wanted)) <= 20:
            values = tuple(map(int, wanted))
            if max(values) < MAX_COUNTER:
                out[dev.strip()] = values
    return out

