"""What one PrometheusSource tick costs against a real Prometheus 2.42 scraping N made-up kumina exporters.

``.venv/bin/python -m tests.prometheus.measure_tick --hosts 20 --domains 50`` (no lab, no root): each exporter
is a loopback HTTP server answering kumina 0.2.0's families (tests/prometheus/engine's Prometheus scrapes them
every second); after 5 s of scrapes, 10 ticks are timed, request by request, with the bytes they read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.prometheus.engine import HOST, PROMETHEUS, Engine, wait_for
from xentui.sources.prometheus import PrometheusSource
from xentui.sources.prometheus.client import Client
from xentui.sources.prometheus.dialects import EVERY_NAME

FAMILIES = ("libvirt_domain_info_cpu_time_seconds_total", "libvirt_domain_info_maximum_memory_bytes",
            "libvirt_domain_info_memory_usage_bytes", "libvirt_domain_info_virtual_cpus", "libvirt_domain_state_code")
BLOCK = ("read_bytes_total", "read_requests_total", "write_bytes_total", "write_requests_total")
NET = ("receive_bytes_total", "receive_packets_total", "receive_errors_total", "receive_drops_total",
       "transmit_bytes_total", "transmit_packets_total", "transmit_errors_total", "transmit_drops_total")


def exposition(host: int, domains: int, t: float) -> bytes:
    lines = ["libvirt_up 1"]
    for d in range(domains):
        dom = f'domain="h{host}-vm{d}",uuid="{host:08x}-0000-4000-8000-{d:012x}"'
        lines += [f"{FAMILIES[0]}{{{dom}}} {t * (d % 4) / 4:.2f}", f"{FAMILIES[1]}{{{dom}}} 1073741824",
                  f"{FAMILIES[2]}{{{dom}}} 1073741824", f"{FAMILIES[3]}{{{dom}}} 2", f"{FAMILIES[4]}{{{dom}}} 1"]
        disk = f'{dom},source_file="/var/lib/libvirt/images/h{host}-vm{d}.qcow2",target_device="vda"'
        lines += [f"libvirt_domain_block_stats_{f}{{{disk}}} {int(t * 1000)}" for f in BLOCK]
        nic = f'{dom},source_bridge="br0",target_device="vnet{d}"'
        lines += [f"libvirt_domain_interface_stats_{f}{{{nic}}} {int(t * 100)}" for f in NET]
    return ("\n".join(lines) + "\n").encode()


def serve_exporters(hosts: int, domains: int) -> list[ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exposition(self.server.server_address[1] % 1000, domains, time.time())
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    servers = [ThreadingHTTPServer((HOST, 0), Handler) for _ in range(hosts)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    return servers


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--domains", type=int, default=50)
    args = ap.parse_args()
    exporters = serve_exporters(args.hosts, args.domains)
    with tempfile.TemporaryDirectory(prefix="xentui-prom-measure-") as tmp:
        engine = Engine(Path(tmp))
        targets = ", ".join(f"'{HOST}:{s.server_address[1]}'" for s in exporters)
        engine.start_exporter = lambda: None  # type: ignore[method-assign] - the made-up exporters stand in
        try:
            engine.start()
            config = (Path(tmp) / "prometheus.yml").read_text()
            (Path(tmp) / "prometheus.yml").write_text(config.replace(f"'{engine.instance}'", targets))
            engine.prometheus.send_signal(1)  # SIGHUP: reload with the made-up targets
            wait_for("every target scraped 5 times", lambda: engine.query(
                "count(count_over_time(libvirt_up[10s]) >= 5)") and int(engine.query(
                    "count(count_over_time(libvirt_up[10s]) >= 5)")[0]["value"][1]) == args.hosts, timeout=120)
            timings: dict[str, list[float]] = {}
            sizes: dict[str, int] = {}
            get = Client.get

            def timed(self: Client, path: str, params: dict[str, str] | None = None, deadline: float | None = None):
                what = (params or {}).get("query", path)[:24]
                began = time.perf_counter()
                data = get(self, path, params, deadline)
                timings.setdefault(what, []).append(time.perf_counter() - began)
                sizes[what] = len(json.dumps(data))
                return data

            Client.get = timed  # type: ignore[method-assign]
            source = PrometheusSource(f"prometheus+{engine.url}", timeout_s=30)
            ticks = []
            for _ in range(10):
                began = time.perf_counter()
                raw = source.collect()
                ticks.append(time.perf_counter() - began)
            Client.get = get  # type: ignore[method-assign]
            regex = "|".join(EVERY_NAME)
            alternatives = {}
            for label, promql in (("newest only (instant vector)", f'{{__name__=~"{regex}"}}'),
                                  ("last 2 intervals (matrix)", f'{{__name__=~"{regex}"}}[2000ms]'),
                                  ("last 3 intervals (matrix)", f'{{__name__=~"{regex}"}}[3000ms]')):
                spent = []
                for _ in range(5):
                    began = time.perf_counter()
                    source._client.query(promql)
                    spent.append(time.perf_counter() - began)
                alternatives[label] = statistics.median(spent)
            spent = []
            for _ in range(5):  # Prometheus's own share: the bytes fetched, not parsed
                began = time.perf_counter()
                httpx.get(f"{engine.url}/api/v1/query", params={"query": f'{{__name__=~"{regex}"}}[3000ms]'})
                spent.append(time.perf_counter() - began)
            alternatives["last 3 intervals, fetched only"] = statistics.median(spent)
        finally:
            engine.close()
            for s in exporters:
                s.shutdown()
    print(f"{PROMETHEUS}: {args.hosts} hosts x {args.domains} domains = {len(raw.domains)} domains, "
          f"{len(raw.parts)} parts")
    print(f"tick: median {1000 * statistics.median(ticks):.0f} ms, max {1000 * max(ticks):.0f} ms")
    for what, t in timings.items():
        print(f"  {what!r}: median {1000 * statistics.median(t):.1f} ms, {sizes[what] / 1024:.0f} KiB of data")
    for label, spent in alternatives.items():
        print(f"  query and parse, {label}: median {1000 * spent:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
