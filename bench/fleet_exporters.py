#!/usr/bin/env python3
"""A made-up fleet for Prometheus: N libvirt hosts x M domains as N scrape targets, and a real Prometheus.

    .venv/bin/python bench/fleet_exporters.py [--hosts 200] [--domains 50] [--interval 5] [--hold SECONDS]

Each target is a loopback HTTP server (one per port, all in this process) answering what Debian's
prometheus-libvirt-exporter 0.2.0 (kumina) answers: its names, labels, HELP/TYPE lines (see
/work/shared/reference/prometheus-libvirt-exporter-0.2.0.txt), for M domains.  Counters advance with time at
each domain's own rate (CPU seconds: most idle, some busy, a few at every vCPU; block and network bytes and
requests/packets), so a rate over a scrape interval is the domain's rate.  A few domains are shut off (state 5,
counters still).  Prometheus 2.42 (/usr/bin/prometheus) scrapes them every --interval s, data in a temporary
directory, on a free loopback port.  Prints ``ready <url>`` once every target has been scraped 3 times, holds
until --hold s pass or SIGTERM/SIGINT, then stops Prometheus and every server and removes the directory.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.prometheus.engine import HOST, PROMETHEUS, free_port, get_json, wait_for

P = "libvirt_domain_"
# (name, type, help) as kumina 0.2.0 prints them; the order is the exporter's (sorted by name).
BLOCK = [(f"{P}block_stats_{n}", "counter", h) for n, h in (
    ("read_bytes_total", "Number of bytes read from a block device, in bytes."),
    ("read_requests_total", "Number of read requests from a block device."),
    ("write_bytes_total", "Number of bytes written from a block device, in bytes."),
    ("write_requests_total", "Number of write requests from a block device."))]
INFO = [(f"{P}info_cpu_time_seconds_total", "counter", "Amount of CPU time used by the domain, in seconds."),
        (f"{P}info_maximum_memory_bytes", "gauge", "Maximum allowed memory of the domain, in bytes."),
        (f"{P}info_memory_usage_bytes", "gauge", "Memory usage of the domain, in bytes."),
        (f"{P}info_virtual_cpus", "gauge", "Number of virtual CPUs for the domain.")]
NET = [(f"{P}interface_stats_{n}", "counter", h) for n, h in (
    ("receive_bytes_total", "Number of bytes received on a network interface, in bytes."),
    ("receive_drops_total", "Number of packet receive drops on a network interface."),
    ("receive_errors_total", "Number of packet receive errors on a network interface."),
    ("receive_packets_total", "Number of packets received on a network interface."),
    ("transmit_bytes_total", "Number of bytes transmitted on a network interface, in bytes."),
    ("transmit_drops_total", "Number of packet transmit drops on a network interface."),
    ("transmit_errors_total", "Number of packet transmit errors on a network interface."),
    ("transmit_packets_total", "Number of packets transmitted on a network interface."))]
STATE = (f"{P}state_code", "gauge", "State of the domain.")


class Domain:
    """One made-up domain: its labels and its rates (per second) from which every counter follows."""

    def __init__(self, host: int, n: int, rng: random.Random):
        self.uuid = f"{host:08x}-{n:04x}-4000-8000-{rng.getrandbits(48):012x}"
        self.name = f"h{host:03d}-vm{n:02d}"
        self.vcpus = rng.choice((1, 2, 2, 4, 4, 8))
        self.memory = rng.choice((1, 2, 4, 8, 16)) << 30
        self.running = rng.random() > 0.02
        kind = rng.random()  # most idle, some working, a few pegged at every vCPU
        self.cpu = 0.0 if not self.running else (rng.uniform(0.005, 0.05) if kind < 0.7 else
                                                 rng.uniform(0.1, self.vcpus * 0.6) if kind < 0.95 else self.vcpus)
        scale = 0.0 if not self.running else rng.choice((0.01, 0.1, 1.0, 5.0))
        self.rd, self.wr = scale * rng.uniform(0, 4e6), scale * rng.uniform(0, 2e6)  # bytes/s
        self.rx, self.tx = scale * rng.uniform(0, 3e6), scale * rng.uniform(0, 3e6)
        self.base = rng.uniform(1e5, 1e6)  # seconds of uptime before the bench began

    def lines(self, t: float) -> dict[str, list[str]]:
        """Every series of this domain at ``t`` (seconds since the bench began), by family name."""
        dom = f'domain="{self.name}",uuid="{self.uuid}"'
        disk = f'domain="{self.name}",source_file="/var/lib/libvirt/images/{self.name}.qcow2",' \
               f'target_device="vda",uuid="{self.uuid}"'
        nic = f'domain="{self.name}",source_bridge="br0",target_device="vnet{self.name[-2:]}",uuid="{self.uuid}"'
        up = self.base + t if self.running else self.base
        rd, wr, rx, tx = (int(r * up) for r in (self.rd, self.wr, self.rx, self.tx))
        values = {
            BLOCK[0][0]: (disk, rd), BLOCK[1][0]: (disk, rd // 16384), BLOCK[2][0]: (disk, wr),
            BLOCK[3][0]: (disk, wr // 8192),
            INFO[0][0]: (dom, f"{self.cpu * up:.2f}"), INFO[1][0]: (dom, f"{self.memory:.7e}"),
            INFO[2][0]: (dom, f"{self.memory:.7e}"), INFO[3][0]: (dom, self.vcpus),
            NET[0][0]: (nic, rx), NET[1][0]: (nic, 0), NET[2][0]: (nic, 0), NET[3][0]: (nic, rx // 900),
            NET[4][0]: (nic, tx), NET[5][0]: (nic, 0), NET[6][0]: (nic, 0), NET[7][0]: (nic, tx // 900),
            STATE[0]: (dom, 1 if self.running else 5),
        }
        return {name: [f"{name}{{{labels}}} {value}"] for name, (labels, value) in values.items()}


class Exporter:
    """One made-up host: its domains, served as kumina's exposition text."""

    def __init__(self, host: int, domains: int, started: float):
        rng = random.Random(host)
        self.domains = [Domain(host, n, rng) for n in range(domains)]
        self.started = started

    def body(self) -> bytes:
        t = time.time() - self.started
        per: dict[str, list[str]] = {}
        for d in self.domains:
            for name, lines in d.lines(t).items():
                per.setdefault(name, []).extend(lines)
        out: list[str] = []
        for name, kind, text in (*BLOCK, *INFO, *NET, STATE):
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *per[name]]
        out += ["# HELP libvirt_domains_number Number of domains.", "# TYPE libvirt_domains_number gauge",
                f"libvirt_domains_number {len(self.domains)}",
                "# HELP libvirt_up Whether scraping libvirt's metrics was successful.", "# TYPE libvirt_up gauge",
                "libvirt_up 1"]
        return ("\n".join(out) + "\n").encode()


