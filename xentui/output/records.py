"""Machine-readable batch output: CSV rows and JSON lines, units in the field names.

JSON is exact: outside text (names, messages) is kept as it is, ASCII-escaped (``\u001b``, ``\u202e``),
never altered.  CSV is for people and spreadsheets: its outside text cells go through
:func:`xentui.text.csv_cell` (visible, no formula); numbers are never touched.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from xentui.cpulist import format_cpulist
from xentui.model import (
    SECTOR_BYTES,
    BlockSample,
    DomainRates,
    DomainSample,
    DomainState,
    DomainView,
    HostView,
    JobSample,
    NetSample,
    Snapshot,
)
from xentui.output import scheduling
from xentui.output.guest import guest_record
from xentui.output.guest_memory import guest_mem_record
from xentui.output.numbers import rounded as _round
from xentui.output.pressure import host_side_record
from xentui.sources.cache_qos.status import CacheStatus
from xentui.text import csv_cell

JSON_FORMAT = "xentui-batch"
JSON_VERSION = 1  # one host: unchanged, byte for byte
FLEET_JSON_VERSION = 2  # several hosts: version 1's fields, plus "host" on each domain and "hosts" (docs/fleet.md)


def _div(value: int | None, by: int) -> int | None:
    return None if value is None else value // by


def domain_record(view: DomainView) -> dict[str, Any]:
    """Every per-domain figure, flat, with units in the names (None = unknown)."""
    d, r = view.sample, view.rates
    io = d.io
    return {
        "name": d.name,
        "uuid": d.uuid,
        "id": d.domid,
        "state": d.state.value,
        "state_flags": d.state_flags,
        "cpu_ns": d.cpu_ns,
        "cpu_s": _round(None if d.cpu_ns is None else d.cpu_ns / 1e9),
        "cpu_pct_of_one_pcpu": _round(r.cpu_pct, 2),
        "cpu_pct_of_host": _round(r.cpu_host_pct, 2),
        "overhead_cpu_pct": _round(r.overhead_pct, 2),  # % of one pCPU beyond the vCPUs (KVM: QEMU's threads)
        "mem_kib": d.mem_kib,
        "mem_pct_of_host": _round(view.mem_pct, 2),
        "maxmem_kib": d.maxmem_kib,
        "maxmem_pct_of_host": _round(view.maxmem_pct, 2),
        "rss_kib": d.rss_kib,
        "vcpus_online": d.vcpus_current,
        "vcpus_max": d.vcpus_max,
        "nets": len(d.nets),
        "net_rx_bytes": io.net_rx_bytes,
        "net_tx_bytes": io.net_tx_bytes,
        "net_rx_packets": io.net_rx_packets,
        "net_tx_packets": io.net_tx_packets,
        "net_rx_bytes_per_s": _round(r.net_rx_bytes_s),
        "net_tx_bytes_per_s": _round(r.net_tx_bytes_s),
        "net_rx_packets_per_s": _round(r.net_rx_packets_s),
        "net_tx_packets_per_s": _round(r.net_tx_packets_s),
        "vbds": len(d.blocks),
        "vbd_oo_reqs": io.blk_oo_reqs,
        "vbd_rd_reqs": io.blk_rd_reqs,
        "vbd_wr_reqs": io.blk_wr_reqs,
        "vbd_rd_bytes": io.blk_rd_bytes,
        "vbd_wr_bytes": io.blk_wr_bytes,
        "vbd_rd_sectors": _div(io.blk_rd_bytes, SECTOR_BYTES),
        "vbd_wr_sectors": _div(io.blk_wr_bytes, SECTOR_BYTES),
        "vbd_rd_reqs_per_s": _round(r.blk_rd_reqs_s),
        "vbd_wr_reqs_per_s": _round(r.blk_wr_reqs_s),
        "vbd_rd_bytes_per_s": _round(r.blk_rd_bytes_s),
        "vbd_wr_bytes_per_s": _round(r.blk_wr_bytes_s),
        "vbd_rd_ms_per_req": _round(r.blk_rd_ms),  # over every disk's reads in the interval (null: none, unknown)
        "vbd_wr_ms_per_req": _round(r.blk_wr_ms),
        "steal_pct": _round(r.steal_pct, 2),  # the online vCPUs' steal summed, % of one pCPU
        "ssid": d.ssid,
        **_cache_record(view),
        "domain_type": d.domain_type,  # pv, pvh, hvm (null: unknown)
        "device_model": d.device_model,  # qemu-xen, qemu-xen-traditional, stubdom, none, qemu (null: unknown)
        "pci_devices": len(d.hostdevs),  # PCI host devices passed through (the list: "hostdevs")
        "ip": None if d.agent is None else d.agent.ip,  # the guest agent's first non-link-local address
        **guest_mem_record(view),  # the guest's own memory (balloon statistics): GMEM(%), swap, faults
    }


_CACHE_FIELDS = ("llc_occupancy_bytes", "llc_occupancy_pct_of_l3", "mbm_total_bytes_per_s", "mbm_local_bytes_per_s",
                 "cache_qos_source", "cache_qos_status")
_NO_CACHE: Mapping[str, object] = MappingProxyType(dict.fromkeys(_CACHE_FIELDS))  # (read-only: one for all)


def _cache_record(view: DomainView) -> Mapping[str, object]:
    """Cache QoS summed over the L3s (None: unknown); the status says why there are no numbers."""
    c = view.cache
    if c is None:
        return _NO_CACHE
    return dict(zip(_CACHE_FIELDS, (c.occupancy_bytes, _round(c.occupancy_pct, 2), _round(c.mbm_total_bytes_s),
                                    _round(c.mbm_local_bytes_s), c.source,
                                    str(CacheStatus.of(c.status) or c.status) or None), strict=True))


def job_record(job: JobSample | None) -> dict[str, Any] | None:
    """A job in progress (a migration, save, dump, block job, ...: libvirt's figures), None when none."""
    if job is None:
        return None
    return {"operation": job.operation, "percent": _round(job.percent, 2), "elapsed_ms": job.elapsed_ms,
            "data_processed_bytes": job.data_processed, "data_remaining_bytes": job.data_remaining,
            "data_total_bytes": job.data_total, "memory_dirty_rate_bytes_per_s": job.dirty_rate_bytes_s,
            "memory_iteration": job.iteration, "expected_downtime_ms": job.downtime_ms}


def _job_columns(job: JobSample | None) -> dict[str, Any]:
    """The job as CSV cells: ``job`` its operation (empty: none), then ``job_<figure>``."""
    record = job_record(job) or _NO_JOB
    return {"job": record["operation"], **{f"job_{k}": v for k, v in record.items() if k != "operation"}}


_NO_JOB = dict.fromkeys(job_record(JobSample()) or ())


def _detail(view: DomainView, ncpus: int) -> dict[str, Any]:
    rates = {v.number: v for v in view.rates.vcpus}
    vcpus = []
    for v in view.sample.vcpus:
        rate = rates.get(v.number)
        vcpus.append({
            "number": v.number,
            "online": v.online,
            "time_ns": v.time_ns,
            "steal_ns": v.delay_ns,
            "pcpu": v.pcpu,
            "hard_affinity": None if v.hard_affinity is None else format_cpulist(v.hard_affinity, ncpus),
            "soft_affinity": None if v.soft_affinity is None else format_cpulist(v.soft_affinity, ncpus),
            "cpu_pct_of_one_pcpu": _round(rate.cpu_pct if rate else None, 2),
            "steal_pct": _round(rate.steal_pct if rate else None, 2),
        })
    return {
        "stale": view.sample.stale or None,  # why some figures are old (the domain does not answer)
        # seconds since its memory and disk figures were read, where older than this update (read in turns: --fast)
        "monitor_age_s": _round(view.monitor_age_s, 2),
        "hostdevs": list(view.sample.hostdevs),  # "0000:03:00.1", " VF" appended for an SR-IOV virtual function
        "job": job_record(view.sample.job),  # null: none
        "guest": guest_record(view.sample.agent),  # what its guest agent said (null: never asked)
        "vcpu_list": vcpus,
        "net_list": [flat_record(n) for n in view.sample.nets],
        "vbd_list": _vbd_list(view),
        "cache_list": [] if view.cache is None else [
            {"cache_id": b.cache_id, "llc_occupancy_bytes": b.occupancy_bytes,
             "llc_occupancy_pct_of_l3": _round(b.occupancy_pct, 2),
             "mbm_total_bytes_per_s": _round(b.mbm_total_bytes_s), "mbm_local_bytes_per_s": _round(b.mbm_local_bytes_s)}
            for b in view.cache.banks],
        **host_side_record(view),  # "psi", "numa": only where the host has them
    }


_FIELD_NAMES = {cls: tuple(f.name for f in fields(cls)) for cls in (NetSample, BlockSample)}


def flat_record(sample: NetSample | BlockSample) -> dict[str, Any]:
    """A device's fields by name: what ``asdict`` gives for its plain values, without its deep copies (half of a
    JSON frame's time at 300 domains)."""
    return {name: getattr(sample, name) for name in _FIELD_NAMES[type(sample)]}


def _vbd_list(view: DomainView) -> list[dict[str, Any]]:
    """Each disk's counters, and its ms per read, write and flush request where it reports request times."""
    latency = view.rates.blk_latency
    if not latency:
        return [flat_record(b) for b in view.sample.blocks]
    return [flat_record(b) | {"rd_ms_per_req": _round(lat.rd_ms), "wr_ms_per_req": _round(lat.wr_ms),
                         "fl_ms_per_req": _round(lat.fl_ms)}
            for b, lat in zip(view.sample.blocks, latency, strict=True)]


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, tz=UTC).isoformat(timespec="milliseconds")


