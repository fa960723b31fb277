"""The URI factory: one host is today's source, several a FleetSource; Prometheus by scheme, credentials from the
fleet file only; batch JSON and CSV of a fleet."""

from __future__ import annotations

import csv
import io
import json
import sys
import types
from pathlib import Path

import pytest

from tests.factories import HOST, dom, raw
from tests.libvirt_test_driver import driver_xml
from xentui.model import HostPart, HostState, RawSample, build_snapshot
from xentui.output import records
from xentui.sources import SourceError, open_source, source_class
from xentui.sources.base import Source
from xentui.sources.fleet import FleetSource, HostSpec, choose_hosts, open_hosts
from xentui.sources.fleet.config import BasicAuth
from xentui.sources.libvirt import LibvirtSource


def test_one_host_is_the_single_host_source_and_several_are_a_fleet(tmp_path: Path) -> None:
    paths = []
    for n in range(2):
        paths.append(tmp_path / f"{n}.xml")
        paths[-1].write_text(driver_xml(1, host=n))
    one = open_hosts([HostSpec("a", f"test://{paths[0]}")])
    many = open_hosts([HostSpec("a", f"test://{paths[0]}"), HostSpec("b", f"test://{paths[1]}")], delay=0.5,
                      name="web")
    try:
        assert type(one) is LibvirtSource and not one.collect().parts
        assert isinstance(many, FleetSource) and many.wait_s == 0.5 and many.uri == "fleet:web"
    finally:
        one.close()
        many.close()
    slow = open_hosts([HostSpec("a", "synthetic://3"), HostSpec("b", "synthetic://2")], delay=30)
    assert isinstance(slow, FleetSource) and slow.wait_s == 2.0  # a tick waits min(delay, 2 s) for slow hosts
    slow.close()


def test_prometheus_without_its_module_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xentui.sources.prometheus", None)  # import fails
    with pytest.raises(SourceError, match=r"the Prometheus source .* is not available in this xentui"):
        open_source("prometheus+http://127.0.0.1:9090")
    fleet = FleetSource([HostSpec("p", "prometheus+http://127.0.0.1:9090"), HostSpec("s", "synthetic://2")])
    try:
        sample = fleet.collect()
        assert sample.parts[0].state is HostState.DOWN and "is not available" in sample.parts[0].reason
        assert sample.parts[1].state is HostState.UP
    finally:
        fleet.close()


def test_prometheus_is_chosen_by_scheme_with_the_fleet_files_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, object, object]] = []

    class PrometheusSource(Source):
        CAN_ACT = False

        def __init__(self, uri: str, *, basic_auth: object = None, bearer_token: object = None) -> None:
            self.uri = uri
            made.append((uri, basic_auth, bearer_token))

        def collect(self) -> RawSample:
            return raw(1.0, dom(1.0))

        def close(self) -> None:
            return None

    module = types.ModuleType("xentui.sources.prometheus")
    module.PrometheusSource = PrometheusSource  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "xentui.sources.prometheus", module)
    assert source_class("prometheus+https://p:9090") is PrometheusSource
    open_hosts([HostSpec("p", "prometheus+https://p:9090", basic_auth=BasicAuth("u", "pw"))]).close()
    fleet = FleetSource([HostSpec("p", "prometheus+http://q:9090", bearer_token="tok")])
    assert not fleet.CAN_ACT and fleet.subscribe(lambda _u: None) == "no host of this fleet has lifecycle events"
    fleet.collect()
    fleet.close()
    assert made == [("prometheus+https://p:9090", ("u", "pw"), None), ("prometheus+http://q:9090", None, "tok")]


def _fleet_snapshot() -> RawSample:
    a = HostPart("a", HostState.UP, group="g1", uri="qemu+ssh://a/system",
                 prev=raw(1.0, dom(1.0, host="a")), cur=raw(2.0, dom(1.5, host="a")))
    b = HostPart("b", HostState.DOWN, uri="qemu+ssh://b/system", reason="Connection refused,\n=1+1")
    return RawSample(monotonic=2.0, wall=1_700_000_002.0, host=HOST, domains=a.cur.domains, parts=(a, b))


def test_batch_json_of_a_fleet_has_host_on_each_domain_and_hosts() -> None:
    frame = json.loads(records.json_frame(build_snapshot(None, _fleet_snapshot()), 1))
    assert frame["version"] == records.FLEET_JSON_VERSION == 2
    assert [(d["host"], d["name"], d["cpu_pct_of_one_pcpu"]) for d in frame["domains"]] == [("a", "web", 50.0)]
    assert [(h["name"], h["group"], h["state"], h["reason"], h["uri"]) for h in frame["hosts"]] == [
        ("a", "g1", "up", None, "qemu+ssh://a/system"),
        ("b", "", "down", "Connection refused,\n=1+1", "qemu+ssh://b/system")]  # exact in JSON


def test_batch_csv_of_a_fleet_names_each_rows_host_and_a_host_without_rows_has_one() -> None:
    shot = build_snapshot(None, _fleet_snapshot())
    rows = list(csv.DictReader(io.StringIO(records.csv_header(True) + records.csv_rows(shot, 1))))
    assert [(r["host"], r["name"], r["group"], r["host_state"], r["host_reason"]) for r in rows] == [
        ("a", "web", "g1", "up", ""), ("b", "", "", "down", "Connection refused,␊=1+1")]
    single = build_snapshot(None, raw(1.0, dom(1.0)))
    assert records.csv_header() == records.csv_header(False) and "host_state" not in records.csv_header()
    assert json.loads(records.json_frame(single, 1))["version"] == 1 and "hosts" not in records.json_frame(single, 1)


def test_xentui_over_ssh_is_chosen_by_scheme_and_a_bad_uri_is_one_line(tmp_path: Path) -> None:
    from xentui.sources.ssh_json import SshJsonSource

    source = open_source("xentui+ssh://root@xen1:2222?connect=xen:///system")  # ssh starts at the first collect
    assert type(source) is SshJsonSource and source_class("xentui+ssh://xen1") is SshJsonSource
    source.close()
    with pytest.raises(SourceError, match="unknown parameter 'port'; write xentui\\+ssh://"):
        open_source("xentui+ssh://xen1?port=1")
    path = tmp_path / "fleet.toml"
    path.write_text('[[hosts]]\nuri = "xentui+ssh://root@xen1"\n[[hosts]]\nuri = "qemu+ssh://kvm1/system"\n')
    specs = choose_hosts([], "all", path)
    assert [(s.name, s.uri) for s in specs] == [("xen1", "xentui+ssh://root@xen1"), ("kvm1", "qemu+ssh://kvm1/system")]
    fleet = open_hosts(specs)
    assert isinstance(fleet, FleetSource) and fleet.CAN_ACT  # the libvirt host can; the ssh one says it cannot
    fleet.close()
