"""A real Prometheus and kumina's libvirt exporter (Debian's packages), on 127.0.0.1, in private directories.

Both are started by :class:`Engine` and always stopped by it; every wait is a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
EXPORTER = shutil.which("prometheus-libvirt-exporter") or "/usr/bin/prometheus-libvirt-exporter"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, every: float = 0.1) -> Any:
    """``check()``'s first truthy answer; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            last = check()
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


class Engine:
    """Prometheus scraping one libvirt exporter every ``interval`` seconds."""

    def __init__(self, workdir: Path, libvirt_uri: str = "qemu:///system", interval: str = "1s"):
        self.workdir = workdir
        self.libvirt_uri = libvirt_uri
        self.interval = interval
        self.exporter_port = free_port()
        self.prom_port = free_port()
        self.exporter: subprocess.Popen[bytes] | None = None
        self.prometheus: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.prom_port}"

    @property
    def instance(self) -> str:
        return f"{HOST}:{self.exporter_port}"

    def start(self) -> None:
        self.start_exporter()
        config = self.workdir / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: {self.interval}\n  scrape_timeout: {self.interval}\n"
            f"scrape_configs:\n  - job_name: libvirt\n    static_configs:\n"
            f"      - targets: ['{self.instance}']\n"
        )
        (self.workdir / "data").mkdir(exist_ok=True)
        self.prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address={HOST}:{self.prom_port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=(self.workdir / "prometheus.log").open("wb"))
        wait_for("Prometheus ready", lambda: urllib.request.urlopen(f"{self.url}/-/ready", timeout=2).status == 200)

    def start_exporter(self) -> None:
        self.exporter = subprocess.Popen(
            [EXPORTER, f"--web.listen-address={self.instance}", f"--libvirt.uri={self.libvirt_uri}"],
            stdout=subprocess.DEVNULL, stderr=(self.workdir / "exporter.log").open("ab"))
        wait_for("exporter answers", lambda: urllib.request.urlopen(
            f"http://{self.instance}/metrics", timeout=5).status == 200)

    def stop_exporter(self) -> None:
        _stop(self.exporter)
        self.exporter = None

    def query(self, promql: str) -> Any:
        from urllib.parse import urlencode
        return get_json(f"{self.url}/api/v1/query?{urlencode({'query': promql})}")["data"]["result"]

    def wait_scraped(self, promql: str, timeout: float = 60.0) -> Any:
        """Waits until ``promql`` has a result (e.g. a guest's series with two samples)."""
        return wait_for(f"Prometheus has {promql}", lambda: self.query(promql), timeout=timeout, every=0.25)

    def close(self) -> None:
        _stop(self.exporter)
        _stop(self.prometheus)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


ROUNDING_S = 0.005  # kumina prints CPU seconds to 10 ms: each reading is within 5 ms of libvirt's


class VirshPoller:
    """``virsh domstats --cpu-total`` over and over in a thread: (started, ended, cpu.time in s) of each call."""

    def __init__(self, uri: str, name: str):
        self.uri, self.name = uri, name
        self.readings: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.time()
            out = subprocess.run(["virsh", "-c", self.uri, "domstats", "--cpu-total", "--raw", self.name],
                                 capture_output=True, text=True, timeout=10).stdout
            ended = time.time()
            for line in out.splitlines():
                key, _, value = line.strip().partition("=")
                if key == "cpu.time":
                    self.readings.append((began, ended, int(value) / 1e9))

    def at_least(self, t: float) -> float:
        """cpu.time at ``t`` is at least this: the newest reading of a call that ended by ``t``."""
        return max(v for _a, b, v in self.readings if b <= t)

    def at_most(self, t: float) -> float:
        """... and at most this: the oldest reading of a call that began at ``t`` or later."""
        return min(v for a, _b, v in self.readings if a >= t)

    def bounds(self, scrapes: tuple[float, float], durations: tuple[float, float]) -> tuple[float, float]:
        """The CPU seconds libvirt counted between two scrapes at ``scrapes`` that each read libvirt somewhere in
        [t, t + duration], at least and at most, by these readings (each within kumina's rounding)."""
        (t0, t1), (d0, d1) = scrapes, durations
        return (self.at_least(t1) - self.at_most(t0 + d0) - 2 * ROUNDING_S,
                self.at_most(t1 + d1) - self.at_least(t0) + 2 * ROUNDING_S)

    def assert_agrees(self, cpu_pct: float, scrapes: tuple[float, float], durations: tuple[float, float]) -> None:
        """CPU(%) over the two scrapes is within what virsh's readings allow."""
        low, high = self.bounds(scrapes, durations)
        span = scrapes[1] - scrapes[0]
        cpu_s = cpu_pct / 100 * span
        print(f"CPU {cpu_pct:.1f} % over {span:.3f} s; virsh bounds {100 * low / span:.1f}..{100 * high / span:.1f} %")
        assert low <= cpu_s <= high, f"{cpu_s:.3f} s of CPU in {span:.3f} s; virsh says {low:.3f}..{high:.3f}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
