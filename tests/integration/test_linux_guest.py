"""The lab's real Linux guest: it boots, its agent runs commands, and its disk, network and memory workloads
move both the guest's own counters and libvirt's."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import libvirt

from xentui.lab_linux import agent, tap_name

from .conftest import linux_guest

MIB = 1 << 20


def settled(read: Callable[[], tuple[int, ...]], done: Callable[[tuple[int, ...]], bool],
            timeout: float = 30.0) -> tuple[int, ...]:
    """``read()`` once ``done`` holds for it (counters catch up asynchronously), or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value} after {timeout:.0f} s"
        time.sleep(0.2)


def test_boots_with_an_answering_agent(linux: libvirt.virDomain):
    print(f"{linux.name()}: createXML to guest-ping in {linux.boot_s:.1f} s")
    assert linux.boot_s < 180
    assert agent.command(linux, "guest-get-host-name")["host-name"] == linux.name()
    assert agent.command(linux, "guest-get-osinfo")["id"] == "debian"
    mounts = {fs["mountpoint"]: fs for fs in agent.command(linux, "guest-get-fsinfo")}
    assert mounts["/data"]["type"] == "ext4" and mounts["/data"]["total-bytes"] > 8 * MIB
    stats = dict(linux.memoryStats())
    assert {"available", "unused", "usable"} <= stats.keys(), stats  # the balloon reports (stats period 2 s)


def test_guest_exec_returns_exit_code_and_output(linux: libvirt.virDomain):
    res = agent.run(linux, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (res.exitcode, res.out, res.err) == (3, "out\n", "err\n")
    assert agent.run(linux, ["/bin/cat"], stdin=b"through stdin").out == "through stdin"
    assert agent.read_file(linux, "/proc/sys/kernel/hostname") == linux.name() + "\n"


def test_disk_workload_moves_guest_and_libvirt_counters(linux: libvirt.virDomain):
    def both() -> tuple[int, ...]:
        rd, wr = agent.diskstats(linux, "vdb")
        _, lv_rd, _, lv_wr, _ = linux.blockStats("vdb")
        return rd, wr, lv_rd, lv_wr

    before = both()
    assert agent.disk_write(linux, 8).exitcode == 0
    assert agent.disk_read(linux, 4).exitcode == 0
    after = settled(both, lambda v: v[2] - before[2] >= 4 * MIB and v[3] - before[3] >= 8 * MIB)
    rd, wr, lv_rd, lv_wr = (a - b for a, b in zip(after, before, strict=True))
    assert (rd, wr) == (4 * MIB, 8 * MIB)  # direct I/O on a disk nothing else uses: exactly what dd moved
    assert (lv_rd, lv_wr) == (rd, wr)


def test_network_moves_guest_and_libvirt_counters_both_ways(linux: libvirt.virDomain):
    tap = tap_name(linux)
    addrs = subprocess.run(["ip", "-o", "addr", "show", "dev", tap], capture_output=True, text=True, timeout=10)
    assert addrs.returncode == 0 and " inet" not in addrs.stdout  # no host address: the guest's frames end there

    def both() -> tuple[int, ...]:
        rx, tx = agent.netdev(linux)
        stats = linux.interfaceStats(tap)
        return rx, tx, stats[0], stats[4]  # the domain's rx and tx bytes

    before = both()
    assert agent.net_send(linux, 500, size=1400).exitcode == 0  # 500 frames of 1414 bytes out of the guest
    sent = sum(agent.net_receive(linux, 100, size=1400) for _ in range(5))  # and 500 of 1400 into it
    after = settled(both, lambda v: v[0] - before[0] >= sent and v[3] - before[3] >= 500 * 1414)
    rx, tx, lv_rx, lv_tx = (a - b for a, b in zip(after, before, strict=True))
    assert rx == lv_rx >= sent
    assert tx == lv_tx >= 500 * 1414
    assert rx < sent * 1.05 and tx < 500 * 1414 * 1.05  # nothing else of size on the link


def test_memory_fill_moves_mem_available(linux: libvirt.virDomain):
    before = agent.meminfo(linux)["MemAvailable"]
    try:
        assert agent.memory_fill(linux, 32).exitcode == 0
        filled = agent.meminfo(linux)["MemAvailable"]
        assert before - filled >= 28 * 1024, (before, filled)  # KiB: the 32 MiB file, less the kernel's slack
    finally:
        agent.memory_free(linux)
    freed = agent.meminfo(linux)["MemAvailable"]
    assert abs(freed - before) <= 8 * 1024, (before, freed)


def cpu_ticks(dom: libvirt.virDomain) -> dict[str, tuple[int, int]]:
    """Each guest CPU's (busy, idle) ticks from its /proc/stat."""
    ticks = {}
    for line in agent.read_file(dom, "/proc/stat").splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            n = [int(v) for v in values]
            ticks[name] = (sum(n) - n[3] - n[4], n[3] + n[4])  # idle and iowait are not busy
    return ticks


def test_throttled_disk_and_busy_loops_on_two_vcpus(conn: libvirt.virConnect):
    with linux_guest(conn, vcpus=2, iops=50) as dom:
        assert dom.blockIoTune("vdb", 0)["total_iops_sec"] == 50
        before = dom.blockStats("vdb")[0]
        start = time.monotonic()
        assert agent.disk_io(dom, False, 100, block_kib=4).exitcode == 0
        took = time.monotonic() - start
        assert dom.blockStats("vdb")[0] - before >= 100
        assert took >= 1.5, f"100 reads at 50 IOPS took {took:.2f} s"  # 2 s, less QEMU's burst (a tenth)

        assert agent.check(dom, "nproc").strip() == "2"
        first = cpu_ticks(dom)
        agent.busy(dom, 2, 10)

        def spent() -> tuple[int, ...]:  # busy and idle ticks of cpu0 and cpu1 since ``first``
            last = cpu_ticks(dom)
            return tuple(b - a for cpu in ("cpu0", "cpu1") for a, b in zip(first[cpu], last[cpu], strict=True))

        busy0, idle0, busy1, idle1 = settled(spent, lambda v: min(v[0], v[2]) >= 200)  # 2 s each (USER_HZ 100)
        assert busy0 > 2 * idle0 and busy1 > 2 * idle1, (busy0, idle0, busy1, idle1)
