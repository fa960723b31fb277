"""Cost of one xentui poll against the raw libvirt call and `virsh domstats`, same host, same run.

    .venv/bin/python bench/poll_cost.py [--domains 1000] [--rounds 30] [--skip-lab]

(a) a 1000-domain host on libvirt's test driver (test:///abs/path.xml, generated here);
(b) the lab's real KVM guests under the local libvirtd (`xentui lab up` is run first).
Prints a Markdown table to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import libvirt

from xentui import lab
from xentui.model import build_snapshot
from xentui.sources.libvirt import LibvirtSource
from xentui.sources.libvirt.bulk_stats import STATS, STATS_FLAGS, parse_devices

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.libvirt_test_driver import counting_round_trips, driver_xml

VIRSH_GROUPS = ["--state", "--cpu-total", "--balloon", "--vcpu", "--interface", "--block", "--nowait"]


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(median, min) wall milliseconds of fn over `rounds` calls, after one warm-up."""
    fn()
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), min(samples)


def timed_alternately(a: Callable[[], object], b: Callable[[], object], rounds: int):
    """timed() of a and b, calls alternating a, b, a, b, ..."""
    a(), b()
    sa, sb = [], []
    for _ in range(rounds):
        for fn, samples in ((a, sa), (b, sb)):
            t = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t) * 1000)
    return (statistics.median(sa), min(sa)), (statistics.median(sb), min(sb))


def raw_per_domain(conn: libvirt.virConnect, devices: dict[str, tuple[list[str], list[str]]]) -> None:
    """The bare libvirt calls a driver without bulk groups needs: bulk + info/vcpus/stats."""
    for dom, _rec in conn.getAllDomainStats(STATS, STATS_FLAGS):
        nets, disks = devices[dom.UUIDString()]
        dom.info()
        dom.vcpus()
        for net in nets:
            dom.interfaceStats(net)
        for disk in disks:
            dom.blockStats(disk)


def measure(uri: str, rounds: int, label: str) -> list[str]:
    conn = libvirt.openReadOnly(uri)
    source = LibvirtSource(uri, conn=conn)
    count = len(conn.listAllDomains())
    rows = []
    # Interleaved, so that load from the guests falls on both alike.
    (raw_med, raw_min), (ours_med, ours_min) = timed_alternately(
        lambda: conn.getAllDomainStats(STATS, STATS_FLAGS), source.collect, rounds
    )
    with counting_round_trips() as trips:
        prev = source.collect()
    calls_per_tick = trips.count
    cur = source.collect()
    snap_med, _ = timed(lambda: build_snapshot(prev, cur), rounds)
    virsh_med, _ = timed(lambda: subprocess.run(["virsh", "-c", uri, "domstats", *VIRSH_GROUPS],
                                                stdout=subprocess.DEVNULL, check=True), max(3, rounds // 5))
    rows.append(f"| {label} | {count} | raw getAllDomainStats | {raw_med:.2f} | {raw_min:.2f} | 1.00 |")
    if source.missing_groups:
        devices = {}
        for dom in conn.listAllDomains():
            parsed = parse_devices(dom.XMLDesc(0))
            devices[dom.UUIDString()] = (list(parsed.nets), [d for d, _ in parsed.disks])
        pd_med, _ = timed(lambda: raw_per_domain(conn, devices), rounds)
        rows.append(f"| {label} | {count} | raw bulk + per-domain calls for missing groups "
                    f"({', '.join(sorted(source.missing_groups))}) | {pd_med:.2f} | | {pd_med / raw_med:.2f} |")
    rows.append(f"| {label} | {count} | **xentui collect()** ({calls_per_tick} calls/tick) "
                f"| {ours_med:.2f} | {ours_min:.2f} | {ours_med / raw_med:.2f} |")
    rows.append(f"| {label} | {count} | xentui build_snapshot() (rates) | {snap_med:.2f} | | |")
    rows.append(f"| {label} | {count} | `virsh domstats` (process, incl. start) | {virsh_med:.2f} | | "
                f"{virsh_med / raw_med:.2f} |")
    source.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--skip-lab", action="store_true")
    args = parser.parse_args()
    rows = ["| host | domains | what | median ms | min ms | x raw |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "host.xml"
        path.write_text(driver_xml(args.domains))
        rows += measure(f"test://{path}", args.rounds, "test driver")
    if not args.skip_lab:
        lab.main(["up", "--no-linux"])  # the three tiny guests, as in RESULTS.md
        time.sleep(2)
        rows += measure(lab.URI, args.rounds, "KVM lab (qemu:///system)")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
