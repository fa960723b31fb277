"""Where a VM's memory sits by NUMA node (/proc/PID/numa_maps summed per node, or its cgroup's
``memory.numa_stat``), and the nodes of the pCPUs its vCPU threads last ran on (sysfs node cpulists)."""

from __future__ import annotations

import re
from pathlib import Path

from xentui.cpulist import CpuListError, parse_cpulist
from xentui.limits import MAX_CPUS, counter
from xentui.model.pressure import NumaSample
from xentui.sources.hostside.files import read_bounded, vcpu_tids, whole_lines

MAX_NODES = 1024  # Linux's MAX_NUMNODES
MAX_CPULIST_FILE = 64 * 1024
MAX_NUMA_MAPS = 4 << 20  # a big VM's QEMU has a few thousand mappings (~200 bytes each); past this: partial
MAX_NUMA_STAT = 64 * 1024
MAX_STAT_FILE = 4096
_NODE_DIR = re.compile(r"node(\d{1,4})")
_NODE_PAGES = re.compile(r"N(\d{1,4})=(\d{1,20})")
_LINE_PAGES = re.compile(r" N(\d{1,4})=(\d{1,20})(?= |$)")
NUMA_STAT_KEYS = ("anon", "shmem")  # guest RAM: anonymous, or shared memory (memfd, memory-backend-file on tmpfs)


def node_of_cpu(node_root: Path) -> dict[int, int]:
    """pCPU -> node from ``nodeN/cpulist``; empty when the directory is absent (no NUMA here)."""
    try:
        nodes = sorted((int(m[1]), p) for p in node_root.iterdir() if (m := _NODE_DIR.fullmatch(p.name)))
    except OSError:
        return {}
    out: dict[int, int] = {}
    for node, path in nodes[:MAX_NODES]:
        read = read_bounded(path / "cpulist", MAX_CPULIST_FILE)
        if read is None or read[1]:
            continue
        try:
            cpus = parse_cpulist(read[0].strip(), MAX_CPUS) if read[0].strip() else frozenset()
        except CpuListError:
            continue
        for cpu in cpus:
            out.setdefault(cpu, node)
    return out


def parse_numa_maps(text: str, truncated: bool = False) -> dict[int, int]:
    """numa_maps lines (``7f.. default anon=512 dirty=512 N0=300 N1=212 kernelpagesize_kB=4``) -> node -> KiB."""
    out: dict[int, int] = {}
    for line in whole_lines(text, truncated):
        pages = _LINE_PAGES.findall(line)
        if not pages:
            continue
        size = line.rpartition(" kernelpagesize_kB=")[2].partition(" ")[0] if "kernelpagesize_kB=" in line else "4"
        page_kib = int(size) if size.isascii() and size.isdecimal() and 0 < int(size) <= 1 << 24 else 0
        for node, count in pages:
            kib = int(count) * page_kib
            if int(node) < MAX_NODES and counter(kib) is not None:  # a hostile count is dropped alone
                out[int(node)] = out.get(int(node), 0) + kib
    return {node: kib for node, kib in out.items() if counter(kib) is not None}


def parse_numa_stat(text: str, truncated: bool = False) -> dict[int, int]:
    """cgroup v2 ``memory.numa_stat`` (``anon N0=1073741824 N1=0``, bytes) -> node -> KiB of guest RAM."""
    out: dict[int, int] = {}
    for line in whole_lines(text, truncated):
        key, _, rest = line.partition(" ")
        if key not in NUMA_STAT_KEYS:
            continue
        for item in rest.split():
            if (m := _NODE_PAGES.fullmatch(item)) and int(m[1]) < MAX_NODES:
                out[int(m[1])] = out.get(int(m[1]), 0) + int(m[2]) // 1024
    return {node: kib for node, kib in out.items() if counter(kib) is not None}


def vcpu_cpus(proc: Path, pid: int) -> dict[int, int]:
    """vCPU number -> the pCPU its thread (``CPU n/KVM``) last ran on (stat field 39)."""
    out: dict[int, int] = {}
    for vcpu, tid in vcpu_tids(proc, pid).items():
        stat = read_bounded(proc / str(pid) / "task" / str(tid) / "stat", MAX_STAT_FILE)
        fields = stat[0].rpartition(")")[2].split() if stat is not None and not stat[1] else []
        cpu = fields[36] if len(fields) > 36 else ""  # field 39 of stat(5); fields[0] is field 3
        if cpu.isascii() and cpu.isdecimal() and int(cpu) < MAX_CPUS:
            out[vcpu] = int(cpu)
    return out


def read_numa(proc: Path, pid: int, nodes: dict[int, int], cgroup_dir: Path | None) -> NumaSample | None:
    """The VM's memory by node (its cgroup's numa_stat when there is one: small; else numa_maps, bounded) and its
    vCPUs' nodes (``nodes``: pCPU -> node); None when none of the files is there."""
    source, memory, partial = "numa_stat", None, False
    if cgroup_dir is not None and (read := read_bounded(cgroup_dir / "memory.numa_stat", MAX_NUMA_STAT)):
        memory, partial = parse_numa_stat(*read), read[1]
    if not memory and (read := read_bounded(proc / str(pid) / "numa_maps", MAX_NUMA_MAPS)):
        source, memory, partial = "numa_maps", parse_numa_maps(*read), read[1]
    vcpus = tuple((v, nodes[cpu]) for v, cpu in sorted(vcpu_cpus(proc, pid).items()) if cpu in nodes)
    if not memory and not vcpus:
        return None
    return NumaSample(source if memory else "", tuple(sorted((memory or {}).items())), vcpus, partial)
