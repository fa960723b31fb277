"""One target's raw series -> its two newest scrapes as RawSamples (pure: no I/O, no clock).

Prometheus stamps every sample of one scrape with that scrape's time, so a target's series share their
timestamps: the newest is ``cur``, the one before is ``prev``, and each value is looked up at exactly those
times.  A value missing at a time stays unknown (a domain new since the last scrape has no rate yet).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeGuard

from xentui.limits import MAX_CPUS, MAX_DEVICES, MAX_DOMAINS, MAX_VCPUS
from xentui.model import NS_PER_S, BlockSample, DomainSample, HostSample, NetSample, RawSample, VcpuSample
from xentui.model.rates import counter_rate
from xentui.sources.base import HistoryPoint
from xentui.sources.prometheus.client import Series
from xentui.sources.prometheus.dialects import NAMES, PER_BLOCK, PER_NET, PER_VCPU, TINKOFF, state_of

Values = dict[float, float]  # scrape time -> value


@dataclass
class Domain:
    """A domain's series within one target, by figure (and by vCPU number or device name)."""

    uuid: str
    name: str
    figures: dict[str, Values] = field(default_factory=dict)
    vcpus: dict[int, dict[str, Values]] = field(default_factory=dict)
    blocks: dict[str, dict[str, Values]] = field(default_factory=dict)
    nets: dict[str, dict[str, Values]] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # disk -> its source file, when labelled
    infos: list[tuple[dict[str, str], Values]] = field(default_factory=list)  # info series: labels carry facts


@dataclass
class Target:
    """What one scrape target's series say: its domains, its host-level figures, its scrape times."""

    dialect: str
    domains: dict[str, Domain] = field(default_factory=dict)
    host: dict[str, Values] = field(default_factory=dict)  # figures without a domain (``up``)
    host_infos: dict[str, list[tuple[dict[str, str], Values]]] = field(default_factory=dict)  # scrape_error
    pcpus: dict[int, Values] = field(default_factory=dict)  # busy seconds of each pCPU
    dropped: int = 0  # series left out (past a bound)
    tinkoff_uuids: dict[str, str] = field(default_factory=dict)  # Tinkoff: domain name -> UUID (its meta series)


def domain_key(labels: dict[str, str], tinkoff_uuids: dict[str, str]) -> tuple[str, str] | None:
    """(key, name): the ``uuid`` label, else the UUID Tinkoff's meta series gives, else ``name:<domain>``
    (inovex labels only names: a domain re-created under its name has no rate across the change)."""
    name = labels.get("domain")
    if name is None:
        return None
    uuid = labels.get("uuid") or tinkoff_uuids.get(name)  # an aggregate's missing label is ""
    return (uuid if uuid else f"name:{name}"), name


def gather(dialect: str, series: Iterable[Series]) -> Target:
    """A target's raw series (each with its ``__name__``), filed by figure."""
    return gather_rows(dialect, ((s.name, s.labels, dict(s.samples)) for s in series))


Row = tuple[str, dict[str, str], Values]  # (metric name, labels, scrape time -> value)


def gather_rows(dialect: str, rows: Iterable[Row]) -> Target:
    """File each row under its domain (or the host) by figure (Tinkoff's meta rows first)."""
    target = Target(dialect)
    meta = NAMES[dialect].name_of.get("meta")
    rows = list(rows)
    file_rows(target, [r for r in rows if r[0] == meta])
    file_rows(target, [r for r in rows if r[0] != meta])
    return target


def file_rows(target: Target, rows: Iterable[Row]) -> None:
    """File rows under their domains (or the host) by figure; Tinkoff's meta rows only name UUIDs (file them
    before the rows they name)."""
    figure_of, domains, tinkoff = NAMES[target.dialect].figure_of, target.domains, target.tinkoff_uuids
    for name, labels, values in rows:  # per series: the common case inline (10,000s a tick)
        figure = figure_of.get(name)
        if figure is None or figure == "meta":
            if figure == "meta" and target.dialect == TINKOFF and "domain" in labels and labels.get("uuid"):
                tinkoff[labels["domain"]] = labels["uuid"]
            continue
        dom_name = labels.get("domain")
        if dom_name is None:
            _place_host(target, figure, labels, values)
            continue
        uuid = labels.get("uuid") or tinkoff.get(dom_name)  # as domain_key()
        key = uuid if uuid else f"name:{dom_name}"
        dom = domains.get(key)
        if dom is None:
            if len(domains) >= MAX_DOMAINS:
                target.dropped += 1
                continue
            dom = domains[key] = Domain(key, dom_name)
        if figure in _PLAIN:
            dom.figures[figure] = values
        elif not _place(dom, figure, labels, values):
            target.dropped += 1