def serve(hosts: int, domains: int) -> list[ThreadingHTTPServer]:
    """``hosts`` exporters, each on a free loopback port of its own, serving in daemon threads."""
    started = time.time()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = self.server.exporter.body()  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    servers = []
    for h in range(hosts):
        server = ThreadingHTTPServer((HOST, 0), Handler)
        server.daemon_threads = True
        server.exporter = Exporter(h, domains, started)  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    return servers


@contextlib.contextmanager
def fleet(hosts: int, domains: int, interval: float) -> Iterator[str]:
    """The exporters and a Prometheus scraping them; yields its URL once each target has 3 scrapes."""
    servers = serve(hosts, domains)
    prometheus: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="xentui-fleet-bench-") as tmp:  # removed after Prometheus stopped
        try:
            port = free_port()
            targets = ", ".join(f"'{HOST}:{s.server_address[1]}'" for s in servers)
            config = Path(tmp) / "prometheus.yml"
            config.write_text(f"global:\n  scrape_interval: {interval:g}s\n  scrape_timeout: {interval:g}s\n"
                              f"scrape_configs:\n  - job_name: libvirt\n    static_configs:\n"
                              f"      - targets: [{targets}]\n")
            prometheus = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp}/data",
                 f"--web.listen-address={HOST}:{port}", "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=(Path(tmp) / "prometheus.log").open("wb"))
            url = f"http://{HOST}:{port}"
            query = f"{url}/api/v1/query?query=count(count_over_time(libvirt_up%5B{3 * interval + 1:g}s%5D)%3E%3D3)"
            wait_for(f"all {hosts} targets scraped 3 times", lambda: (r := get_json(query)["data"]["result"])
                     and int(r[0]["value"][1]) == hosts, timeout=60 + 4 * interval, every=1.0)
            yield url
        finally:
            if prometheus is not None and prometheus.poll() is None:
                prometheus.terminate()
                try:
                    prometheus.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    prometheus.kill()
                    prometheus.wait(timeout=10)
            for s in servers:
                s.server_close()  # the serving threads are daemons: they end with the process


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--domains", type=int, default=50)
    ap.add_argument("--interval", type=float, default=5.0, help="Prometheus's scrape interval, seconds")
    ap.add_argument("--hold", type=float, default=86400.0, help="seconds to serve after ready")
    args = ap.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with fleet(args.hosts, args.domains, args.interval) as url:
        print(f"ready {url}", flush=True)
        end = time.monotonic() + args.hold
        while not stop.is_set() and time.monotonic() < end:  # short waits: the handlers run between them
            time.sleep(0.5)
    print("stopped: SIGTERM or SIGINT" if stop.is_set() else f"stopped after {args.hold:g} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
