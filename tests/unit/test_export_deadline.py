"""``xentui export`` over HTTP (prometheus_client's own server on 127.0.0.1): a source that hangs never holds a
scrape past its deadline, scrapes share one collection, content negotiation, and the command's bad options."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.openmetrics import parser as om_parser

from tests.libvirt_test_driver import driver_xml
from xentui.cli import export as cli
from xentui.export.collector import ExportCollector, SampleKeeper
from xentui.model import RawSample
from xentui.sources import Source, SourceError
from xentui.sources.libvirt import LibvirtSource

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class Gated(Source):
    """The test driver's samples, but a collect can be made to hang (a stuck hypervisor) or fail."""

    def __init__(self, xml: Path) -> None:
        self.inner = LibvirtSource(f"test://{xml}")
        self.uri = self.inner.uri
        self.gate = threading.Event()
        self.gate.set()
        self.fail = ""
        self.calls = 0
        self.reconnects = 0
        self.entered = threading.Event()

    def collect(self) -> RawSample:
        self.calls += 1
        self.entered.set()
        if not self.gate.wait(timeout=60):
            raise SourceError("the test never opened the gate")
        if self.fail:
            raise SourceError(self.fail)
        return self.inner.collect()

    def reconnect(self) -> None:
        self.reconnects += 1

    def close(self) -> None:
        self.gate.set()
        self.inner.close()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Gated]:
    xml = tmp_path / "host.xml"
    xml.write_text(driver_xml(4))
    gated = Gated(xml)
    yield gated
    gated.close()


@pytest.fixture
def serve(source: Gated) -> Iterator[tuple[str, SampleKeeper]]:
    keeper = SampleKeeper(source, deadline=2.0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExportCollector(keeper))
    server, _thread = start_http_server(0, "127.0.0.1", registry)
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics", keeper
    server.shutdown()
    keeper.close()


def scrape(url: str, accept: str = OPENMETRICS) -> tuple[float, str, dict[str, list]]:
    """Seconds the scrape took, its content type, and its samples by name."""
    start = time.monotonic()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=30) as answer:
        body = answer.read().decode()
        kind = answer.headers["Content-Type"]
    took = time.monotonic() - start
    samples: dict[str, list] = {}
    if kind.startswith("application/openmetrics-text"):
        for family in om_parser.text_string_to_metric_families(body):
            for s in family.samples:
                samples.setdefault(s.name, []).append(s)
    return took, kind, samples


def value(samples: dict[str, list], name: str) -> float:
    (only,) = samples[name]
    return only.value


def test_a_hung_source_never_holds_a_scrape_past_its_deadline(serve, source):
    url, keeper = serve
    took, _, fresh = scrape(url)
    assert value(fresh, "xentui_up") == 1 and len(fresh["xentui_domain_stale"]) == 4
    source.gate.clear()  # the hypervisor stops answering
    source.entered.clear()
    took, _, stuck = scrape(url)
    assert source.entered.is_set()  # the scrape did ask
    assert took < keeper.deadline, f"a scrape took {took:.2f} s with a deadline of {keeper.deadline} s"
    assert value(stuck, "xentui_up") == 0 and value(stuck, "libvirt_up") == 0
    assert {s.value for s in stuck["xentui_domain_stale"]} == {1}  # the newest figures, marked stale
    assert len(stuck["libvirt_domain_info_cpu_time_seconds_total"]) == 4
    assert value(stuck, "xentui_scrape_collect_seconds") >= keeper.wait_s()
    assert "did not answer" in stuck["xentui_scrape_error_info"][0].labels["reason"]
    calls = source.calls
    took, _, again = scrape(url)  # still hung: no second collection piles up behind the first
    assert source.calls == calls and took < keeper.deadline and value(again, "xentui_up") == 0
    source.gate.set()
    took, _, back = scrape(url)
    assert value(back, "xentui_up") == 1 and {s.value for s in back["xentui_domain_stale"]} == {0}


def test_scrapes_at_once_share_one_collection(serve, source):
    url, _ = serve
    source.gate.clear()
    results: list[float] = []
    scrapers = [threading.Thread(target=lambda: results.append(value(scrape(url)[2], "xentui_up")))
                for _ in range(3)]
    for t in scrapers:
        t.start()
    for t in scrapers:  # the gate stays shut: each scrape gives up after its wait, the collection still in flight
        t.join(timeout=30)
    assert results == [0, 0, 0] and source.calls == 1  # 3 scrapers, however late each came: one collection
    source.gate.set()
    assert value(scrape(url)[2], "xentui_up") == 1 and source.calls <= 2  # the one in flight, or the next


def test_a_failing_source_says_why_then_reconnects(serve, source):
    url, _ = serve
    source.fail = "libvirt: the connection is closed"
    _, _, failed = scrape(url)
    assert value(failed, "xentui_up") == 0 and "xentui_domain_stale" not in failed  # no sample yet: none
    assert failed["xentui_scrape_error_info"][0].labels["reason"] == "libvirt: the connection is closed"
    source.fail = ""
    _, _, back = scrape(url)
    assert value(back, "xentui_up") == 1 and source.reconnects == 1


def test_content_negotiation(serve):
    url, _ = serve
    _, kind, samples = scrape(url)
    assert kind.startswith("application/openmetrics-text") and samples
    _, kind, _ = scrape(url, accept="text/plain")
    assert kind.startswith("text/plain; version=0.0.4")


@pytest.mark.parametrize(("args", "says"), [
    (["--listen", "example.com:9300"], "--listen 'example.com:9300': write ADDR:PORT with an IP address"),
    (["--listen", "127.0.0.1"], "write ADDR:PORT"),
    (["--listen", "127.0.0.1:70000"], "write ADDR:PORT"),
    (["--deadline", "0"], "--deadline '0' must be seconds from 0.1 to 300"),
    (["--deadline", "soon"], "must be seconds"),
])
def test_bad_options_get_one_line_and_status_2(capsys, args, says):
    with pytest.raises(SystemExit) as stop:
        cli.parser().parse_args(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and says in err[0] and err[0].startswith("xentui export: ")


def test_listen_defaults_to_loopback_and_reads_ipv6():
    assert cli.parser().parse_args([]).listen == ("127.0.0.1", 9300)
    assert cli.listen_arg("[::1]:9301") == ("::1", 9301)
    assert cli.listen_arg("localhost:0") == ("127.0.0.1", 0)
    assert cli.listen_arg("0.0.0.0:9300") == ("0.0.0.0", 9300)


def test_every_scrape_in_turn_gets_a_sample_of_its_own(source):
    keeper = SampleKeeper(source, deadline=5.0)
    try:
        served = [keeper.serve() for _ in range(25)]  # the test driver answers at once: no collection is reused
    finally:
        keeper.close()
    assert all(s.fresh for s in served) and source.calls == 25
    assert len({s.raw.monotonic for s in served if s.raw}) == 25
