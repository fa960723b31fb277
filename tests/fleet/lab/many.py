"""Many real lab hosts for benchmarks (``bench/fleet_libvirt.py --real-hosts N``): N libvirtds, each in a mount+UTS
namespace of its own as h2-h4 are (the same code: :mod:`.hosts`), on 127.0.0.5 onwards, with 1-3 idle tiny guests
each; no exporters, no Prometheus, no sshd.  Their state, processes (``xtb-*``) and image directory are their own,
so they never meet the fleet lab's (which may run beside them).  ``running(n)`` tears all of it down on the way
out, whatever happened; ``down()`` ends what a killed run left.  Run under ``flock /tmp/xentui-lab.lock``.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import hosts, procs
from .layout import HostSpec
from .procs import LabError

ROOT = Path("/var/lib/xentui-fleet-bench")
PREFIX = "xtb"
IMAGES = Path("/var/lib/libvirt/images/fleet-bench")
FIRST = 5  # 127.0.0.2-4 are the fleet lab's
MAX_HOSTS = 250 - FIRST
CAPS = Path("/var/cache/libvirt/qemu/capabilities")  # the same binaries' probe, valid for every host here
PARALLEL = 5  # hosts started at once (each step has its own deadline)


def specs(count: int) -> tuple[HostSpec, ...]:
    """``count`` hosts b05, b06, ... on 127.0.0.5, ...: 1, 2 or 3 idle guests in turn."""
    if not 1 <= count <= MAX_HOSTS:
        raise LabError(f"real bench hosts: {count} asked, 1 to {MAX_HOSTS} possible (127.0.0.{FIRST} onwards)")
    return tuple(HostSpec(f"b{n:02d}", n, (("idle", 1),) * (1 + i % 3), root=ROOT, prefix=PREFIX, images=IMAGES)
                 for i, n in enumerate(range(FIRST, FIRST + count)))


@contextlib.contextmanager
def running(count: int, log=print) -> Iterator[tuple[HostSpec, ...]]:
    """``count`` hosts up (their guests running), then all of it down, even after a failure or ^C."""
    wanted = specs(count)
    down(log=lambda line: None)  # what a killed run may have left
    try:
        yield up(wanted, log)
    finally:
        down(log)


def up(wanted: tuple[HostSpec, ...], log=print) -> tuple[HostSpec, ...]:
    taken = [h.address for h in wanted if procs.tcp_open(h.address, hosts.LIBVIRTD_PORT, timeout=1)]
    if taken:
        raise LabError(f"something listens on port {hosts.LIBVIRTD_PORT} of {', '.join(taken)} already: stop it")
    began = time.monotonic()
    ROOT.mkdir(parents=True, exist_ok=True)
    hosts.write_images(wanted[0].shared)
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(_start, wanted))
    guests = sum(len(h.guests) for h in wanted)
    log(f"bench hosts: {len(wanted)} libvirtds up on {wanted[0].address}-{wanted[-1].address}, {guests} guests, "
        f"in {time.monotonic() - began:.0f} s; {rss_mib(wanted):.0f} MiB resident in all")
    return wanted


def rss_mib(running: tuple[HostSpec, ...]) -> float:
    """Resident memory of every process of these hosts (libvirtds, virtlogds, guests' QEMUs), MiB."""
    kib = 0
    for pid in (pid for h in running for pid in hosts.namespace_pids(h)):
        with contextlib.suppress(OSError, ValueError, StopIteration):
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            kib += int(next(line for line in status if line.startswith("VmRSS:")).split()[1])
    return kib / 1024


def _start(h: HostSpec) -> None:
    hosts.start_namespace(h)
    if CAPS.is_dir():  # QEMU's capabilities as the system libvirtd probed them: seconds of CPU a host saved
        shutil.copytree(CAPS, h.dir / "cache" / "qemu" / "capabilities", dirs_exist_ok=True)
    hosts.start_libvirtd(h)
    hosts.start_guests(h, "kvm")


def down(log=print) -> None:
    """Every bench host's guests, libvirtd and namespace ended (by its recorded namespace), its state removed."""
    found = sorted(p.name for p in ROOT.iterdir() if (p / "ns.id").exists()) if ROOT.is_dir() else []
    made = [HostSpec(name, int(name[1:]), (), root=ROOT, prefix=PREFIX, images=IMAGES) for name in found]
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(hosts.stop_host, made))
    left = [pid for pid in map(int, filter(str.isdigit, (p.name for p in Path("/proc").iterdir())))
            if (procs.comm(pid) or "").startswith(f"{PREFIX}-")]
    if left:
        raise LabError(f"bench hosts: still running after down: {left}")
    if ROOT.exists():
        shutil.rmtree(ROOT)
    if made:
        log(f"bench hosts: down ({len(made)} hosts ended)")
