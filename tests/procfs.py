"""CPU time of a process or one of its threads from /proc: the reference tests and benches judge figures by."""

from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in clock ticks
TICK_S = 1 / CLK_TCK


def stat_cpu_seconds(stat_path: str) -> float:
    """utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file, in seconds."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()  # the name, in parentheses, may hold anything
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads, ended ones too), in seconds."""
    return stat_cpu_seconds(f"/proc/{pid}/stat")