def host_record(view: HostView) -> dict[str, Any]:
    """A fleet host's health: why it is not up, how old its figures are."""
    return {
        "name": view.name,
        "group": view.group,
        "state": view.state.value,
        "reason": view.reason or None,
        "uri": view.uri,
        "labels": dict(view.labels),
        "domains": view.domains,
        "interval_s": _round(view.interval_s),
        "behind_s": _round(view.behind_s),
    }


def json_frame(snapshot: Snapshot, iteration: int, *, pcpu_usage: bool = False) -> str:
    """One JSON object (one line) for one iteration, every domain with every field; a fleet's with each
    domain's ``host`` and every host's health (``hosts``); with ``pcpu_usage`` (-p), ``pcpu_busy_pct``: each pCPU's
    busy % over the interval by number (null: unknown), or null when the host gives none."""
    host = asdict(snapshot.host)
    host["mem_used_kib"] = snapshot.host.mem_used_kib
    sched = scheduling.DomainsScheduling(snapshot)  # cpupool, scheduler, sched
    if snapshot.fleet:
        pcpus = {h.name: h.host.pcpus for h in snapshot.hosts if h.host is not None}
        domains = [_whole_record(v, pcpus.get(v.host, 0), sched, {"host": v.host})
                   for v in snapshot.domains if v.sample.active]
    else:
        domains = [_whole_record(v, snapshot.host.pcpus, sched) for v in snapshot.domains if v.sample.active]
    frame = {
        "format": JSON_FORMAT,
        "version": FLEET_JSON_VERSION if snapshot.fleet else JSON_VERSION,
        "iteration": iteration,
        "time": _iso(snapshot.wall),
        "epoch_s": round(snapshot.wall, 3),
        "interval_s": _round(snapshot.interval_s),
        "host": host,
        "domains": domains,
        "notices": list(snapshot.notices),
        "errors": list(snapshot.errors),
        **scheduling.frame_record(snapshot),  # pools, scheduling_error, scheduling_age_s
    }
    if snapshot.fleet:
        frame["hosts"] = [host_record(h) for h in snapshot.hosts]
    if pcpu_usage:
        frame["pcpu_busy_pct"] = None if snapshot.pcpu_pct is None else [_round(p, 2) for p in snapshot.pcpu_pct]
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=True) + "\n"


