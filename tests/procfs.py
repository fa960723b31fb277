"""CPU time of a process or one of its threads from /proc: the reference tests and benches judge figures by."""

from __future__ import annotations

import os
import re

CLK_TCK = os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in clock ticks
TICK_S = 1 / CLK_TCK
QEMU_VCPU_THREAD = re.compile(r"CPU \d+/(KVM|TCG)")  # QEMU's vCPU threads' names; every other one is overhead


def stat_cpu_seconds(stat_path: str) -> float:
    """utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file, in seconds."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()  # the name, in parentheses, may hold anything
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads, ended ones too), in seconds."""
    return stat_cpu_seconds(f"/proc/{pid}/stat")


def thread_cpu_seconds(pid: int) -> dict[str, tuple[str, float]]:
    """{tid: (name, CPU seconds)} of the process's threads now (one that ends meanwhile is left out; the
    process's own figure, :func:`proc_cpu_seconds`, holds the ended ones too)."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            threads[tid] = (comm, stat_cpu_seconds(f"/proc/{pid}/task/{tid}/stat"))
        except FileNotFoundError:  # a worker thread that ended meanwhile
            continue
    return threads


def vcpu_seconds(threads: dict[str, tuple[str, float]]) -> float:
    """CPU seconds of QEMU's vCPU threads among ``threads`` (:func:`thread_cpu_seconds`)."""
    return sum(s for comm, s in threads.values() if QEMU_VCPU_THREAD.fullmatch(comm))
