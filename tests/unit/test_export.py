"""``xentui export``'s families: libvirt test-driver domains rendered by prometheus_client in both formats and
parsed back; exporter names and label names, counters as counters, unknown figures left out, hostile names exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import exposition
from prometheus_client import parser as text_parser
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_exposition
from prometheus_client.openmetrics import parser as om_parser

from tests import hostile
from tests.libvirt_test_driver import driver_xml
from xentui.export.collector import Served, families_of
from xentui.model import RawSample
from xentui.model.samples import CacheBank, CacheSample, VcpuSample
from xentui.sources.libvirt import LibvirtSource

KUMINA = {  # the per-domain families of Debian's prometheus-libvirt-exporter 0.2.0
    "libvirt_domain_info_cpu_time_seconds_total", "libvirt_domain_info_maximum_memory_bytes",
    "libvirt_domain_info_memory_usage_bytes", "libvirt_domain_info_virtual_cpus", "libvirt_domain_state_code",
    "libvirt_domain_block_stats_read_bytes_total", "libvirt_domain_block_stats_read_requests_total",
    "libvirt_domain_block_stats_write_bytes_total", "libvirt_domain_block_stats_write_requests_total",
}
REFERENCE = Path(__file__).parents[1] / "data" / "prometheus-libvirt-exporter-0.2.0.txt"  # a real capture


class Fixed:
    """A registry-like object: what one scrape serves."""

    def __init__(self, served: Served) -> None:
        self.served = served

    def collect(self) -> Iterator[Metric]:
        return families_of(self.served)


def driver_sample(tmp_path: Path, count: int = 3) -> RawSample:
    xml = tmp_path / "host.xml"
    xml.write_text(driver_xml(count))
    source = LibvirtSource(f"test://{xml}")
    try:
        return source.collect()
    finally:
        source.close()


def scrape(served: Served, openmetrics: bool) -> dict[str, Metric]:
    """Render as a scraper would receive it, then parse it back: family name (as its samples say) -> family."""
    if openmetrics:
        text = om_exposition.generate_latest(Fixed(served)).decode()  # type: ignore[arg-type]
        assert text.endswith("# EOF\n")
        families = om_parser.text_string_to_metric_families(text)
    else:
        text = exposition.generate_latest(Fixed(served)).decode()  # type: ignore[arg-type]
        families = text_parser.text_string_to_metric_families(text)
    out = {}
    for family in families:
        names = {s.name for s in family.samples}
        out[names.pop() if len(names) == 1 else family.name] = family
    return out


def values(family: Metric, label: str = "uuid") -> dict[str, float]:
    return {s.labels[label]: s.value for s in family.samples}


@pytest.mark.parametrize("openmetrics", [False, True], ids=["prometheus-text", "openmetrics"])
def test_test_driver_domains_round_trip_with_the_exporters_names_and_labels(tmp_path, openmetrics):
    raw = driver_sample(tmp_path)
    got = scrape(Served(raw, True, 0.01), openmetrics)
    assert got.keys() >= KUMINA
    by_uuid = {d.uuid: d for d in raw.domains}
    cpu = got["libvirt_domain_info_cpu_time_seconds_total"]
    assert cpu.type == "counter"
    assert values(cpu) == pytest.approx({u: d.cpu_ns / 1e9 for u, d in by_uuid.items()}, rel=1e-12)
    assert {s.labels["domain"] for s in cpu.samples} == {d.name for d in raw.domains}
    assert got["libvirt_domain_info_memory_usage_bytes"].type == "gauge"
    assert values(got["libvirt_domain_info_memory_usage_bytes"]) == {u: d.mem_kib * 1024 for u, d in by_uuid.items()}
    reads = got["libvirt_domain_block_stats_read_bytes_total"]
    assert {(s.labels["uuid"], s.labels["source_file"], s.labels["target_device"]): s.value for s in reads.samples} \
        == {(d.uuid, b.path, b.name): b.rd_bytes for d in raw.domains for b in d.blocks}
    rx = got["libvirt_domain_interface_stats_receive_bytes_total"]
    assert {(s.labels["uuid"], s.labels["target_device"]): s.value for s in rx.samples} \
        == {(d.uuid, n.name): n.rx_bytes for d in raw.domains for n in d.nets}
    assert values(got["libvirt_domain_state_code"]) == dict.fromkeys(by_uuid, 1)  # running
    vcpu = got["libvirt_domain_vcpu_time_seconds_total"]
    assert {(s.labels["uuid"], s.labels["vcpu"]) for s in vcpu.samples} \
        == {(d.uuid, str(v.number)) for d in raw.domains for v in d.vcpus}
    assert got["xentui_up"].samples[0].value == 1
    assert values(got["xentui_domain_stale"]) == dict.fromkeys(by_uuid, 0)
    assert got["libvirt_domains_number"].samples[0].value == len(raw.domains)


def test_the_reference_exporters_families_and_label_names_are_ours(tmp_path):
    theirs = {f.name: f for f in text_parser.text_string_to_metric_families(REFERENCE.read_text())}
    ours = {f.name: f for f in text_parser.text_string_to_metric_families(
        exposition.generate_latest(Fixed(Served(driver_sample(tmp_path), True, 0.0))).decode())}  # type: ignore[arg-type]
    for name, family in theirs.items():
        assert name in ours, name
        assert ours[name].type == family.type, name
        label_sets = [{tuple(sorted(s.labels)) for s in f.samples} for f in (ours[name], family)]
        assert label_sets[0] == label_sets[1], name


def test_unknown_figures_are_left_out_never_zero(tmp_path):
    raw = driver_sample(tmp_path)
    first, *rest = raw.domains
    blind = dataclasses.replace(first, cpu_ns=None, mem_kib=None, maxmem_kib=None,
                                vcpus=tuple(dataclasses.replace(v, time_ns=None) for v in first.vcpus),
                                blocks=tuple(dataclasses.replace(b, rd_bytes=None) for b in first.blocks))
    got = scrape(Served(dataclasses.replace(raw, domains=(blind, *rest)), True, 0.0), openmetrics=True)
    for name in ("libvirt_domain_info_cpu_time_seconds_total", "libvirt_domain_info_memory_usage_bytes",
                 "libvirt_domain_info_maximum_memory_bytes", "libvirt_domain_vcpu_time_seconds_total",
                 "libvirt_domain_block_stats_read_bytes_total"):
        assert first.uuid not in values(got[name]), name
        assert {d.uuid for d in rest} <= values(got[name]).keys(), name
    assert first.uuid in values(got["libvirt_domain_block_stats_write_bytes_total"])  # what is known stays
    assert "libvirt_domain_vcpu_delay_seconds_total" not in got  # the test driver has no steal: no family at all
    unsized = dataclasses.replace(raw, host=dataclasses.replace(raw.host, pcpus=0, mem_total_kib=0, mem_free_kib=0))
    got = scrape(Served(unsized, True, 0.0), openmetrics=True)  # e.g. -c prometheus+http://... without node_exporter
    assert not {"xentui_host_cpus", "xentui_host_memory_total_bytes", "xentui_host_memory_free_bytes"} & got.keys()


def test_steal_pinning_and_cache_qos_have_xentui_families(tmp_path):
    raw = driver_sample(tmp_path, count=1)
    dom = raw.domains[0]
    vcpus = (VcpuSample(0, time_ns=3 * 10**9, delay_ns=25 * 10**7, pcpu=5, hard_affinity=frozenset({4, 5, 6, 7}),
                        soft_affinity=frozenset({5})),
             VcpuSample(1, time_ns=10**9, delay_ns=0, pcpu=None, hard_affinity=None))
    cache = CacheSample("resctrl", "g1", banks=(CacheBank(0, occupancy_bytes=4 << 20, mbm_total_bytes=10**9),
                                                CacheBank(1, occupancy_bytes=None, mbm_local_bytes=7)))
    got = scrape(Served(dataclasses.replace(raw, domains=(dataclasses.replace(dom, vcpus=vcpus, cache=cache),)),
                        True, 0.0), openmetrics=True)
    delay = got["libvirt_domain_vcpu_delay_seconds_total"]
    assert delay.type == "counter" and values(delay, "vcpu") == {"0": 0.25, "1": 0.0}
    assert values(got["xentui_domain_vcpu_pcpu"], "vcpu") == {"0": 5}  # vCPU 1's is unknown: absent
    pins = got["xentui_domain_vcpu_affinity_info"]
    assert pins.type == "info"
    assert [(s.labels["vcpu"], s.labels["hard"], s.labels["soft"]) for s in pins.samples] == [("0", "4-7", "5")]
    assert values(got["xentui_domain_llc_occupancy_bytes"], "cache_id") == {"0": 4 << 20}
    assert got["xentui_domain_mbm_total_bytes_total"].type == "counter"
    assert values(got["xentui_domain_mbm_total_bytes_total"], "cache_id") == {"0": 10**9}
    assert values(got["xentui_domain_mbm_local_bytes_total"], "cache_id") == {"1": 7}
    assert got["xentui_domain_cache_qos_info"].samples[0].labels["source"] == "resctrl"


def test_a_sample_older_than_the_scrape_marks_every_domain_stale(tmp_path):
    raw = driver_sample(tmp_path)
    got = scrape(Served(raw, False, 4.2, "the source did not answer within 3.75 s"), openmetrics=True)
    assert got["xentui_up"].samples[0].value == 0 and got["libvirt_up"].samples[0].value == 0
    assert got["xentui_scrape_collect_seconds"].samples[0].value == 4.2
    assert set(values(got["xentui_domain_stale"]).values()) == {1}
    assert got["xentui_scrape_error_info"].samples[0].labels["reason"].startswith("the source did not answer")
    assert "libvirt_domain_info_cpu_time_seconds_total" in got  # the newest figures are still served
    nothing = scrape(Served(None, False, 4.0, "no answer"), openmetrics=True)
    assert nothing.keys() == {"xentui_up", "libvirt_up", "xentui_scrape_collect_seconds", "xentui_scrape_error_info"}


def label_values(got: dict[str, Metric], label: str) -> set[str]:
    return {s.labels[label] for f in got.values() for s in f.samples if label in s.labels}


@pytest.mark.parametrize("openmetrics", [False, True], ids=["prometheus-text", "openmetrics"])
def test_hostile_names_from_the_test_driver_come_back_exact(tmp_path, openmetrics):
    source = LibvirtSource(f"test://{hostile.write_test_host(tmp_path / 'hostile.xml')}")
    try:
        raw = source.collect()
    finally:
        source.close()
    got = scrape(Served(raw, True, 0.0), openmetrics)
    assert label_values(got, "domain") == {d.name for d in raw.domains}
    assert {hostile.NAMES[c] for c in hostile.XML_CLASSES} <= label_values(got, "domain")
    assert label_values(got, "target_device") >= {n.name for d in raw.domains for n in d.nets}
    assert label_values(got, "source_file") == {hostile.XML_DISK_PATH}


@pytest.mark.parametrize("openmetrics", [False, True], ids=["prometheus-text", "openmetrics"])
def test_every_hostile_name_and_message_comes_back_exact(openmetrics):
    raw = hostile.hostile_samples(ticks=1)[0]  # ESC, OSC, CR, newline, bidi: what Xen or a recording may carry
    got = scrape(Served(raw, False, 0.0, hostile.MESSAGE), openmetrics)
    assert label_values(got, "domain") == set(hostile.NAMES.values())
    assert label_values(got, "target_device") == {hostile.NET, hostile.DISK}
    assert label_values(got, "source_file") == {hostile.DISK_PATH}
    assert label_values(got, "hostname") == {hostile.HOSTNAME}
    assert label_values(got, "reason") == {hostile.MESSAGE}
