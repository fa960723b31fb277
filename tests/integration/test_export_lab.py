"""``xentui export`` on real KVM guests of the system libvirtd, side by side with ``virsh domstats`` and Debian's
``prometheus-libvirt-exporter`` (kumina 0.2.0): the same CPU, block and network counters; a stopped qemu marks
only its own domain stale while every scrape answers within the deadline; SIGTERM ends it cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import parser as text_parser

from tests import hostile
from tests.stream_lines import StreamLines
from xentui import lab

from .conftest import URI

DEADLINE_S = 5.0
needs_the_exporter = pytest.mark.skipif(
    not shutil.which("prometheus-libvirt-exporter"),
    reason="prometheus-libvirt-exporter is installed by scripts/install-deps --test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def xentui_export(uri: str = URI) -> Iterator[str]:
    """A running ``xentui export`` (on the lab's URI; its port chosen by the kernel): its URL."""
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "xentui", "export", "-c", uri, "--listen",
                             "127.0.0.1:0", "--deadline", str(DEADLINE_S)], stderr=subprocess.PIPE, text=True)
    said = StreamLines(proc.stderr)  # its stderr is read there only
    try:
        line = said.next(30, "line from xentui export") or ""
        found = re.search(r"on (http://127\.0\.0\.1:\d+/metrics)", line)
        assert found, f"xentui export said {line!r}"
        yield found.group(1)
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=15) == 0
        except subprocess.TimeoutExpired:  # seen once under heavy load: say where every thread was
            proc.send_signal(signal.SIGABRT)  # faulthandler dumps each thread's stack to stderr
            proc.wait(timeout=15)
            raise AssertionError(f"xentui export still running 15 s after SIGTERM; its threads:\n"
                                 f"{said.rest(15)}") from None
        assert "Traceback" not in said.rest(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=15)


@contextlib.contextmanager
def kumina() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(["prometheus-libvirt-exporter", f"--web.listen-address=127.0.0.1:{port}",
                             f"--libvirt.uri={URI}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=5).close()
                break
            assert time.monotonic() < deadline and proc.poll() is None, "the exporter did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def scrape(url: str) -> tuple[float, dict[tuple[str, str], dict[tuple[tuple[str, str], ...], float]]]:
    """Seconds taken; (sample name, domain) -> {other labels: value}."""
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=30) as answer:
        body = answer.read().decode()
    took = time.monotonic() - start
    out: dict[tuple[str, str], dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_parser.text_string_to_metric_families(body):
        for s in family.samples:
            rest = tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("domain", "uuid", "source_bridge")))
            out.setdefault((s.name, s.labels.get("domain", "")), {})[rest] = s.value
    return took, out


def domstats(name: str) -> dict[str, str]:
    text = subprocess.run(["virsh", "-c", URI, "domstats", "--cpu-total", "--block", "--interface", name],
                          capture_output=True, text=True, timeout=30, check=True).stdout
    return {k.strip(): v.strip() for k, v in (line.split("=", 1) for line in text.splitlines() if "=" in line)}


DEVICES = {  # virsh domstats prefix -> exporter family -> virsh key
    "block": {"libvirt_domain_block_stats_read_bytes_total": "rd.bytes",
              "libvirt_domain_block_stats_write_bytes_total": "wr.bytes",
              "libvirt_domain_block_stats_read_requests_total": "rd.reqs",
              "libvirt_domain_block_stats_write_requests_total": "wr.reqs"},
    "net": {"libvirt_domain_interface_stats_receive_bytes_total": "rx.bytes",
            "libvirt_domain_interface_stats_transmit_bytes_total": "tx.bytes",
            "libvirt_domain_interface_stats_receive_packets_total": "rx.pkts",
            "libvirt_domain_interface_stats_transmit_packets_total": "tx.pkts"},
}
CPU = "libvirt_domain_info_cpu_time_seconds_total"


