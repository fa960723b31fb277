"""What PSI and NUMA cost: HostSide.read (the tick's part: three pressure files per guest) and one NUMA round
(the background thread's: numa_stat or numa_maps, vCPU threads' stat), for N guests on a built tree (tmpfs-like
files in a temporary directory; the real cgroupfs and procfs are in memory too).

    python bench/hostside_cost.py --guests 1000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostside_tree import HostTree
from xentui.sources.hostside import HostSide

BIG_MAPS = "".join(f"7f{i:010x} default anon=512 dirty=512 N0=256 N1=256 kernelpagesize_kB=4\n" for i in range(2000))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:  # in memory
        tree = HostTree(Path(tmp))
        running = []
        for i in range(args.guests):
            name, pid, cgroup = f"vm{i}", 1000 + 10 * i, f"/machine.slice/vm{i}.scope/libvirt"
            tree.qemu(name, pid, cgroup)
            for resource in ("cpu", "memory", "io"):
                tree.pressure(resource, 1000 * i, 10 * i, cgroup=cgroup)
            tree.numa_maps(pid, BIG_MAPS)
            tree.vcpu(pid, pid + 1, 0, cpu=i % 4)
            tree.vcpu(pid, pid + 2, 1, cpu=(i + 1) % 4)
            running.append((f"uuid-{i}", i + 1, name))
        side = HostSide(tree.paths, numa_interval_s=3600, clock=time.perf_counter)
        side.close()  # its NUMA thread never starts: the ticks are timed alone, the NUMA round below
        start = time.perf_counter()
        side.read(running)  # first tick: pid files and /proc/PID/cgroup too
        first = time.perf_counter() - start
        ticks, read = [], []
        for _ in range(args.ticks):
            start = time.perf_counter()
            found = side.read(running)
            ticks.append(time.perf_counter() - start)
            read.append(sum(1 for psi, _numa in found.values() if psi is not None and psi.at >= start))
        start = time.perf_counter()
        side._read_numa()
        numa = time.perf_counter() - start
    print(f"guests {args.guests}: first tick {first * 1e3:.1f} ms, later ticks median "
          f"{statistics.median(ticks) * 1e3:.1f} ms (max {max(ticks) * 1e3:.1f}; guests read a tick: median "
          f"{statistics.median(read):.0f}), NUMA round (numa_maps of "
          f"{len(BIG_MAPS) // 1024} KiB each) {numa * 1e3:.0f} ms in the background; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
