"""Prometheus as a fleet source: ``-c prometheus+http://HOST:9090`` shows every libvirt exporter it scrapes.

Each collect() asks four things, HTTP GETs that share one deadline, ``timeout_s`` from the tick's start:

1. ``/api/v1/targets`` - each target's scrape interval and last error (optional: Mimir has none);
2. ``up`` - the targets, and which failed their last scrape (their host is DOWN, with Prometheus's reason);
3. ``{__name__=~"<every name in the dialect table>"}[W]`` with W = 3 scrape intervals - the raw samples of
   the last two or three scrapes of every series, with their real scrape times;
4. node_exporter's pCPU count and memory, where it runs (newest values: its interval is its own).

Why raw samples rather than ``rate()``: every rate xentui shows is made by its one rate model
(``build_snapshot``), the same for Prometheus as for libvirt; each host's ``prev``/``cur`` are its last two
scrapes, dated by their scrape times, so the window is exactly one scrape interval, as ``irate()``'s.  It
costs next to nothing more: the cost is per series (labels), not per sample.  Measured here with
``python -m tests.prometheus.measure_tick --hosts 20 --domains 50`` (Prometheus 2.42 scraping 20 made-up
kumina exporters every second, 1000 domains, 17 series each; 2 cores at load 7): the matrix of the last 3
scrapes took 625 ms to fetch and parse, the newest value alone (an instant vector) 848 ms; Prometheus's own
share 374 ms; 5.6 MiB; the whole tick 1.36 s (median of 10).  So one source handles a few thousand domains
at a 5 s delay; 10,000 would need the answer (~57 MiB, near the 64 MiB bound) split per job or host.

Gauges (memory, vCPUs, state) come from the same scrapes.  ``behind_s`` is now minus the newest scrape.
Figures an exporter lacks stay unknown; the host's pCPUs and memory come from node_exporter on the same
address when Prometheus scrapes one, else they are unknown (0).  Read-only: no actions.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any, TypeGuard

from xentui.model import NS_PER_S, HostPart, HostSample, HostState, RawSample
from xentui.model.rates import counter_rate
from xentui.sources.base import HistoryPoint, Source, SourceError
from xentui.sources.prometheus.assemble import Target, gather, info_at, raw_at, value_at
from xentui.sources.prometheus.client import Client, Refused, Series, api_base
from xentui.sources.prometheus.dialects import (
    EVERY_NAME,
    NAMES,
    NODE_FACTS,
    NODE_MEM_AVAILABLE,
    NODE_MEM_TOTAL,
    XENTUI,
    detect,
)

DEFAULT_INTERVAL_S = 15.0  # Prometheus's default scrape interval, when /api/v1/targets does not say
HISTORY_POINTS = 600  # at most this many points in one history() answer


@dataclass
class _Known:
    """What the source remembers of a host between ticks (a DOWN host keeps its last rows)."""

    job: str
    instance: str
    dialect: str
    part: HostPart
    selectors: dict[str, dict[str, str]]  # domain uuid -> the labels that pick its series


def _selector(labels: dict[str, str]) -> str:
    """PromQL label matchers; every value is quoted as data (json.dumps' escapes are PromQL's)."""
    return ",".join(f"{k}={_quoted(v)}" for k, v in sorted(labels.items()))


def _quoted(value: str) -> str:
    """``value`` as a PromQL string; a lone surrogate (no UTF-8 can carry it) as a ``\\u`` escape."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def _seconds(text: Any) -> float | None:
    """A Prometheus duration such as ``15s``, ``1m``, ``500ms`` in seconds (None when it is not one)."""
    if not isinstance(text, str) or not 1 < len(text) <= 16:
        return None
    for unit, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        number = text.removesuffix(unit)
        if number != text and number.isdecimal():
            return int(number) * scale
    return None


def _address(instance: str) -> str:
    """``host:port`` -> ``host`` (``[::1]:9177`` -> ``[::1]``)."""
    host, sep, port = instance.rpartition(":")
    return host if sep and port.isdecimal() else instance