def _whole_record(view: DomainView, ncpus: int, sched: scheduling.DomainsScheduling,
                  first: dict[str, Any] | None = None) -> dict[str, Any]:
    """A domain's JSON object: ``first``'s keys, its figures, its detail, its scheduling (one dict filled in turn,
    not a copy made at each part)."""
    record = domain_record(view)
    if first is not None:
        record = first | record
    record.update(_detail(view, ncpus))
    record.update(sched(view))
    return record


def _csv_fields() -> list[str]:
    """Column names: the common ones, then domain_record()'s keys in order."""
    probe = DomainView(
        sample=DomainSample(uuid="", name="", domid=None, state=DomainState.RUNNING),
        rates=DomainRates(),
        mem_pct=None,
        maxmem_pct=None,
    )
    return ["iteration", "time", "interval_s", "host", *domain_record(probe), *_job_columns(None)]


CSV_FIELDS = _csv_fields()
FLEET_CSV_FIELDS = [*CSV_FIELDS, "group", "host_state", "host_reason", "host_uri"]  # several hosts: each row's host
CSV_TEXT = ("host", "name", "uuid", "cache_qos_status", "ip")  # outside text; state and flags are xentui's own words
FLEET_CSV_TEXT = ("group", "host_reason", "host_uri")


def csv_header(fleet: bool = False) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(FLEET_CSV_FIELDS if fleet else CSV_FIELDS)
    return buf.getvalue()


def csv_rows(snapshot: Snapshot, iteration: int) -> str:
    """One CSV row per active domain; empty cells are unknown figures.  A fleet's rows name their host and its
    health, and a host without a domain to show has one row of its own (its domain cells empty)."""
    if snapshot.fleet:
        return _fleet_csv_rows(snapshot, iteration)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    common: dict[str, Any] = {
        "iteration": iteration,
        "time": _iso(snapshot.wall),
        "interval_s": _round(snapshot.interval_s),
        "host": snapshot.host.hostname,
    }
    for view in snapshot.domains:
        if view.sample.active:
            row = common | domain_record(view) | _job_columns(view.sample.job)
            writer.writerow(row | {k: csv_cell(row[k]) for k in CSV_TEXT if row[k] is not None})
    return buf.getvalue()


def _fleet_csv_rows(snapshot: Snapshot, iteration: int) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FLEET_CSV_FIELDS, lineterminator="\n")
    common: dict[str, Any] = {"iteration": iteration, "time": _iso(snapshot.wall),
                              "interval_s": _round(snapshot.interval_s)}
    rows: dict[str, list[DomainView]] = {h.name: [] for h in snapshot.hosts}
    for view in snapshot.domains:
        if view.sample.active:
            rows.setdefault(view.host, []).append(view)
    for host in snapshot.hosts:
        health = common | {"host": host.name, "group": host.group, "host_state": host.state.value,
                           "host_reason": host.reason, "host_uri": host.uri}
        for row in [health | domain_record(v) | _job_columns(v.sample.job) for v in rows[host.name]] or [health]:
            writer.writerow(row | {k: csv_cell(row[k]) for k in (*CSV_TEXT, *FLEET_CSV_TEXT) if row.get(k)})
    return buf.getvalue()
