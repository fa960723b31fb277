"""The figures an alert rule may name: a domain's and its host's, named as in the batch JSON.

A domain figure's getter takes a :class:`DomainView`, a host figure's (``host_*``) the :class:`HostFacts` of
the domain's host.  None is unknown: a condition over an unknown figure does not hold, never guessed.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from typing import Any

from xentui.model import DomainView, HostSample, Snapshot
from xentui.model.samples import DomainState


class Kind(enum.Enum):
    NUMBER = "number"
    TEXT = "text"
    FLAG = "true/false"


Getter = Callable[[Any], Any]  # a DomainView's figure, or a HostFacts' (None: unknown)


def _steal_mean(view: DomainView) -> float | None:
    known = [r.steal_pct for r in view.rates.vcpus if r.steal_pct is not None]
    return sum(known) / len(known) if known else None


def _steal_max(view: DomainView) -> float | None:
    known = [r.steal_pct for r in view.rates.vcpus if r.steal_pct is not None]
    return max(known) if known else None


def _cache(attr: str) -> Getter:
    return lambda v: None if v.cache is None else getattr(v.cache, attr)


def _rate(attr: str) -> Getter:
    return operator.attrgetter(f"rates.{attr}")


def _io(attr: str) -> Getter:
    return operator.attrgetter(f"sample.io.{attr}")


def _cpu_s(v: DomainView) -> float | None:
    return None if v.sample.cpu_ns is None else v.sample.cpu_ns / 1e9


N, T, F = Kind.NUMBER, Kind.TEXT, Kind.FLAG
_at = operator.attrgetter  # a figure read straight from the view, at C speed (1000 domains a tick)
# name -> (kind, getter); the batch JSON's names, plus the short ones the UI's columns suggest (cpu_pct, mem_pct...)
DOMAIN: dict[str, tuple[Kind, Getter]] = {
    "name": (T, _at("sample.name")),
    "uuid": (T, _at("sample.uuid")),
    "id": (N, _at("sample.domid")),
    "state": (T, operator.attrgetter("sample.state._value_")),  # (Enum.value is a slow property)
    "state_flags": (T, _at("sample.state_flags")),
    "stale": (F, lambda v: bool(v.sample.stale)),
    "cpu_pct": (N, _rate("cpu_pct")),
    "cpu_pct_of_one_pcpu": (N, _rate("cpu_pct")),
    "cpu_pct_of_host": (N, _rate("cpu_host_pct")),
    "overhead_cpu_pct": (N, _rate("overhead_pct")),
    "cpu_s": (N, _cpu_s),
    "steal_pct": (N, _rate("steal_pct")),  # STEAL(%): the online vCPUs' steal summed, % of one pCPU
    "steal_pct_mean": (N, _steal_mean),  # the mean over the vCPUs of their steal %
    "steal_pct_max": (N, _steal_max),  # the worst vCPU's
    "mem_kib": (N, _at("sample.mem_kib")),
    "mem_pct": (N, _at("mem_pct")),
    "mem_pct_of_host": (N, _at("mem_pct")),
    "maxmem_kib": (N, _at("sample.maxmem_kib")),
    "maxmem_pct_of_host": (N, _at("maxmem_pct")),
    "rss_kib": (N, _at("sample.rss_kib")),
    "vcpus": (N, _at("sample.vcpus_current")),
    "vcpus_online": (N, _at("sample.vcpus_current")),
    "vcpus_max": (N, _at("sample.vcpus_max")),
    "nets": (N, lambda v: len(v.sample.nets)),
    "vbds": (N, lambda v: len(v.sample.blocks)),
    "net_rx_bytes": (N, _io("net_rx_bytes")),
    "net_tx_bytes": (N, _io("net_tx_bytes")),
    "net_rx_packets": (N, _io("net_rx_packets")),
    "net_tx_packets": (N, _io("net_tx_packets")),
    "net_rx_bytes_per_s": (N, _rate("net_rx_bytes_s")),
    "net_tx_bytes_per_s": (N, _rate("net_tx_bytes_s")),
    "net_rx_packets_per_s": (N, _rate("net_rx_packets_s")),
    "net_tx_packets_per_s": (N, _rate("net_tx_packets_s")),
    "vbd_oo_reqs": (N, _io("blk_oo_reqs")),
    "vbd_rd_reqs": (N, _io("blk_rd_reqs")),
    "vbd_wr_reqs": (N, _io("blk_wr_reqs")),
    "vbd_rd_bytes": (N, _io("blk_rd_bytes")),
    "vbd_wr_bytes": (N, _io("blk_wr_bytes")),
    "vbd_rd_reqs_per_s": (N, _rate("blk_rd_reqs_s")),
    "vbd_wr_reqs_per_s": (N, _rate("blk_wr_reqs_s")),
    "vbd_rd_bytes_per_s": (N, _rate("blk_rd_bytes_s")),
    "vbd_wr_bytes_per_s": (N, _rate("blk_wr_bytes_s")),
    "llc_occupancy_bytes": (N, _cache("occupancy_bytes")),
    "llc_pct": (N, _cache("occupancy_pct")),
    "llc_occupancy_pct_of_l3": (N, _cache("occupancy_pct")),
    "mbm_total_bytes_per_s": (N, _cache("mbm_total_bytes_s")),
    "mbm_local_bytes_per_s": (N, _cache("mbm_local_bytes_s")),
    "ssid": (N, _at("sample.ssid")),
    "gmem_pct": (N, lambda v: None if v.guest_mem is None else v.guest_mem.used_pct),  # GMEM(%), the guest's own
}


class HostFacts:
    """One host's figures this tick (``host_*``), worked out once and shared by its domains' rules."""

    __slots__ = ("figures", "name")

    def __init__(self, name: str, figures: dict[str, Any]):
        self.name = name
        self.figures = figures


def _host_getter(name: str) -> Getter:
    return lambda h: h.figures.get(name)


HOST_KINDS: dict[str, Kind] = {
    "host": T,  # its name (a fleet's name for it; else its hostname)
    "host_state": T,  # up, down, ... (docs/fleet.md); "up" for the one host watched
    "host_mem_pct": N,  # memory not available (page cache counts as available where the source says), % of total
    "host_mem_used_kib": N,
    "host_mem_free_kib": N,
    "host_mem_total_kib": N,
    "host_pcpus": N,
    "host_cpu_pct": N,  # its pCPUs' mean busy %, where the source reads them (-p)
    "host_behind_s": N,  # Prometheus: how old its figures are
    "host_domains": N,  # domains running (not shut off)
}
HOST: dict[str, tuple[Kind, Getter]] = {name: (kind, _host_getter(name)) for name, kind in HOST_KINDS.items()}
ALL: dict[str, tuple[Kind, Getter]] = {**DOMAIN, **HOST}


def _facts(name: str, state: str, sample: HostSample | None, pcpu_pct: tuple[float | None, ...] | None,
           behind_s: float | None, domains: int) -> HostFacts:
    figures: dict[str, Any] = {"host": name, "host_state": state, "host_behind_s": behind_s, "host_domains": domains}
    if sample is not None and sample.mem_total_kib > 0:
        figures.update(host_mem_pct=sample.mem_pressure_pct, host_mem_used_kib=sample.mem_used_kib,
                       host_mem_free_kib=sample.mem_free_kib, host_mem_total_kib=sample.mem_total_kib)
    if sample is not None and sample.pcpus > 0:
        figures["host_pcpus"] = sample.pcpus
    busy = [p for p in pcpu_pct or () if p is not None]
    if busy:
        figures["host_cpu_pct"] = sum(busy) / len(busy)
    return HostFacts(name, figures)


def hosts(snapshot: Snapshot) -> dict[str, HostFacts]:
    """Each host's facts by the name its domains carry (``DomainView.host``: "" when one host is watched)."""
    running: dict[str, int] = {}
    shutoff = DomainState.SHUTOFF  # (an enum member's lookup is slow: once, not per domain)
    for view in snapshot.domains:
        sample = view.sample
        if sample.state is not shutoff:
            running[sample.host] = running.get(sample.host, 0) + 1
    if not snapshot.fleet:
        h = snapshot.host
        return {"": _facts(h.hostname, "up", h, snapshot.pcpu_pct, None, running.get("", 0))}
    return {hv.name: _facts(hv.name, hv.state.value, hv.host, hv.pcpu_pct, hv.behind_s, running.get(hv.name, 0))
            for hv in snapshot.hosts}
