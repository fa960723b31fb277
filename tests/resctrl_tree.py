"""A resctrl mount, /proc, cpu caches and libvirt's qemu pid files, built under a temporary root.

The layout is the kernel's (Documentation/filesystems/resctrl.rst): ``info/L3_MON/{num_rmids,
mon_features}``, ``mon_data/mon_L3_XX/{llc_occupancy,mbm_total_bytes,mbm_local_bytes}`` in the
root, in control groups and in ``mon_groups/*``; counters are changed between ticks by the tests.
"""

from __future__ import annotations

from pathlib import Path

from xentui.sources.cache_qos.resctrl import Resctrl

FEATURES = ("llc_occupancy", "mbm_total_bytes", "mbm_local_bytes")


class FakeHost:
    def __init__(self, base: Path, cache_ids: tuple[int, ...] = (0,), l3_size: str = "32768K", rmids: int = 4,
                 mounted: bool = True):
        self.base = base
        self.root = base / "resctrl"
        self.proc = base / "proc"
        self.sys_cpu = base / "cpu"
        self.run = base / "run"
        self.cache_ids = cache_ids
        for d in (self.proc, self.run):
            d.mkdir(parents=True, exist_ok=True)
        for cpu, cache_id in enumerate(cache_ids):
            index = self.sys_cpu / f"cpu{cpu}" / "cache" / "index3"
            index.mkdir(parents=True)
            for name, value in (("level", "3"), ("id", str(cache_id)), ("size", l3_size)):
                (index / name).write_text(value + "\n")
        if mounted:
            mon = self.root / "info" / "L3_MON"
            mon.mkdir(parents=True)
            (mon / "num_rmids").write_text(f"{rmids}\n")
            (mon / "mon_features").write_text("\n".join(FEATURES) + "\n")
            (self.root / "mon_groups").mkdir()
            self.group("", tasks=())

    def resctrl(self) -> Resctrl:
        return Resctrl(self.root, proc=self.proc, sys_cpu=self.sys_cpu, qemu_run=self.run)

    def qemu(self, name: str, pid: int, vcpu_tids: tuple[int, ...], other_tids: tuple[int, ...] = ()) -> None:
        """A qemu process: its pid file and threads (vCPUs named ``CPU n/KVM``)."""
        (self.run / f"{name}.pid").write_text(f"{pid}")
        threads = {pid: "qemu-system-x86", **{t: "IO mon_iothread" for t in other_tids}}
        threads.update({t: f"CPU {n}/KVM" for n, t in enumerate(vcpu_tids)})
        for tid, comm in threads.items():
            task = self.proc / str(pid) / "task" / str(tid)
            task.mkdir(parents=True, exist_ok=True)
            (task / "comm").write_text(comm + "\n")

    def group(self, rel: str, tasks: tuple[int, ...]) -> Path:
        """A control group (``"name"``) or monitoring group (``"mon_groups/name"``) with its counters at 0."""
        path = self.root / rel if rel else self.root
        path.mkdir(parents=True, exist_ok=True)
        (path / "tasks").write_text("".join(f"{t}\n" for t in tasks))
        for cache_id in self.cache_ids:
            self.counters(rel, cache_id, 0, 0, 0)
        return path

    def counters(self, rel: str, cache_id: int, occupancy: int | str, total: int | str, local: int | str) -> None:
        mon = (self.root / rel if rel else self.root) / "mon_data" / f"mon_L3_{cache_id:02d}"
        mon.mkdir(parents=True, exist_ok=True)
        for name, value in zip(FEATURES, (occupancy, total, local), strict=True):
            (mon / name).write_text(f"{value}\n")