# figures filed as they are under the domain (no device, vCPU or info labels)
_PLAIN = frozenset({"cpu_s", "state", "vcpus", "vcpus_max", "mem_bytes", "maxmem_bytes", "rss_bytes", "stale"})


def _place_host(target: Target, figure: str, labels: dict[str, str], values: Values) -> None:
    if figure == "pcpu_busy_s":
        number = labels.get("pcpu", "")
        if number.isdecimal() and int(number) < MAX_CPUS:
            target.pcpus[int(number)] = values
    elif figure == "scrape_error":
        target.host_infos.setdefault(figure, []).append((labels, values))
    else:
        target.host[figure] = values


def info_at(infos: list[tuple[dict[str, str], Values]], t: float, label: str) -> str | None:
    """``label`` of the info series present at ``t`` (None: none was)."""
    return next((labels.get(label) for labels, values in infos if t in values), None)


def _place(dom: Domain, figure: str, labels: dict[str, str], values: Values) -> bool:
    """File one series under its domain; False when it is past a bound or lacks its device label."""
    if figure in PER_VCPU:
        number = labels.get("vcpu", "")
        if not number.isdecimal() or int(number) >= MAX_VCPUS:
            return False
        dom.vcpus.setdefault(int(number), {})[figure] = values
        return True
    if figure in PER_BLOCK or figure in PER_NET:
        devices = dom.blocks if figure in PER_BLOCK else dom.nets
        device = labels.get("target_device")
        if device is None or (device not in devices and len(devices) >= MAX_DEVICES):
            return False
        devices.setdefault(device, {})[figure] = values
        if figure in PER_BLOCK and labels.get("source_file"):
            dom.paths[device] = labels["source_file"]
        return True
    if figure == "info":
        dom.infos.append((labels, values))
    else:
        dom.figures[figure] = values
    return True


def value_at(values: Values | None, t: float) -> float | None:
    if values is None:
        return None
    v = values.get(t)
    return v if v is not None and math.isfinite(v) and v >= 0 else None


_LIMIT = 2.0**64  # exactly 2**64: a counter's bound


def _int(values: Values | None, t: float, scale: float = 1.0) -> int | None:
    """The value at ``t`` times ``scale``, rounded; None when absent, not finite, negative or past 64 bits."""
    v = values.get(t) if values is not None else None
    if v is None:
        return None
    v *= scale
    return round(v) if 0 <= v < _LIMIT else None  # NaN and infinities fail both tests


def _kib(values: Values | None, t: float) -> int | None:
    v = _int(values, t)
    return None if v is None else v // 1024


