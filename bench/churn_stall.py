"""How long libvirtd's own bulk call and xentui's frames stall while guests are created and destroyed several times
a second (the churn of tests/integration/test_faults.py), side by side in one run.

Three threads each boot idle guests one after the other and keep their last three, destroying the older ones four
at a time (names come back with new UUIDs).  Meanwhile, every 0.2 s, the raw ``getAllDomainStats`` with NOWAIT
(the state group alone, then every group, in turn), and a ``xentui -b -d 0.5 --format json`` whose frames are
timed as they arrive.  Prints the guests made, destroy times, the raw calls' and the frames' gaps.
Root; the local libvirtd; its guests are destroyed at the end, also after a failure or Ctrl-C:

    flock /tmp/xentui-lab.lock .venv/bin/python bench/churn_stall.py --seconds 40
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import itertools
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import libvirt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from xentui import lab  # noqa: E402

PREFIX = f"xtlab-churn{os.getpid()}-"
KEPT = 3  # guests each worker keeps running
NAMES = 16  # names in use at once at most (a name comes back once its holder is destroyed)


def spread(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"n={len(ordered)} median {statistics.median(ordered):.2f} s, p90 {p90:.2f} s, max {ordered[-1]:.2f} s"


class Churn:
    def __init__(self, workers: int) -> None:
        self.stop = threading.Event()
        self.free: queue.Queue[str] = queue.Queue()
        for n in range(NAMES):
            self.free.put(f"{PREFIX}{n}")
        self.made = 0
        self.failures: list[str] = []  # calls that raised (a thread that hit one stops: said in the results)
        self.lock = threading.Lock()
        self.destroy_s: list[float] = []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(workers)]

    def destroy(self, dom: libvirt.virDomain) -> None:
        began = time.monotonic()
        with contextlib.suppress(libvirt.libvirtError):
            dom.destroy()
        self.destroy_s.append(time.monotonic() - began)
        self.free.put(dom.name())

    def run(self) -> None:
        conn = libvirt.open(lab.URI)
        alive: collections.deque[libvirt.virDomain] = collections.deque()
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as destroyer:
            try:
                while not self.stop.is_set():
                    alive.append(lab.start_guest(conn, self.free.get(), "idle"))
                    with self.lock:
                        self.made += 1
                    if len(alive) > KEPT:
                        destroyer.submit(self.destroy, alive.popleft())
            except libvirt.libvirtError as err:
                self.failures.append(f"start: {err}")
            for dom in alive:
                destroyer.submit(self.destroy, dom)
        conn.close()


def raw_calls(stop: threading.Event, took: dict[str, list[tuple[float, float]]], failures: list[str]) -> None:
    """(when, seconds) of each raw call, the state group and every group in turn."""
    conn = libvirt.openReadOnly(lab.URI)
    groups = {"state": libvirt.VIR_DOMAIN_STATS_STATE, "every group": 0}
    while not stop.is_set():
        for name, stats in groups.items():
            began = time.monotonic()
            try:
                conn.getAllDomainStats(stats, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
            except libvirt.libvirtError as err:
                failures.append(f"getAllDomainStats: {err}")
                continue
            took[name].append((began, time.monotonic() - began))
            stop.wait(0.2)
    conn.close()


def frames(batch: subprocess.Popen[str], arrivals: list[float]) -> None:
    assert batch.stdout is not None
    for _line in batch.stdout:
        arrivals.append(time.monotonic())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=40.0, help="how long the churn runs (default 40)")
    p.add_argument("--workers", type=int, default=3, help="threads booting guests (default 3)")
    args = p.parse_args()
    churn = Churn(args.workers)
    took: dict[str, list[tuple[float, float]]] = {"state": [], "every group": []}
    stop_raw = threading.Event()
    arrivals: list[float] = []
    batch = subprocess.Popen([sys.executable, "-m", "xentui", "-b", "-c", lab.URI, "-d", "0.5", "--format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=HERE.parent)
    reader = threading.Thread(target=frames, args=(batch, arrivals), daemon=True)
    raw = threading.Thread(target=raw_calls, args=(stop_raw, took, churn.failures), daemon=True)
    try:
        reader.start()
        raw.start()
        began = time.monotonic()
        for thread in churn.threads:
            thread.start()
        churn.stop.wait(args.seconds)  # the measuring window itself
        churn.stop.set()
        ended = time.monotonic()
        for thread in churn.threads:
            thread.join(timeout=120)
        stop_raw.set()
        raw.join(timeout=60)
    finally:
        churn.stop.set()
        stop_raw.set()
        batch.kill()
        conn = libvirt.open(lab.URI)
        lab.destroy_guests(conn, PREFIX)
        conn.close()
    during = [t for t in arrivals if began <= t <= ended]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    print(f"churn: {churn.made} guests made in {ended - began:.0f} s by {args.workers} threads; "
          f"destroy: {spread(churn.destroy_s)}")
    for name, calls in took.items():
        print(f"raw getAllDomainStats (NOWAIT, {name}): {spread([s for t, s in calls if began <= t <= ended])}")
    print(f"xentui -b -d 0.5: {len(during)} frames while churning; gaps between them: {spread(gaps)}")
    for failure in churn.failures:
        print(f"failed: {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
