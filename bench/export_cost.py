"""A scrape of `xentui export` against Debian's prometheus-libvirt-exporter (kumina 0.2.0), side by side.

    .venv/bin/python bench/export_cost.py [--domains 1000 512] [--rounds 20]

Each host is a generated libvirt test-driver host (test:///abs/path.xml: 2 vCPUs, a disk and a NIC per
domain); both exporters open the same URI (the test driver runs inside each process).  Scrapes alternate
(the order rotated each round) so the machine's load falls on both alike; each is a fresh HTTP GET read to the
end, with the headers Prometheus 2.42 sends (OpenMetrics preferred, gzip: what a real scrape costs), and plain
text without gzip (the rendering alone).  CPU is each exporter process's own (user + system, /proc/PID/stat),
per scrape, over both kinds.  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.libvirt_test_driver import driver_xml
from tests.procfs import proc_cpu_seconds

TEXT = ({"Accept": "text/plain"}, "text")
# What Prometheus 2.42 (Debian 12's) sends with every scrape: OpenMetrics preferred, gzip.
PROMETHEUS = ({"Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "Accept-Encoding": "gzip"},
              "as Prometheus 2.42 asks (OpenMetrics if offered, gzip)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=30).close()
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{proc.args!r} did not start")
        time.sleep(0.1)


@contextlib.contextmanager
def running(argv: list[str], url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(url, proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def timed_get(url: str, headers: dict[str, str]) -> tuple[float, bytes]:
    t = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as answer:
        body = bytes(answer.read())
        took = (time.perf_counter() - t) * 1000
        return took, gzip.decompress(body) if answer.headers.get("Content-Encoding") == "gzip" else body


def domains_in(body: bytes) -> int:
    found = re.search(rb"^libvirt_domains_number (\S+)", body, re.M)
    return int(float(found.group(1))) if found else -1


def alternate(scrapes: list[Callable[[], tuple[float, bytes]]], rounds: int) -> tuple[list[list[float]], list[bytes]]:
    """Wall ms of each scrape, called in turn ``rounds`` times after one warm-up each (the order rotated every
    round, so no scrape always follows the same one); and each one's last body."""
    bodies = [scrape()[1] for scrape in scrapes]
    ms: list[list[float]] = [[] for _ in scrapes]
    for r in range(rounds):
        order = list(range(len(scrapes)))
        order = order[r % len(order):] + order[:r % len(order)]
        for i in order:
            took, bodies[i] = scrapes[i]()
            ms[i].append(took)
    return ms, bodies


def one_host(count: int, rounds: int, tmp: Path) -> list[str]:
    xml = tmp / f"host{count}.xml"
    xml.write_text(driver_xml(count))
    uri = f"test://{xml}"
    ours_url = f"http://127.0.0.1:{free_port()}/metrics"
    theirs_url = f"http://127.0.0.1:{free_port()}/metrics"
    ours_argv = [sys.executable, "-m", "xentui", "export", "-c", uri, "--listen", ours_url[7:-8], "--deadline", "30"]
    theirs_argv = ["prometheus-libvirt-exporter", f"--web.listen-address={theirs_url[7:-8]}", f"--libvirt.uri={uri}"]
    rows = []
    kinds = (PROMETHEUS, TEXT)
    with running(ours_argv, ours_url) as ours, running(theirs_argv, theirs_url) as theirs:
        who = (("prometheus-libvirt-exporter 0.2.0", theirs_url, theirs), ("**xentui export**", ours_url, ours))
        scrapes = [functools.partial(timed_get, url, headers) for headers, _ in kinds for _, url, _ in who]
        cpu0 = [proc_cpu_seconds(proc.pid) for _, _, proc in who]
        ms, bodies = alternate(scrapes, rounds)
        cpu = [(proc_cpu_seconds(proc.pid) - c) / (len(kinds) * (rounds + 1))
               for (_, _, proc), c in zip(who, cpu0, strict=True)]
    for k, (_, kind) in enumerate(kinds):
        base = statistics.median(ms[k * len(who)])
        for w, (name, _, _) in enumerate(who):
            times, body = ms[k * len(who) + w], bodies[k * len(who) + w]
            lines = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
            rows.append(f"| {count} | {name}, {kind} | {domains_in(body)} | {lines} | {len(body) / 1024:.0f} | "
                        f"{statistics.median(times):.1f} | {min(times):.1f} | "
                        f"{statistics.median(times) / base:.2f}x | {cpu[w] * 1000:.0f} |")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domains", type=int, nargs="+", default=[1000, 512])
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    if not shutil.which("prometheus-libvirt-exporter"):
        raise SystemExit("prometheus-libvirt-exporter is not installed (scripts/install-deps --test installs it)")
    print("| test-driver domains | scrape | domains exported | samples | KiB | median ms | min ms | x exporter | "
          "CPU ms/scrape |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="xentui-export-cost-") as tmp:
        for count in args.domains:
            for row in one_host(count, args.rounds, Path(tmp)):
                print(row, flush=True)


if __name__ == "__main__":
    main()
