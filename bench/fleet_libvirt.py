#!/usr/bin/env python3
"""Direct libvirt to 20 hosts: one FleetSource tick against the slowest host's own call.

    flock /tmp/xentui-lab.lock .venv/bin/python bench/fleet_libvirt.py [--hosts 20] [--domains 20] [--rounds 30]
        [--extra remote|local] [--no-lab]
    flock /tmp/xentui-lab.lock .venv/bin/python bench/fleet_libvirt.py --real-hosts 20 [--rounds 30]

(the timing itself takes /tmp/xentui-bench.lock)

The hosts: the fleet lab's three libvirtds (``qemu+tcp://127.0.0.N/system``, real KVM guests; ``scripts/fleet-lab
up`` first, as root) and, to make up --hosts, libvirt test-driver hosts of --domains running domains each (the
lab cannot run 20 libvirtds here).  ``--extra remote`` (default) opens them through the lab's libvirtds, as
``test+tcp://127.0.0.N/abs/file.xml``: over TCP, served by another process, as a remote host is; ``--extra
local`` opens them in process (``test:///abs/file.xml``).  Each round times every host's own
``LibvirtSource.collect()`` one after the other (its own connection), then one ``FleetSource.collect()`` of
all of them (a thread per host); the ratio is the tick over that round's slowest own call.

``--real-hosts N`` (as root) brings up N real libvirtds of their own instead (:mod:`tests.fleet.lab.many`: QEMU
driver, 127.0.0.5 onwards, 1-3 idle KVM guests each), measures them alone and tears them down at the end, even
after a failure.  The client's CPU per tick (this process) and the hosts' (their libvirtds and guests) are given
too: on 2 cores, 20 hosts' servers and their client share what one host's would have alone.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fleet.lab import hosts as lab_hosts
from tests.fleet.lab import layout, many, procs
from tests.libvirt_test_driver import driver_xml
from tests.procfs import proc_cpu_seconds
from xentui.model import HostState
from xentui.sources import open_source
from xentui.sources.base import Source, SourceError
from xentui.sources.fleet import FleetSource, HostSpec

BENCH_LOCK = "/tmp/xentui-bench.lock"  # timing runs never overlap another engineer's
LOCK_WAIT_S = 600.0  # benches are a few minutes at most: longer, the holder is stuck
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


def cpu_s(pids: list[int]) -> float:
    """User+system CPU seconds of these processes so far."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += proc_cpu_seconds(pid)
    return total


@contextlib.contextmanager
def bench_lock() -> Iterator[None]:
    """The timing only, under BENCH_LOCK (bringing hosts up and down does not hold other engineers' benches)."""
    with open(BENCH_LOCK, "a") as f:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:  # SystemExit: one line; the hosts brought up are torn down
                    raise SystemExit(f"fleet_libvirt: another bench still holds {BENCH_LOCK} after "
                                     f"{LOCK_WAIT_S:g} s: nothing measured") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def measure(specs: list[HostSpec], rounds: int, servers: list[int]) -> dict[str, list]:
    """Per round: the slowest own call (and whose), the fleet tick, the client's and the servers' CPU in it."""
    with bench_lock():
        return _measure(specs, rounds, servers)


def _measure(specs: list[HostSpec], rounds: int, servers: list[int]) -> dict[str, list]:
    own = {s.name: open_source(s.uri) for s in specs}
    fleet = FleetSource(specs, wait_s=10.0)
    got: dict[str, list] = {k: [] for k in ("tick", "slowest", "whose", "ratio", "client", "server", "down", "inside",
                                            "ratio_inside")}
    try:
        for source in own.values():  # first calls learn what the driver lacks
            source.collect()
        fleet.collect()
        for _ in range(rounds):
            alone = {name: timed(source) for name, source in own.items()}
            server_before, client_before = cpu_s(servers), time.process_time()
            began = time.perf_counter()
            raw = fleet.collect()
            tick = time.perf_counter() - began
            got["client"].append(time.process_time() - client_before)
            got["server"].append(cpu_s(servers) - server_before)
            worst = max(alone, key=alone.__getitem__)
            got["tick"].append(tick)
            got["slowest"].append(alone[worst])
            got["whose"].append(worst)
            got["ratio"].append(tick / alone[worst])
            inside = max(m.took_s for m in fleet.members if m.fresh)  # the slowest host's collect in this tick
            got["inside"].append(inside)
            got["ratio_inside"].append(tick / inside)
            got["down"] += [f"{p.state.name} {p.name}: {p.reason}" for p in raw.parts if p.state is not HostState.UP]
    finally:
        fleet.close()
        for source in own.values():
            source.close()
    return got