def domain_at(dom: Domain, t: float, host: str) -> DomainSample | None:
    """The domain as scraped at ``t`` (None when that scrape did not have it)."""
    f = dom.figures
    get = f.get
    cpu, state = get("cpu_s"), get("state")
    if value_at(cpu, t) is None and value_at(state, t) is None:
        return None
    vcpus = tuple(VcpuSample(n, time_ns=_int(v.get("vcpu_time_s"), t, NS_PER_S),
                             delay_ns=_int(v.get("vcpu_delay_s"), t, NS_PER_S), pcpu=_int(v.get("vcpu_pcpu"), t))
                  for n, v in sorted(dom.vcpus.items())) if dom.vcpus else ()
    blocks = tuple(BlockSample(name, path=dom.paths.get(name, ""), rd_reqs=_int(v.get("blk_rd_reqs"), t),
                               rd_bytes=_int(v.get("blk_rd_bytes"), t), wr_reqs=_int(v.get("blk_wr_reqs"), t),
                               wr_bytes=_int(v.get("blk_wr_bytes"), t), errors=_int(v.get("blk_errors"), t),
                               oo_reqs=_int(v.get("blk_oo_reqs"), t))
                   for name, v in sorted(dom.blocks.items())) if dom.blocks else ()
    nets = tuple(NetSample(name, rx_bytes=_int(v.get("net_rx_bytes"), t), rx_packets=_int(v.get("net_rx_packets"), t),
                           rx_errs=_int(v.get("net_rx_errs"), t), rx_drop=_int(v.get("net_rx_drop"), t),
                           tx_bytes=_int(v.get("net_tx_bytes"), t), tx_packets=_int(v.get("net_tx_packets"), t),
                           tx_errs=_int(v.get("net_tx_errs"), t), tx_drop=_int(v.get("net_tx_drop"), t))
                 for name, v in sorted(dom.nets.items())) if dom.nets else ()
    domid = flags = None
    if dom.infos:
        domid, flags = info_at(dom.infos, t, "domid"), info_at(dom.infos, t, "flags")
    stale = get("stale")
    return DomainSample(
        uuid=dom.uuid, name=dom.name, domid=int(domid) if domid and domid.isdecimal() and len(domid) < 10 else None,
        flags=flags if flags is not None and len(flags) == 6 and set(flags) <= set("dsbcpr-") else None,
        stale="its exporter's figures are old" if stale is not None and value_at(stale, t) == 1 else "",
        state=state_of(value_at(state, t)),
        cpu_ns=_int(cpu, t, NS_PER_S), vcpus_current=_int(get("vcpus"), t),
        vcpus_max=_int(get("vcpus_max"), t), mem_kib=_kib(get("mem_bytes"), t),
        maxmem_kib=_kib(get("maxmem_bytes"), t), rss_kib=_kib(get("rss_bytes"), t),
        vcpus=vcpus, nets=nets, blocks=blocks, host=host)


def raw_at(target: Target, t: float, host_sample: HostSample, name: str, notices: tuple[str, ...]) -> RawSample:
    """The target's scrape at ``t`` as a RawSample whose clock is the scrape's own time."""
    domains = tuple(d for d in (domain_at(dom, t, name) for dom in target.domains.values()) if d is not None)
    errors = (f"{target.dropped} series past a bound left out",) if target.dropped else ()
    busy = [_int(target.pcpus.get(n), t, NS_PER_S) for n in range(len(target.pcpus))]
    pcpu_busy_ns = tuple(b for b in busy if b is not None) if busy and None not in busy else None
    return RawSample(monotonic=t, wall=t, host=host_sample, domains=domains, errors=errors, notices=notices,
                     pcpu_busy_ns=pcpu_busy_ns)


def history_points(cpu: list[Series], when: list[Series], mem: list[Series]) -> list[HistoryPoint]:
    """Points at each step of a query_range: the CPU counter's rate between the real scrape times
    (``timestamp()``) of consecutive steps' values; memory as it was."""
    values = dict(cpu[0].samples) if cpu else {}
    stamps = dict(when[0].samples) if when else {}
    memory = dict(mem[0].samples) if mem else {}
    out: list[HistoryPoint] = []
    last: tuple[float, float] | None = None  # (scrape time, counter)
    for step in sorted(values.keys() | memory.keys()):
        pct = None
        value, stamp = values.get(step), stamps.get(step)
        if _fine(value) and _fine(stamp):
            if last is not None and stamp > last[0]:
                rate = counter_rate(round(last[1] * NS_PER_S), round(value * NS_PER_S), stamp - last[0])
                pct = None if rate is None else 100.0 * rate / NS_PER_S
            last = (stamp, value)
        m = memory.get(step)
        out.append(HistoryPoint(step, pct, int(m) // 1024 if _fine(m) else None))
    return out


def _fine(v: float | None) -> TypeGuard[float]:
    """A value a figure can come from: finite, not negative, within a 64-bit counter."""
    return v is not None and math.isfinite(v) and 0 <= v < 2**64