@needs_the_exporter
def test_counters_agree_with_virsh_and_the_debian_exporter(guests):
    """Each counter of xentui's and of the exporter's scrape lies between virsh's reading before and after."""
    checked = 0
    doms = guests.start("busy", settle=False), guests.start("idle", settle=False)
    with xentui_export() as ours_url, kumina() as theirs_url:
        for dom in doms:
            name = dom.name()
            before = domstats(name)
            _, ours = scrape(ours_url)
            _, theirs = scrape(theirs_url)
            after = domstats(name)
            low, high = int(before["cpu.time"]) / 1e9, int(after["cpu.time"]) / 1e9
            for who, got in (("xentui", ours), ("exporter", theirs)):
                (cpu,) = got[(CPU, name)].values()
                assert low - 0.01 <= cpu <= high + 0.01, f"{who}: {name} cpu {cpu} not in [{low}, {high}]"
                checked += 1
            for kind, families in DEVICES.items():
                for i in range(int(before.get(f"{kind}.count", "0"))):
                    dev = before[f"{kind}.{i}.name"]
                    for metric, key in families.items():
                        want = int(before[f"{kind}.{i}.{key}"]), int(after[f"{kind}.{i}.{key}"])
                        for who, got in (("xentui", ours), ("exporter", theirs)):
                            by_dev = {dict(k)["target_device"]: v for k, v in got[(metric, name)].items()}
                            assert want[0] <= by_dev[dev] <= want[1], f"{who}: {name} {dev} {metric} {by_dev}"
                            checked += 1
    assert checked >= 4 + 2 * 4  # both guests' CPU from both, and at least one disk's four counters
    print(f"{checked} counters agree")


def test_a_stopped_qemu_is_marked_stale_and_no_scrape_waits_past_the_deadline(guests):
    healthy, stuck = guests.start("busy", settle=False), guests.start("idle", settle=False)
    pid = lab.qemu_pid(stuck.name())
    with xentui_export() as url:
        took, first = scrape(url)
        assert first[("xentui_up", "")][()] == 1
        os.kill(pid, signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            times = []
            while True:
                took, got = scrape(url)
                times.append(took)
                assert took < DEADLINE_S, f"a scrape took {took:.2f} s (deadline {DEADLINE_S} s)"
                stale = got.get(("xentui_domain_stale", stuck.name()), {}).get(())
                if stale == 1 and got[("xentui_up", "")][()] == 1:
                    break  # a fresh sample in which only the stopped domain is stale
                assert time.monotonic() - stopped < 30, "the stopped domain was never marked stale"
            assert got[("xentui_domain_stale", healthy.name())][()] == 0
            assert (CPU, healthy.name()) in got
        finally:
            os.kill(pid, signal.SIGCONT)
        print(f"stale after {time.monotonic() - stopped:.1f} s; {len(times)} scrapes, longest {max(times):.2f} s")


def test_the_binary_serves_hostile_names_exactly_and_refuses_bad_places(tmp_path):
    xml = hostile.write_test_host(tmp_path / "hostile.xml")
    with xentui_export(f"test://{xml}") as url:
        _, got = scrape(url)
    names = {domain for (name, domain) in got if name == CPU}
    assert {hostile.NAMES[c] for c in hostile.XML_CLASSES} <= names
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        for args, status, says in ((["--listen", "127.0.0.1"], 2, "write ADDR:PORT"),
                                   (["--listen", f"127.0.0.1:{taken.getsockname()[1]}"], 1, "cannot listen on"),
                                   (["-c", "nonsense:///x"], 1, "nonsense")):
            run = subprocess.run([sys.executable, "-m", "xentui", "export", *args], capture_output=True, text=True,
                                 timeout=60)
            err = run.stderr.strip().splitlines()
            assert run.returncode == status and len(err) == 1 and says in err[0], (args, run.stderr)


@pytest.mark.skipif(not shutil.which("prometheus"), reason="Debian's prometheus is installed with the fleet lab")
def test_a_real_prometheus_scrapes_it_and_keeps_hostile_names_exact(tmp_path):
    """Prometheus 2.42 asks for OpenMetrics: the target is up and every name comes back as libvirt gave it."""
    xml = hostile.write_test_host(tmp_path / "hostile.xml")
    port = free_port()
    with xentui_export(f"test://{xml}") as url:
        config = tmp_path / "prometheus.yml"
        config.write_text("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: xentui\n"
                          f"    static_configs: [{{targets: ['{url[7:-8]}']}}]\n")
        prom = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            query = f"http://127.0.0.1:{port}/api/v1/query?query=libvirt_domain_info_cpu_time_seconds_total"
            deadline = time.monotonic() + 60
            names: set[str] = set()
            while len(names) < len(hostile.XML_CLASSES):
                assert time.monotonic() < deadline, f"Prometheus has only {sorted(names)}"
                with contextlib.suppress(OSError), urllib.request.urlopen(query, timeout=10) as answer:
                    names = {r["metric"]["domain"] for r in json.load(answer)["data"]["result"]}
                time.sleep(0.2)
            assert {hostile.NAMES[c] for c in hostile.XML_CLASSES} <= names
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=10) as answer:
                (target,) = json.load(answer)["data"]["activeTargets"]
            assert target["health"] == "up" and target["lastError"] == ""
        finally:
            prom.terminate()
            prom.wait(timeout=30)