def report(got: dict[str, list], what: str, rounds: int, hosts_n: int, load: tuple[float, float]) -> None:
    q = statistics.quantiles(got["ratio"], n=4)
    print(f"{what}; {rounds} rounds; load {load[0]:.2f} before, {load[1]:.2f} after")
    print("| what | median ms | quartiles ms |\n|---|---|---|")
    for key, label in (("slowest", "slowest host's own collect() in the round"),
                       ("tick", f"FleetSource.collect() of all {hosts_n}"),
                       ("inside", "slowest host's collect() inside that tick (its thread)"),
                       ("client", "this process's CPU during the tick"),
                       ("server", "the hosts' libvirtds' CPU during the tick")):
        if key == "server" and not any(got[key]):
            continue
        qs = statistics.quantiles(got[key], n=4)
        print(f"| {label} | {1e3 * statistics.median(got[key]):.1f} | {1e3 * qs[0]:.1f}-{1e3 * qs[2]:.1f} |")
    print(f"| tick / slowest, per round: median {statistics.median(got['ratio']):.2f}, quartiles "
          f"{q[0]:.2f}-{q[2]:.2f}; medians' ratio "
          f"{statistics.median(got['tick']) / statistics.median(got['slowest']):.2f} | | |")
    q = statistics.quantiles(got["ratio_inside"], n=4)
    print(f"| tick / slowest host's collect inside it, per round: median {statistics.median(got['ratio_inside']):.2f}"
          f", quartiles {q[0]:.2f}-{q[2]:.2f} | | |")
    if got["down"]:
        print(f"not UP: {len(got['down'])} host-ticks of {hosts_n * rounds}, e.g. {got['down'][0]}")
    whose = got["whose"]
    print("slowest host per round: " + ", ".join(f"{n} x{whose.count(n)}" for n in sorted(set(whose))))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--domains", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--extra", choices=("remote", "local"), default="remote")
    ap.add_argument("--no-lab", action="store_true", help="test-driver hosts only (with --extra local: no lab)")
    ap.add_argument("--real-hosts", type=int, default=0, metavar="N",
                    help="N real libvirtds of their own (as root; brought up and torn down here)")
    args = ap.parse_args()
    if args.real_hosts:
        for sig in (signal.SIGTERM, signal.SIGHUP):  # as ^C does: the hosts are torn down on the way out
            signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
        try:
            with many.running(args.real_hosts) as real:
                specs = [HostSpec(h.name, h.uri) for h in real]
                servers = [pid for h in real if (pid := lab_hosts.libvirtd_pid(h)) is not None]
                load = os.getloadavg()[0]
                got = measure(specs, args.rounds, servers)
                guests = sum(len(h.guests) for h in real)
                report(got, f"{len(specs)} real libvirtds ({guests} idle KVM guests)", args.rounds, len(specs),
                       (load, os.getloadavg()[0]))
        except procs.LabError as err:
            print(f"fleet_libvirt: {err}", file=sys.stderr)
            return 1
        return 0
    with tempfile.TemporaryDirectory(prefix="xentui-fleet-libvirt-") as tmp:
        os.chmod(tmp, 0o755)
        specs = hosts(args.hosts, args.domains, args.extra, Path(tmp), not args.no_lab)
        servers = [pid for h in layout.HOSTS if (pid := lab_hosts.libvirtd_pid(h)) is not None]
        load = os.getloadavg()[0]
        got = measure(specs, args.rounds, servers if not args.no_lab or args.extra == "remote" else [])
    lab = sum(s.uri in LAB for s in specs)
    report(got, f"{len(specs)} hosts ({lab} fleet-lab libvirtds, {len(specs) - lab} test-driver hosts of "
           f"{args.domains} domains, {args.extra})", args.rounds, len(specs), (load, os.getloadavg()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
