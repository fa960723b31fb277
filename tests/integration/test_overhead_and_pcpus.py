"""OVH(%) on a real guest doing virtio disk I/O, against /proc of QEMU's non-vCPU threads over the same window
(/proc/<pid>/stat minus the vCPU threads' /proc/<pid>/task/*/stat: threads that ended count too); ``-p``'s
per-pCPU figures against /proc/stat over the same window."""

from __future__ import annotations

import re
import time

import pytest

from tests.factories import wait_for
from tests.procfs import TICK_S, proc_cpu_seconds, thread_cpu_seconds, vcpu_seconds
from xentui import lab
from xentui.model import RawSample, build_snapshot
from xentui.output.xentop import XentopOptions, format_frame
from xentui.sources.libvirt import LibvirtSource

WINDOW_S = 4.0


def non_vcpu_s(pid: int) -> tuple[float, dict[str, tuple[str, float]]]:
    """CPU seconds of QEMU's non-vCPU threads, ended ones included (the process minus its `CPU n/KVM` threads:
    emulator, I/O, workers, and vhost-<pid> when the kernel runs vhost-net workers as QEMU's threads)."""
    threads = thread_cpu_seconds(pid)
    return proc_cpu_seconds(pid) - vcpu_seconds(threads), threads


def proc_stat_busy_s() -> list[float]:
    """Each CPU's busy seconds from /proc/stat read here (all but idle and iowait; guest is inside user)."""
    busy = []
    with open("/proc/stat") as f:
        for line in f:
            if re.match(r"cpu\d+ ", line):
                user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in line.split()[1:9])
                busy.append((user + nice + system + irq + softirq + steal) * TICK_S)
    return busy


def test_overhead_of_a_guest_doing_disk_io_matches_qemus_non_vcpu_threads(guests, source):
    dom = guests.start("io", settle=False)
    pid = lab.qemu_pid(dom.name())

    def reads() -> int:
        d = next(d for d in source.collect().domains if d.name == dom.name())
        return d.io.blk_rd_reqs or 0

    first = reads()
    wait_for(lambda: reads() > first + 100, "the io guest reading its virtio disk", timeout=60)
    before, _threads = non_vcpu_s(pid)
    r0 = source.collect()
    time.sleep(WINDOW_S)  # the measured window itself, not a wait for a condition
    after, threads = non_vcpu_s(pid)
    r1 = source.collect()
    view = next(v for v in build_snapshot(r0, r1).domains if v.name == dom.name())
    seconds = r1.monotonic - r0.monotonic
    proc_pct = 100 * (after - before) / seconds
    ovh = view.rates.overhead_pct
    rd_per_s = view.rates.blk_rd_reqs_s or 0
    print(f"OVH {ovh:.2f} %, /proc non-vCPU threads {proc_pct:.2f} %, {rd_per_s:.0f} reads/s, CPU(%) "
          f"{view.rates.cpu_pct:.1f}, threads {sorted({c for c, _s in threads.values()})}")
    assert rd_per_s > 50, "the io guest stopped reading"
    assert ovh is not None and ovh > 0.5, f"no overhead measured for a guest doing {rd_per_s:.0f} reads/s"
    # Both sides count in clock ticks (10 ms): a tick per vCPU thread and side, and the process's, at most.
    slack = 100 * TICK_S * 2 * (len(view.sample.vcpus) + 1) / seconds + 0.5
    assert abs(ovh - proc_pct) <= slack, f"OVH {ovh:.2f} % vs /proc {proc_pct:.2f} % (slack {slack:.2f})"


def read_both(source: LibvirtSource) -> tuple[list[float], RawSample, float]:
    """/proc/stat's busy seconds, then a sample, and how long the two reads took (how far apart their ends are)."""
    began = time.monotonic()
    proc = proc_stat_busy_s()
    raw = source.collect()
    return proc, raw, time.monotonic() - began


def test_pcpu_table_matches_proc_stat_over_the_same_window(source):
    proc0, r0, skew0 = read_both(source)
    time.sleep(WINDOW_S)  # the measured window
    proc1, r1, skew1 = read_both(source)
    if r1.pcpu_busy_ns is None:
        pytest.skip("libvirt is not local here: no /proc/stat of the host to compare")
    frame = format_frame(build_snapshot(r0, r1), XentopOptions(pcpus=True))
    rows = re.findall(r"^\| (\d+) +\| +([\d.]+|-)% \|$", frame, re.M)
    seconds = r1.monotonic - r0.monotonic
    assert [int(n) for n, _pct in rows] == list(range(len(proc0))), frame
    for (n, shown), a, b in zip(rows, proc0, proc1, strict=True):
        if shown.strip() == "-":  # no rate from a counter that went backwards (the kernel's per-CPU times can)
            assert r0.pcpu_busy_ns is not None and r1.pcpu_busy_ns[int(n)] < r0.pcpu_busy_ns[int(n)], (n, frame)
            print(f"pCPU {n}: shown -, its /proc/stat busy time went backwards in xentui's reads")
            continue
        expected = min(100.0, 100 * (b - a) / seconds)
        # The two windows differ by at most each end's collection time; /proc/stat counts in ticks.
        slack = 100 * (2 * TICK_S + skew0 + skew1) / seconds
        print(f"pCPU {n}: shown {shown} %, /proc/stat {expected:.1f} %")
        assert abs(float(shown) - expected) <= slack, f"pCPU {n}: {shown} % vs /proc/stat {expected:.1f} %"
