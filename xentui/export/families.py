"""The metric families of one RawSample: kumina's and inovex's libvirt exporter names where they exist
(same names, same label names), ``xentui_*`` for what no exporter has.  docs/export.md lists them.

Counters are counters (seconds, bytes, requests), gauges are gauges.  A figure the source does not know is left
out of its family, never written as 0.  Label values are outside text: prometheus_client escapes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.samples import Sample

from xentui.cpulist import format_cpulist
from xentui.model import DomainSample, RawSample
from xentui.model.samples import NS_PER_S, DomainState

Value = int | float | None
DOMAIN = ("domain", "uuid")
VCPU = (*DOMAIN, "vcpu")
BLOCK = (*DOMAIN, "source_file", "target_device")  # kumina's block labels
NET = (*DOMAIN, "target_device")  # kumina adds source_bridge, which xentui's model does not carry
BANK = (*DOMAIN, "cache_id")  # "" for a figure of every L3 together

# virDomainState's codes (kumina's libvirt_domain_state_code); Xen's "dying" has none and is left out.
STATE_CODE = {DomainState.NOSTATE: 0, DomainState.RUNNING: 1, DomainState.BLOCKED: 2, DomainState.PAUSED: 3,
              DomainState.SHUTDOWN: 4, DomainState.SHUTOFF: 5, DomainState.CRASHED: 6, DomainState.PMSUSPENDED: 7}


def seconds(ns: int | None) -> float | None:
    return None if ns is None else ns / NS_PER_S


def kib(value: int | None) -> int | None:
    return None if value is None else value * 1024


@dataclass(frozen=True, slots=True)
class Spec:
    """One family: its name (counters end in ``_total``), whether a counter, its HELP, how to read a value."""

    name: str
    counter: bool
    help: str
    read: Callable[[Any], Value]  # of a DomainSample, VcpuSample, BlockSample, NetSample or CacheBank


def C(name: str, help: str, read: Callable[..., Value]) -> Spec:  # a counter (the tables' shorthand)
    return Spec(name, True, help, read)


def G(name: str, help: str, read: Callable[..., Value]) -> Spec:  # a gauge
    return Spec(name, False, help, read)


DOMAIN_SPECS = (
    C("libvirt_domain_info_cpu_time_seconds_total", "Amount of CPU time used by the domain, in seconds.",
      lambda d: seconds(d.cpu_ns)),
    G("libvirt_domain_info_maximum_memory_bytes", "Maximum allowed memory of the domain, in bytes.",
      lambda d: kib(d.maxmem_kib)),
    G("libvirt_domain_info_memory_usage_bytes", "Memory usage of the domain, in bytes.", lambda d: kib(d.mem_kib)),
    G("libvirt_domain_info_virtual_cpus", "Number of virtual CPUs for the domain.", lambda d: d.vcpus_current),
    G("libvirt_domain_state_code", "State of the domain (virDomainState: 1 running, 3 paused, 5 shut off, ...).",
      lambda d: STATE_CODE.get(d.state)),
    G("libvirt_domain_vcpu_maximum", "Number of maximum online vCPUs.", lambda d: d.vcpus_max),
    G("libvirt_domain_memory_stats_rss_bytes", "Resident Set Size of the process running the domain.",
      lambda d: kib(d.rss_kib)),
)
VCPU_SPECS = (
    C("libvirt_domain_vcpu_time_seconds_total", "Time spent by the virtual CPU.", lambda v: seconds(v.time_ns)),
    C("libvirt_domain_vcpu_delay_seconds_total", "Time the vCPU spent waiting in the queue instead of running "
      "(runnable, not running). Exposed to the VM as steal time.", lambda v: seconds(v.delay_ns)),
    G("xentui_domain_vcpu_pcpu", "The physical CPU the vCPU is on now.", lambda v: v.pcpu),
)
BLOCK_SPECS = (
    C("libvirt_domain_block_stats_read_bytes_total", "Number of bytes read from a block device, in bytes.",
      lambda b: b.rd_bytes),
    C("libvirt_domain_block_stats_read_requests_total", "Number of read requests from a block device.",
      lambda b: b.rd_reqs),
    C("libvirt_domain_block_stats_write_bytes_total", "Number of bytes written from a block device, in bytes.",
      lambda b: b.wr_bytes),
    C("libvirt_domain_block_stats_write_requests_total", "Number of write requests from a block device.",
      lambda b: b.wr_reqs),
    C("xentui_domain_block_stats_errors_total", "Number of failed requests on a block device.", lambda b: b.errors),
    C("xentui_domain_block_stats_oo_requests_total", "Requests a Xen block back-end could not take at once "
      "(out of requests, xentop's VBD_OO).", lambda b: b.oo_reqs),
)
NET_SPECS = tuple(
    C(f"libvirt_domain_interface_stats_{way}_{what}_total", f"Number of {noun} {verb} a network interface{unit}.",
      lambda n, attr=f"{short}_{field}": getattr(n, attr))
    for way, short, verb in (("receive", "rx", "received on"), ("transmit", "tx", "transmitted on"))
    for what, field, noun, unit in (("bytes", "bytes", "bytes", ", in bytes"), ("packets", "packets", "packets", ""),
                                    ("errors", "errs", "packet errors", ""), ("drops", "drop", "packet drops", "")))
BANK_SPECS = (
    G("xentui_domain_llc_occupancy_bytes", "Last-level cache (L3) the domain holds now, in bytes (Cache QoS CMT).",
      lambda b: b.occupancy_bytes),
    C("xentui_domain_mbm_total_bytes_total", "Memory bandwidth used, all NUMA nodes, in bytes (Cache QoS MBM).",
      lambda b: b.mbm_total_bytes),
    C("xentui_domain_mbm_local_bytes_total", "Memory bandwidth used on the local NUMA node, in bytes (MBM).",
      lambda b: b.mbm_local_bytes),
    G("xentui_domain_mbm_total_bytes_per_second", "Memory bandwidth, all nodes, as measured by the source "
      "(xl psr-cmt-show, perf events: no counter to difference), in bytes per second.", lambda b: b.mbm_total_bytes_s),
    G("xentui_domain_mbm_local_bytes_per_second", "Local-node memory bandwidth as measured by the source, "
      "in bytes per second.", lambda b: b.mbm_local_bytes_s),
)


def _family(spec: Spec, labels: Sequence[str]) -> CounterMetricFamily | GaugeMetricFamily:
    kind = CounterMetricFamily if spec.counter else GaugeMetricFamily
    return kind(spec.name, spec.help, labels=labels)


def _fill(specs: Sequence[Spec], labels: Sequence[str],
          rows: Iterator[tuple[Sequence[str], object]]) -> Iterator[Metric]:
    """One family per spec over ``rows`` (label values, item); items whose value is unknown are left out.

    One label dict per row, shared by its samples, appended as prometheus_client's own ``Sample``s: the
    families of 1000 domains hold ~27000 samples, and ``add_metric`` would build a dict for each."""
    families = [_family(spec, labels) for spec in specs]
    reads = [(family.samples.append, f"{family.name}_total" if spec.counter else family.name, spec.read)
             for family, spec in zip(families, specs, strict=True)]
    for values, item in rows:
        shared = dict(zip(labels, values, strict=True))
        for add, name, read in reads:
            value = read(item)
            if value is not None:
                add(Sample(name, shared, value))
    yield from (family for family in families if family.samples)


def domain_families(domains: Sequence[DomainSample], ncpus: int | None, all_stale: bool) -> Iterator[Metric]:
    """Every per-domain family, with every domain's devices, vCPUs and Cache QoS banks; ``all_stale``: the sample
    is older than this scrape."""
    yield from _fill(DOMAIN_SPECS, DOMAIN, (([d.name, d.uuid], d) for d in domains))
    stale = GaugeMetricFamily("xentui_domain_stale", "1 when the domain's figures are old (it did not answer in "
                              "time, or the whole sample is older than this scrape), else 0.", labels=DOMAIN)
    for d in domains:
        stale.add_metric([d.name, d.uuid], 1 if all_stale or d.stale else 0)
    yield stale
    yield from _fill(VCPU_SPECS, VCPU, (([d.name, d.uuid, str(v.number)], v) for d in domains for v in d.vcpus))
    yield from _fill(BLOCK_SPECS, BLOCK, (([d.name, d.uuid, b.path, b.name], b) for d in domains for b in d.blocks))
    yield from _fill(NET_SPECS, NET, (([d.name, d.uuid, n.name], n) for d in domains for n in d.nets))
    yield from _fill(BANK_SPECS, BANK, (([d.name, d.uuid, "" if b.cache_id is None else str(b.cache_id)], b)
                                        for d in domains if d.cache is not None for b in d.cache.banks))
    info = InfoMetricFamily("xentui_domain", "The domain's id, state and xentop's state flags (dsbcpr).",
                            labels=DOMAIN)
    pins = InfoMetricFamily("xentui_domain_vcpu_affinity", "The pCPUs a vCPU may run on (hard) and prefers (soft, "
                            "Xen), as CPU lists; a list not read is absent.", labels=VCPU)
    cache = InfoMetricFamily("xentui_domain_cache_qos", "Where the domain's Cache QoS figures come from, and why "
                             "there are none (status; empty when monitored).", labels=DOMAIN)
    for d in domains:
        info.add_metric([d.name, d.uuid], {"domid": "" if d.domid is None else str(d.domid),
                                           "state": d.state.value, "flags": d.state_flags})
        if d.cache is not None:
            cache.add_metric([d.name, d.uuid], {"source": d.cache.source, "status": d.cache.status})
        for v in d.vcpus:
            if v.hard_affinity is not None or v.soft_affinity is not None:
                pins.add_metric([d.name, d.uuid, str(v.number)], {
                    "hard": "" if v.hard_affinity is None else format_cpulist(v.hard_affinity, ncpus),
                    "soft": "" if v.soft_affinity is None else format_cpulist(v.soft_affinity, ncpus)})
    yield from (family for family in (info, pins, cache) if family.samples)


def host_families(raw: RawSample) -> Iterator[Metric]:
    """The host's facts, its pCPUs' busy time and L3 sizes."""
    h = raw.host
    info = InfoMetricFamily("xentui_host", "The host: name, hypervisor and version, URI xentui reads.")
    info.add_metric([], {"hostname": h.hostname, "hypervisor": h.hypervisor, "version": h.hypervisor_version,
                         "libvirt_version": h.libvirt_version, "uri": h.uri, "cpu_model": h.cpu_model})
    yield info
    yield GaugeMetricFamily("libvirt_domains_number", "Number of domains.", value=len(raw.domains))
    if h.pcpus:  # 0: a source that does not know the host's size (e.g. Prometheus without node_exporter)
        yield GaugeMetricFamily("xentui_host_cpus", "Physical CPUs online.", value=h.pcpus)
    if h.mem_total_kib:
        yield GaugeMetricFamily("xentui_host_memory_total_bytes", "Host memory, in bytes.",
                                value=h.mem_total_kib * 1024)
        yield GaugeMetricFamily("xentui_host_memory_free_bytes", "Host memory free, in bytes.",
                                value=h.mem_free_kib * 1024)
    busy = CounterMetricFamily("xentui_host_pcpu_busy_seconds_total", "Time each physical CPU was busy, in seconds.",
                               labels=["pcpu"])
    for number, ns in enumerate(raw.pcpu_busy_ns or ()):
        busy.add_metric([str(number)], ns / NS_PER_S)
    l3 = GaugeMetricFamily("xentui_host_llc_size_bytes", "Size of each last-level cache (L3), in bytes.",
                           labels=["cache_id"])
    for cache in raw.host.l3_caches:
        l3.add_metric([str(cache.cache_id)], cache.size_bytes)
    yield from (family for family in (busy, l3) if family.samples)
