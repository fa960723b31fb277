"""A scrape of `xentui export` against Debian's prometheus-libvirt-exporter (kumina 0.2.0), side by side.

    .venv/bin/python bench/export_cost.py [--domains 1000 512] [--rounds 20]

Each host is a generated libvirt test-driver host (test:///abs/path.xml: 2 vCPUs, a disk and a NIC per
domain); both exporters open the same URI (the test driver runs inside each process).  Scrapes alternate
(xentui, exporter, xentui, ...) so the machine's load falls on both alike; each is a fresh HTTP GET read to
the end, in the Prometheus text format (what the exporter speaks; xentui's OpenMetrics too).  CPU is the
exporter process's own (user + system, /proc/PID/stat) over the rounds.  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
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

TEXT = "text/plain"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def get(url: str, accept: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=60) as answer:
        return bytes(answer.read())


def domains_in(body: bytes) -> int:
    found = re.search(rb"^libvirt_domains_number (\S+)", body, re.M)
    return int(float(found.group(1))) if found else -1


def alternate(scrapes: list[Callable[[], bytes]], rounds: int) -> list[list[float]]:
    """Wall ms of each scrape, called in turn ``rounds`` times after one warm-up each."""
    for scrape in scrapes:
        scrape()
    ms: list[list[float]] = [[] for _ in scrapes]
    for _ in range(rounds):
        for scrape, out in zip(scrapes, ms, strict=True):
            t = time.perf_counter()
            scrape()
            out.append((time.perf_counter() - t) * 1000)
    return ms


def one_host(count: int, rounds: int, tmp: Path) -> list[str]:
    xml = tmp / f"host{count}.xml"
    xml.write_text(driver_xml(count))
    uri = f"test://{xml}"
    ours_url = f"http://127.0.0.1:{free_port()}/metrics"
    theirs_url = f"http://127.0.0.1:{free_port()}/metrics"
    ours_argv = [sys.executable, "-m", "xentui", "export", "-c", uri, "--listen", ours_url[7:-8], "--deadline", "30"]
    theirs_argv = ["prometheus-libvirt-exporter", f"--web.listen-address={theirs_url[7:-8]}", f"--libvirt.uri={uri}"]
    rows = []
    with running(ours_argv, ours_url) as ours, running(theirs_argv, theirs_url) as theirs:
        scrapes = [lambda: get(ours_url, TEXT), lambda: get(theirs_url, TEXT), lambda: get(ours_url, OPENMETRICS)]
        cpu0 = cpu_s(ours.pid), cpu_s(theirs.pid)
        ms = alternate(scrapes, rounds)
        cpu = (cpu_s(ours.pid) - cpu0[0]) / (2 * (rounds + 1)), (cpu_s(theirs.pid) - cpu0[1]) / (rounds + 1)
        bodies = [scrape() for scrape in scrapes]
    base = statistics.median(ms[1])
    for what, times, body, cpu_per in (
            ("prometheus-libvirt-exporter 0.2.0, text", ms[1], bodies[1], cpu[1]),
            ("**xentui export**, text", ms[0], bodies[0], cpu[0]),
            ("xentui export, OpenMetrics", ms[2], bodies[2], cpu[0])):
        lines = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
        rows.append(f"| {count} | {what} | {domains_in(body)} | {lines} | {len(body) / 1024:.0f} | "
                    f"{statistics.median(times):.1f} | {min(times):.1f} | {statistics.median(times) / base:.2f}x | "
                    f"{cpu_per * 1000:.0f} |")
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
