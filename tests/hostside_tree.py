"""A made-up host for PSI and NUMA: /proc, a cgroup v2 mount, sysfs NUMA nodes and libvirt's pid files, in a
temporary directory (this lab host runs cgroup v1 on one node: neither can be seen for real here)."""

from __future__ import annotations

from pathlib import Path

from xentui.sources.hostside import HostPaths
from xentui.sources.hostside.held import OpenedEachRead, Reread
from xentui.sources.hostside.psi import pressure_files

CGROUP = "/machine.slice/machine-qemu\\x2d7\\x2dweb.scope/libvirt"
V1_LINES = "12:cpuset:/machine.slice\n4:memory:/machine.slice/machine-qemu\\x2d7\\x2dweb.scope\n"


def pressure_reads(cgroup_root: Path, cgroup: str) -> tuple[tuple[str, Reread], ...]:
    """The cgroup's pressure files as ``read_pressure`` takes them, each opened at its read."""
    return tuple((resource, OpenedEachRead(path)) for resource, path in pressure_files(cgroup_root, cgroup))


class HostTree:
    def __init__(self, base: Path, nodes: dict[int, str] | None = None) -> None:
        self.paths = HostPaths(base / "proc", base / "cgroup", base / "node", base / "run")
        for path in (self.paths.proc, self.paths.cgroup, self.paths.nodes, self.paths.qemu_run):
            path.mkdir(parents=True)
        for node, cpus in (nodes if nodes is not None else {0: "0-1", 1: "2-3"}).items():
            (self.paths.nodes / f"node{node}").mkdir()
            (self.paths.nodes / f"node{node}" / "cpulist").write_text(cpus + "\n")
        (self.paths.nodes / "possible").write_text("0-1\n")  # not a node directory: ignored

    def qemu(self, name: str, pid: int, cgroup: str | None = CGROUP) -> Path:
        """libvirt's pid file and the process's /proc/PID/cgroup (``0::`` line only with ``cgroup``)."""
        (self.paths.qemu_run / f"{name}.pid").write_text(str(pid))
        proc = self.paths.proc / str(pid)
        (proc / "task").mkdir(parents=True, exist_ok=True)
        (proc / "cgroup").write_text(V1_LINES + (f"0::{cgroup}\n" if cgroup is not None else ""))
        return proc

    def cgroup_dir(self, cgroup: str = CGROUP) -> Path:
        path = self.paths.cgroup / cgroup.lstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def pressure(self, resource: str, some_total: int, full_total: int | None = None, avg10: float = 1.5,
                 cgroup: str = CGROUP) -> None:
        text = f"some avg10={avg10:.2f} avg60=0.50 avg300=0.10 total={some_total}\n"
        if full_total is not None:
            text += f"full avg10=0.00 avg60=0.00 avg300=0.00 total={full_total}\n"
        (self.cgroup_dir(cgroup) / f"{resource}.pressure").write_text(text)

    def vcpu(self, pid: int, tid: int, vcpu: int, cpu: int) -> None:
        """A vCPU thread ``CPU n/KVM`` that last ran on ``cpu`` (stat field 39)."""
        task = self.paths.proc / str(pid) / "task" / str(tid)
        task.mkdir(parents=True, exist_ok=True)
        (task / "comm").write_text(f"CPU {vcpu}/KVM\n")
        fields = ["S"] + ["0"] * 35 + [str(cpu)] + ["0"] * 15  # fields 3.. of stat(5): [36] is field 39
        (task / "stat").write_text(f"{tid} (CPU {vcpu}/KVM) " + " ".join(fields) + "\n")

    def numa_maps(self, pid: int, text: str) -> None:
        (self.paths.proc / str(pid) / "numa_maps").write_text(text)


# A QEMU's guest RAM mostly on node 1 (4 KiB pages: 1000 + 3000 pages), a 2 MiB-page mapping on node 0.
NUMA_MAPS = ("7f0000000000 default anon=4000 dirty=4000 N0=1000 N1=3000 kernelpagesize_kB=4\n"
             "7f1000000000 bind:0 file=/dev/hugepages/x huge dirty=2 N0=2 kernelpagesize_kB=2048\n"
             "55d000000000 default file=/usr/bin/qemu-system-x86_64 mapped=20 N0=20 kernelpagesize_kB=4\n")
