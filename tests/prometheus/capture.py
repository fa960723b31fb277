"""Capture real API answers for the unit tests: ``tests/data/prometheus/*.json``.

Run as root, under the lab lock (it boots the lab guests and starts Prometheus and kumina's exporter):
``flock /tmp/xentui-lab.lock .venv/bin/python -m tests.prometheus.capture``.  With ``--xentui-export ADDR:PORT``
it captures a running ``xentui export`` (e.g. ``xentui export -c test:///default``) instead.  Each file is a list of
``{"path", "params", "answer"}``: every GET one PrometheusSource made, in order (the unit tests serve them
back from a loopback HTTP server).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.prometheus.engine import Engine
from xentui import lab
from xentui.sources.prometheus import PrometheusSource
from xentui.sources.prometheus.client import Client
from xentui.sources.prometheus.dialects import EVERY_NAME

OUT = Path(__file__).parent.parent / "data" / "prometheus"


def recording(log: list[dict[str, Any]]) -> None:
    """Makes every Client.get also append the whole answer to ``log``."""
    original = Client._parse

    def parse(self: Client, body: bytes, status: int) -> dict[str, Any]:
        answer = original(self, body, status)
        log.append({"answer": answer})
        return answer

    get = Client.get

    def get_logged(self: Client, path: str, params: dict[str, str] | None = None,
                   deadline: float | None = None) -> Any:
        data = get(self, path, params, deadline)
        log[-1].update(path=path, params=params or {})
        return data

    Client._parse = parse  # type: ignore[method-assign]
    Client.get = get_logged  # type: ignore[method-assign]


def collect_and_store(source: PrometheusSource, log: list[dict[str, Any]]) -> Any:
    """A tick, then the raw samples of every libvirt series at the tick's evaluation time: the store the unit
    tests' replay answers the tick's queries from (tests/prometheus/promql_subset.py)."""
    shot = source.collect()
    at = float(next(e["params"]["time"] for e in log if "time" in e["params"]))
    window = round(3 * source._interval_s * 1000)
    source._client.query(f'{{__name__=~"{"|".join(EVERY_NAME)}"}}[{window}ms]', at)
    return shot


def capture_export(address: str) -> int:
    """A tick of Prometheus scraping a running ``xentui export`` at ``address`` (job ``xentui``)."""
    with tempfile.TemporaryDirectory(prefix="xentui-prom-") as tmp:
        engine = Engine(Path(tmp))
        engine.start_exporter = lambda: None  # type: ignore[method-assign] - xentui export stands in
        try:
            engine.start()
            config = (Path(tmp) / "prometheus.yml").read_text()
            config = config.replace(f"'{engine.instance}'", f"'{address}'").replace("job_name: libvirt",
                                                                                    "job_name: xentui")
            (Path(tmp) / "prometheus.yml").write_text(config)
            assert engine.prometheus is not None
            engine.prometheus.send_signal(1)  # SIGHUP: reload
            engine.wait_scraped("count_over_time(xentui_up[10s]) > 4", timeout=90)
            log: list[dict[str, Any]] = []
            recording(log)
            source = PrometheusSource(f"prometheus+{engine.url}", timeout_s=5)
            shot = collect_and_store(source, log)
            (OUT / "tick-xentui-export.json").write_text(json.dumps(log, indent=1) + "\n")
            source.close()
            print(f"{len(shot.domains)} domains; saved in {OUT}")
        finally:
            engine.close()
    return 0


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:2] == ["--xentui-export"]:
        return capture_export(sys.argv[2])
    conn = lab.connect()
    before = {d.name() for d in conn.listAllDomains(1)}  # 1: active
    lab.main(["up", "--no-linux"])  # the recorded ticks hold the three tiny guests
    ours = [d for d in conn.listAllDomains(1) if d.name().startswith(lab.LAB_PREFIX) and d.name() not in before]
    with tempfile.TemporaryDirectory(prefix="xentui-prom-") as tmp:
        engine = Engine(Path(tmp))
        try:
            engine.start()
            engine.wait_scraped('count_over_time(libvirt_domain_info_cpu_time_seconds_total'
                                '{domain="xtlab-busy"}[10s]) > 4', timeout=90)
            log: list[dict[str, Any]] = []
            recording(log)
            source = PrometheusSource(f"prometheus+{engine.url}", timeout_s=5)
            shot = collect_and_store(source, log)
            (OUT / "tick-kumina.json").write_text(json.dumps(log, indent=1) + "\n")
            busy = next(d for d in shot.domains if d.name == "xtlab-busy")
            time.sleep(3)  # history of a few scrapes more
            log.clear()
            points = source.history(busy.key, 20)
            (OUT / "history-kumina.json").write_text(json.dumps(log, indent=1) + "\n")
            engine.stop_exporter()
            engine.wait_scraped("up == 0", timeout=30)
            log.clear()
            collect_and_store(source, log)
            (OUT / "tick-kumina-exporter-down.json").write_text(json.dumps(log, indent=1) + "\n")
            source.close()
            print(f"{len(shot.domains)} domains, {len(points)} history points; saved in {OUT}")
        finally:
            engine.close()
            for dom in ours:
                dom.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
