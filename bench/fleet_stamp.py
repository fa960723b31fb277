#!/usr/bin/env python3
"""What a fleet adds to a tick: naming each domain's host (1000 domains), and one fleet tick of two test-driver
hosts of 500 domains against one host of 1000.

Usage: .venv/bin/python bench/fleet_stamp.py [--rounds N]   (timings alternate, so load falls on both alike)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.libvirt_test_driver import driver_xml
from xentui.sources.fleet import FleetSource, HostSpec
from xentui.sources.fleet.member import stamped, with_host
from xentui.sources.libvirt import LibvirtSource


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, count, host in (("one", 1000, 0), ("a", 500, 1), ("b", 500, 2)):
            paths.append(Path(tmp) / f"{name}.xml")
            paths[-1].write_text(driver_xml(count, host=host))
        one = LibvirtSource(f"test://{paths[0]}")
        fleet = FleetSource([HostSpec("a", f"test://{paths[1]}"), HostSpec("b", f"test://{paths[2]}")])
        raw = one.collect()
        fleet.collect()
        times: dict[str, list[float]] = {k: [] for k in ("replace", "with_host", "stamped", "one", "fleet")}
        for _ in range(rounds):
            for key, work in (("replace", lambda: [replace(d, host="kvm-01") for d in raw.domains]),
                              ("with_host", lambda: [with_host(d, "kvm-01") for d in raw.domains]),
                              ("stamped", lambda: stamped(raw, "kvm-01")),
                              ("one", one.collect), ("fleet", fleet.collect)):
                start = time.perf_counter()
                work()
                times[key].append(time.perf_counter() - start)
        one.close()
        fleet.close()
    print(f"rounds: {rounds}")
    print("| what | median ms |\n|---|---|")
    print(f"| dataclasses.replace(d, host=...) x 1000 | {ms(times['replace'])} |")
    print(f"| with_host(d, ...) x 1000 (slot copy) | {ms(times['with_host'])} |")
    print(f"| stamped(raw of 1000 domains) | {ms(times['stamped'])} |")
    print(f"| LibvirtSource.collect(), 1 test host of 1000 | {ms(times['one'])} |")
    print(f"| FleetSource.collect(), 2 test hosts of 500 | {ms(times['fleet'])} |")


if __name__ == "__main__":
    main()