class PrometheusSource(Source):
    """Every libvirt exporter one Prometheus scrapes, as a fleet: one host per target."""

    CAN_ACT = False

    def __init__(self, uri: str, *, basic_auth: tuple[str, str] | None = None, bearer_token: str | None = None,
                 timeout_s: float = 5.0) -> None:
        self.uri = uri
        self.readonly = True
        self._client = Client(api_base(uri), basic_auth=basic_auth, bearer_token=bearer_token, timeout_s=timeout_s)
        self._known: dict[tuple[str, str], _Known] = {}
        self._interval_s = DEFAULT_INTERVAL_S

    def close(self) -> None:
        self._client.close()

    def reachable(self) -> bool | None:
        try:
            self._client.query("vector(1)")
        except SourceError:
            return False
        return True

    def collect(self) -> RawSample:
        now, deadline = time.time(), self._client.deadline()  # the tick's requests share one deadline
        targets, notices = self._targets(deadline)
        up = {(s.labels.get("job", ""), s.labels.get("instance", "")): s.samples[-1][1]
              for s in self._client.query("up", deadline=deadline)}
        window = max(1.0, 3 * self._interval_s)
        regex = "|".join(EVERY_NAME)
        by_target: dict[tuple[str, str], list[Series]] = {}
        for s in self._client.query(f'{{__name__=~"{regex}"}}[{round(window * 1000)}ms]', now, deadline):
            by_target.setdefault((s.labels.get("job", ""), s.labels.get("instance", "")), []).append(s)
        facts = self._node_facts(deadline)
        parts: list[HostPart] = []
        libvirt_now = {k for k, series in by_target.items() if detect({s.name for s in series})}
        names = self._names(set(up) | libvirt_now, libvirt_now)
        for key, name in names.items():
            part = self._part(key, name, up.get(key), targets.get(key, {}), by_target.get(key, []), facts, now)
            if part is not None:
                parts.append(part)
        self._known = {k: v for k, v in self._known.items() if k in names}  # a target no longer scraped: forgotten
        if not parts:
            notices = (f"Prometheus at {self._client.base} scrapes no libvirt exporter (no libvirt_* or xentui_* "
                       "series, no job named libvirt or xentui)", *notices)
        behind = [p.behind_s for p in parts if p.state is HostState.UP and p.behind_s is not None]
        if behind:
            notices = (f"Prometheus, {max(behind):.0f} s behind", *notices)
        domains = tuple(d for p in parts if p.cur is not None for d in p.cur.domains)
        host = HostSample(hostname=self._client.base, hypervisor="Prometheus", hypervisor_version="", uri=self.uri,
                          pcpus=0, mhz=0, mem_total_kib=0, mem_free_kib=0)
        return RawSample(monotonic=time.monotonic(), wall=now, host=host, domains=domains, notices=notices,
                         parts=tuple(parts))

    def _targets(self, deadline: float) -> tuple[dict[tuple[str, str], dict[str, Any]], tuple[str, ...]]:
        """Each target's entry of /api/v1/targets by (job, instance); sets the scrape interval."""
        try:
            active = self._client.targets(deadline)
        except Refused as err:  # Mimir, Thanos: no targets API; a timeout is no refusal and ends the tick
            return {}, (f"no scrape intervals or errors from Prometheus ({err}): assuming "
                        f"{self._interval_s:g} s",)
        out = {}
        for t in active:
            labels = t.get("labels")
            if isinstance(labels, dict):
                out[(str(labels.get("job", "")), str(labels.get("instance", "")))] = t
        intervals = {k: s for k, t in out.items() if (s := _seconds(t.get("scrapeInterval"))) is not None}
        ours = [s for k, s in intervals.items() if self._libvirt(k)]
        # the libvirt targets' longest; before any is known, the shortest (a slower one's rates wait a tick)
        self._interval_s = max(ours) if ours else min(intervals.values(), default=self._interval_s)
        return out, ()

    def _libvirt(self, key: tuple[str, str]) -> bool:
        return key in self._known or "libvirt" in key[0] or "xentui" in key[0]

    def _names(self, keys: set[tuple[str, str]], libvirt_now: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The libvirt targets (seen with libvirt series, now or before, or in a job named so) and their
        HOST names: the address alone when no other target has it, else ``address:port``."""
        wanted = sorted(k for k in keys if self._libvirt(k) or k in libvirt_now)
        addresses = [_address(instance) for _job, instance in wanted]
        names = [(a if addresses.count(a) == 1 else k[1]) or k[0] for k, a in zip(wanted, addresses, strict=True)]
        # the same instance in two jobs (two exporters on one address:port is impossible; two jobs scraping one is
        # not): job/instance, so every HOST name is unique
        return {k: (f"{k[0]}/{k[1]}" if names.count(n) > 1 else n) for k, n in zip(wanted, names, strict=True)}

    def _node_facts(self, deadline: float) -> dict[str, dict[str, float]]:
        """node_exporter's facts by address (its own scrape interval: the newest values, not the window)."""
        facts: dict[str, dict[str, float]] = {}
        for s in self._client.query(NODE_FACTS, deadline=deadline):
            facts.setdefault(_address(s.labels.get("instance", "")), {})[s.name or "cpus"] = s.samples[-1][1]
        return facts

    def _part(self, key: tuple[str, str], name: str, up: float | None, target: dict[str, Any],
              series: list[Series], facts: dict[str, dict[str, float]], now: float) -> HostPart | None:
        job, instance = key
        known = self._known.get(key)
        dialect = detect({s.name for s in series}) or (known.dialect if known else None)
        uri = str(target.get("scrapeUrl") or f"{job}/{instance}")
        if up != 1:
            reason = " ".join(str(target.get("lastError") or "").split())[:300]
            why = reason or ("its last scrape failed" if up == 0 else "Prometheus no longer scrapes it")
            return self._down(key, name, uri, why)
        if dialect is None:
            return self._down(key, name, uri, "its exporter has no libvirt series")
        gathered = gather(dialect, series)
        prev_t, cur_t = gathered.scrapes()
        if cur_t is not None and value_at(gathered.host.get("up"), cur_t) == 0:
            if dialect == XENTUI:  # it served its newest sample, not a fresh one
                said = info_at(gathered.host_infos.get("scrape_error", []), cur_t, "reason")
                return self._down(key, name, uri, " ".join((said or "xentui export: no fresh sample").split())[:300],
                                  HostState.STALE)
            return self._down(key, name, uri, "its exporter cannot reach libvirt (libvirt_up 0)")
        if cur_t is None:
            return self._down(key, name, uri, f"no samples in the last {3 * self._interval_s:g} s", HostState.STALE)
        behind = max(0.0, now - cur_t)
        notice = (f"Prometheus, {behind:.0f} s behind",)
        host = self._host_sample(name, uri, dialect, {**facts.get(_address(instance), {}),
                                                      **_own_facts(gathered, cur_t)})
        prev = raw_at(gathered, prev_t, host, name, notice) if prev_t is not None else None
        part = HostPart(name, HostState.UP, uri=uri, prev=prev, cur=raw_at(gathered, cur_t, host, name, notice),
                        behind_s=behind)
        self._known[key] = _Known(job, instance, dialect, part, _selectors(gathered, job, instance))
        return part

    def _down(self, key: tuple[str, str], name: str, uri: str, reason: str,
              state: HostState = HostState.DOWN) -> HostPart:
        known = self._known.get(key)
        last = known.part if known else None
        return HostPart(name, state, uri=uri, reason=reason, prev=last.prev if last else None,
                        cur=last.cur if last else None, behind_s=None)

    def _host_sample(self, name: str, uri: str, dialect: str, node: dict[str, float]) -> HostSample:
        def kib(v: float | None) -> int:
            return int(v) // 1024 if v is not None and math.isfinite(v) and 0 <= v < 2**64 else 0

        cpus = node.get("cpus")
        return HostSample(hostname=name, hypervisor="Prometheus", hypervisor_version=f"{dialect} exporter",
                          uri=uri, pcpus=int(cpus) if cpus and 0 < cpus < 1 << 16 else 0, mhz=0,
                          mem_total_kib=kib(node.get(NODE_MEM_TOTAL)), mem_free_kib=kib(node.get(NODE_MEM_AVAILABLE)))

    def history(self, domain_key: str, seconds: float) -> list[HistoryPoint]:
        """A domain's last ``seconds`` from query_range: CPU% (from the counter's real scrape times, by the
        one rate model) and memory.  Blocking, its three requests within one deadline (``timeout_s``): call it
        from a worker thread.  SourceError (one line) when Prometheus fails.  ``domain_key`` is
        DomainSample.key (``HOST/UUID``); [] when the domain is unknown."""
        host, _, uuid = domain_key.rpartition("/")
        hosts = list(self._known.values())  # one C call: safe while collect() adds to it in its own thread
        known = next((k for k in hosts if k.part.name == host and uuid in k.selectors), None)
        if known is None:
            return []
        labels = known.selectors[uuid]
        names = NAMES[known.dialect].name_of
        end = time.time()
        start = end - max(1.0, seconds)
        step = max(self._interval_s, (end - start) / HISTORY_POINTS)
        sel, deadline = _selector(labels), self._client.deadline()
        cpu = self._client.query_range(f"{names['cpu_s']}{{{sel}}}", start, end, step, deadline)
        when = self._client.query_range(f"timestamp({names['cpu_s']}{{{sel}}})", start, end, step, deadline)
        mem = self._client.query_range(f"{names['mem_bytes']}{{{sel}}}", start, end, step, deadline)
        return history_points(cpu, when, mem)


def _own_facts(target: Target, t: float) -> dict[str, float]:
    """The host's size as its exporter says it (xentui export), in node_exporter's terms."""
    own = {"cpus": value_at(target.host.get("host_cpus"), t),
           NODE_MEM_TOTAL: value_at(target.host.get("host_mem_total_bytes"), t),
           NODE_MEM_AVAILABLE: value_at(target.host.get("host_mem_free_bytes"), t)}
    return {k: v for k, v in own.items() if v is not None}


def _selectors(target: Target, job: str, instance: str) -> dict[str, dict[str, str]]:
    """Each domain's series selector: the target's labels plus its ``uuid`` or ``domain`` label."""
    out = {}
    for uuid, dom in target.domains.items():
        own = {"domain": dom.name} if uuid.startswith("name:") else {"uuid": uuid}
        out[uuid] = {"job": job, "instance": instance, **own}
    return out


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
