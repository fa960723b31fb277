#!/usr/bin/env python3
"""Direct libvirt to 20 hosts: one FleetSource tick against the slowest host's own call.

    flock /tmp/xentui-lab.lock .venv/bin/python bench/fleet_libvirt.py [--hosts 20] [--domains 20] [--rounds 30]
        [--extra remote|local] [--no-lab]

The hosts: the fleet lab's three libvirtds (``qemu+tcp://127.0.0.N/system``, real KVM guests; ``scripts/fleet-lab
up`` first, as root) and, to make up --hosts, libvirt test-driver hosts of --domains running domains each (the
lab cannot run 20 libvirtds here).  ``--extra remote`` (default) opens them through the lab's libvirtds, as
``test+tcp://127.0.0.N/abs/file.xml``: over TCP, served by another process, as a remote host is; ``--extra
local`` opens them in process (``test:///abs/file.xml``).  Each round times every host's own
``LibvirtSource.collect()`` one after the other (its own connection), then one ``FleetSource.collect()`` of
all of them (a thread per host); the ratio is the tick over that round's slowest own call.
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

from tests.libvirt_test_driver import driver_xml
from xentui.model import HostState
from xentui.sources import open_source
from xentui.sources.base import Source, SourceError
from xentui.sources.fleet import FleetSource, HostSpec

LAB = [f"qemu+tcp://127.0.0.{n}/system" for n in (2, 3, 4)]


def hosts(count: int, domains: int, extra: str, tmp: Path, lab: bool) -> list[HostSpec]:
    """The lab hosts that answer (with ``lab``), then test-driver hosts up to ``count``."""
    specs = []
    for n, uri in enumerate(LAB if lab else ()):
        try:
            open_source(uri).close()
        except SourceError as err:
            print(f"lab host {uri} left out: {err}", file=sys.stderr)
            continue
        specs.append(HostSpec(f"h{n + 2}", uri))
    for n in range(count - len(specs)):
        path = tmp / f"t{n:02d}.xml"
        path.write_text(driver_xml(domains, host=n + 1))
        path.chmod(0o644)
        uri = f"test+tcp://127.0.0.{2 + n % 3}{path}" if extra == "remote" else f"test://{path}"
        specs.append(HostSpec(f"t{n:02d}", uri))
    return specs


def timed(source: Source) -> float:
    began = time.perf_counter()
    source.collect()
    return time.perf_counter() - began


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--domains", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--extra", choices=("remote", "local"), default="remote")
    ap.add_argument("--no-lab", action="store_true", help="test-driver hosts only (with --extra local: no lab)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="xentui-fleet-libvirt-") as tmp:
        os.chmod(tmp, 0o755)
        specs = hosts(args.hosts, args.domains, args.extra, Path(tmp), not args.no_lab)
        own = {s.name: open_source(s.uri) for s in specs}
        fleet = FleetSource(specs, wait_s=10.0)
        try:
            for source in own.values():  # first calls learn what the driver lacks
                source.collect()
            fleet.collect()
            ticks, slowest, whose, ratios, states = [], [], [], [], {}
            load_before = os.getloadavg()[0]
            for _ in range(args.rounds):
                alone = {name: timed(source) for name, source in own.items()}
                began = time.perf_counter()
                raw = fleet.collect()
                tick = time.perf_counter() - began
                worst = max(alone, key=alone.__getitem__)
                ticks.append(tick)
                slowest.append(alone[worst])
                whose.append(worst)
                ratios.append(tick / alone[worst])
                for p in raw.parts:
                    if p.state is not HostState.UP:
                        states.setdefault(p.state.name, []).append(f"{p.name}: {p.reason}")
            load_after = os.getloadavg()[0]
        finally:
            fleet.close()
            for source in own.values():
                source.close()
    lab = sum(s.uri in LAB for s in specs)
    print(f"{len(specs)} hosts ({lab} fleet-lab libvirtds, {len(specs) - lab} test-driver hosts of {args.domains} "
          f"domains, {args.extra}); {args.rounds} rounds; load {load_before:.2f} before, "
          f"{load_after:.2f} after")
    print("| what | median ms | min ms |\n|---|---|---|")
    print(f"| slowest host's own collect() in the round | {1e3 * statistics.median(slowest):.1f} | "
          f"{1e3 * min(slowest):.1f} |")
    print(f"| FleetSource.collect() of all {len(specs)} | {1e3 * statistics.median(ticks):.1f} | "
          f"{1e3 * min(ticks):.1f} |")
    print(f"| tick / slowest, per round: median {statistics.median(ratios):.2f}, quartiles "
          f"{statistics.quantiles(ratios, n=4)[0]:.2f}-{statistics.quantiles(ratios, n=4)[2]:.2f} | | |")
    for state, why in states.items():
        print(f"{state}: {len(why)} host-ticks of {len(specs) * args.rounds}, e.g. {why[0]}")
    print("slowest host per round: " + ", ".join(f"{n} x{whose.count(n)}" for n in sorted(set(whose))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
