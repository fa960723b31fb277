"""Prometheus as a fleet source: ``-c prometheus+http://HOST:9090`` shows every libvirt exporter it scrapes.

Each collect() asks, several at once (Prometheus evaluates them on its own cores) within one deadline, every
query evaluated at one time ``T``: the libvirt targets' newest finished scrape (``lastScrape``), held before any
scrape begun since (``ov.evaluation_time``: one in flight could land between two queries) - all answers are of
the same scrapes (now - 1 s without a targets API):

1. ``/api/v1/targets`` - each target's scrape interval, last error and scrape duration (optional: Mimir);
2. ``up`` - the targets, and which failed their last scrape (their host is DOWN, with Prometheus's reason);
3. ``group by (job, instance, __name__)`` over the dialects' marker names - which dialect each target speaks;
4. the exporters' own ``libvirt_up``/``xentui_up`` raw over 3 intervals: each target's scrape times;
5. one instant query per metric name: ``max by (job, instance, uuid, domain[, target_device]) (NAME)`` - the
   newest value of each domain's (device's) series with only the labels xentui keys on (overview.py); past
   DETAIL_DOMAINS, the gauges only an admin changes (maximum memory, vCPUs: ``ov.RARE``) every ``ov.RARE_S``
   and on the tick after a domain appears, their last answers standing between;
6. node_exporter's pCPU count and memory, where it runs.

``cur`` is each target's newest scrape; ``prev`` is the scrape of it read the tick before (its real scrape
time: the rate spans exactly the time between the two, as libvirt's between two polls); when there is none
(the first tick, a target back from DOWN) each counter's ``idelta(NAME[W])`` gives its value at the scrape
before, exactly (a target's series share their scrape times); a big fleet's first tick skips it (it would
double the tick): its rates come with the second tick, as a libvirt host's.  Both go through the one rate model
(``build_snapshot``).  Per-vCPU series, the per-device error and drop counters (no column sums them) and packets
and requests (no default column) are read for every domain while the fleet has at most DETAIL_DOMAINS; past
that they are unknown (``-``) except for the domain whose vCPUs are shown (``set_interest``) and the one
whose history was asked (the detail opened): its raw series over 3 intervals, right when opened.

Why: the raw samples of every series (the tick before this design: ``{__name__=~"..."}[W]``, 510,000 samples
with every label at 10,000 domains, 54 MiB of JSON) took 14 s a tick at 10,000 domains, two thirds of it
Python handling per-sample objects; one value per series with four or five labels is ~5 times fewer bytes,
parsed in one lean pass (bench/RESULTS.md, "Scale").

``behind_s`` is now minus the newest scrape.  Figures an exporter lacks stay unknown; the host's pCPUs and
memory come from node_exporter on the same address when Prometheus scrapes one, else unknown (0).  Read-only.
"""

from __future__ import annotations

import itertools
import math
import time
from concurrent.futures import Future, as_completed
from dataclasses import dataclass
from functools import partial
from typing import Any

from xentui.model import HostPart, HostSample, HostState, RawSample
from xentui.sources.base import HistoryPoint, Source, SourceError
from xentui.sources.prometheus import overview as ov
from xentui.sources.prometheus.assemble import Target, gather, history_points, info_at, raw_at, value_at
from xentui.sources.prometheus.client import Client, Refused, Series, api_base
from xentui.sources.prometheus.dialects import NAMES, NODE_FACTS, NODE_MEM_AVAILABLE, NODE_MEM_TOTAL, XENTUI, detect
from xentui.threads import Worker

DEFAULT_INTERVAL_S = 15.0  # Prometheus's default scrape interval, when /api/v1/targets does not say
MAX_TICK_S = 60.0  # a tick's deadline, at the longest delays
HISTORY_POINTS = 600  # at most this many points in one history() answer
QUERIES_AT_ONCE = 6  # a tick's queries in flight together
MARGIN_S = 1.0  # without /api/v1/targets, a tick reads Prometheus as it was this long ago (every scrape stored)
DETAIL_DOMAINS = 500  # up to this many domains, every tick reads every figure of every domain
DETAIL_TARGETS = 10  # before the first tick: as many as this many targets are taken for a small fleet
RECENT = 12  # the scrape read last tick serves as the previous one while at most this many intervals older


@dataclass
class _Known:
    """What the source remembers of a host between ticks (a DOWN host keeps its last rows)."""

    job: str
    instance: str
    dialect: str
    part: HostPart
    selectors: dict[str, dict[str, str]]  # domain uuid -> the labels that pick its series


def _address(instance: str) -> str:
    """``host:port`` -> ``host`` (``[::1]:9177`` -> ``[::1]``)."""
    host, sep, port = instance.rpartition(":")
    return host if sep and port.isdecimal() else instance


class PrometheusSource(Source):
    """Every libvirt exporter one Prometheus scrapes, as a fleet: one host per target."""

    CAN_ACT = False
    KEEPS_HISTORY = True

    def __init__(self, uri: str, *, basic_auth: tuple[str, str] | None = None, bearer_token: str | None = None,
                 timeout_s: float = 5.0) -> None:
        self.uri = uri
        self.readonly = True
        self._client = Client(api_base(uri), basic_auth=basic_auth, bearer_token=bearer_token, timeout_s=timeout_s)
        self._least_timeout_s = timeout_s
        self._known: dict[tuple[str, str], _Known] = {}
        self._interval_s = DEFAULT_INTERVAL_S
        self._newest: float | None = None  # the libvirt targets' newest scrape's start (/api/v1/targets)
        self._seen: int | None = None  # domains in the last tick
        self._asked_previous: set[tuple[str, str]] = set()  # targets whose counters' idelta this tick asked
        self._interest: str | None = None  # the domain whose vCPUs are shown (set_interest)
        self._opened: str | None = None  # the domain whose history was last asked (the detail opened)
        self._rare = ov.Rare()  # at scale: gauges read every RARE_S
        # daemon threads (a ThreadPoolExecutor's are joined at exit); each request has its deadline
        self._workers = [Worker(f"prometheus-{i}") for i in range(QUERIES_AT_ONCE)]
        self._next = itertools.cycle(self._workers)

    def set_delay(self, delay_s: float) -> None:
        """A tick's deadline follows the delay (never under the one it was made with, at most 60 s): a tick of
        6 s at a 15 s delay is answered, not refused."""
        self._client.timeout_s = max(self._least_timeout_s, min(delay_s, MAX_TICK_S))

    def close(self) -> None:
        for worker in self._workers:
            worker.shutdown()
        self._client.close()

    def reachable(self) -> bool | None:
        try:
            self._client.query("vector(1)")
        except SourceError:
            return False
        return True

    def set_interest(self, uuid: str | None, all_pcpus: bool = False) -> None:
        """The domain whose vCPUs are shown (``HOST/UUID`` or a bare UUID): its every series is read."""
        self._interest = uuid.rpartition("/")[2] if uuid else None

    def collect(self) -> RawSample:
        with ov.collector_paused():
            return self._collect()

    def _collect(self) -> RawSample:
        now, deadline = time.time(), self._client.deadline()  # the tick's requests share one deadline
        targets, notices = self._targets(deadline)
        at = min(now, self._newest) if self._newest is not None else now - MARGIN_S  # all queries: one time
        window_ms = round(max(1.0, 3 * self._interval_s) * 1000)
        query, ask = self._client.query, self._ask  # Prometheus answers several queries at once, on its own cores
        up_f = ask(query, "up", at, deadline)
        stamps_f = ask(query, ov.stamps_query(window_ms), at, deadline)
        facts_f = ask(self._node_facts, at, deadline)
        presence_f = ask(self._vector, ov.PRESENCE, at, deadline)
        # the figures of the dialects the last tick saw, asked at once; those of a new dialect once it is seen
        early = ov.overview_names({k.dialect for k in self._known.values()},
                                  detail=self._seen is not None and self._seen < DETAIL_DOMAINS)
        skipped = self._rare.skip(early, now, detail=self._seen is None or self._seen < DETAIL_DOMAINS)
        answers = {n: ask(self._vector, ov.query_of(n, f), at, deadline) for n, f in early.items() if n not in skipped}
        presence = ov.presence(presence_f.result())
        dialects = {k: d for k, names in presence.items() if (d := detect(names))}
        for key, known in self._known.items():
            dialects.setdefault(key, known.dialect)
        stamps: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for s in stamps_f.result():
            key = (s.labels.get("job", ""), s.labels.get("instance", ""))
            stamps.setdefault(key, []).extend(s.samples)  # (scrape time, the exporter's health)
        scrapes = {k: ov.last_two(times) for k, times in stamps.items()}
        # every figure of every domain while the fleet is small; at scale, those of the domains looked at
        seen = self._seen if self._seen is not None else (0 if len(dialects) <= DETAIL_TARGETS else DETAIL_DOMAINS)
        names = ov.overview_names(set(dialects.values()), detail=seen < DETAIL_DOMAINS)
        # the scrape before, for targets without one read earlier; not on a big fleet's first tick (its
        # answer would double it, past the deadline: the rates come with the second tick, as libvirt's)
        fresh = {k for k in dialects if self._needs_previous(k, scrapes.get(k, (None, None)))
                 and (seen < DETAIL_DOMAINS or self._seen is not None)}
        self._asked_previous = fresh
        skipped &= names.keys()
        answers.update({n: ask(self._vector, ov.query_of(n, f), at, deadline) for n, f in names.items()
                        if n not in answers and n not in skipped})
        deltas = {n: ask(self._vector, self._delta_query(n, f, window_ms, fresh, dialects), at, deadline)
                  for n, f in names.items() if f in ov.COUNTERS and fresh}
        detail = {k: ask(query, f"{sel}[{window_ms}ms]", at, deadline) for k, sel in self._wanted().items()}
        up = {(s.labels.get("job", ""), s.labels.get("instance", "")): s.samples[-1][1] for s in up_f.result()}
        gathered = {k: Target(d) for k, d in dialects.items() if scrapes.get(k, (None, None))[1] is not None}
        per_name = self._file(answers, gathered, scrapes, {n for n, f in names.items() if f in ov.RARE})
        self._rare.took(names, per_name, skipped, now)
        for n in skipped:  # the kept answers stand for this tick's scrape
            ov.file_answer(n, per_name[n], gathered, scrapes)
        per_delta = {n: f.result() for n, f in deltas.items()}
        shown = {k: f.result() for k, f in detail.items()}
        facts = facts_f.result()
        parts: list[HostPart] = []
        libvirt_now = set(presence) & set(dialects)
        hosts = self._names(set(up) | libvirt_now, libvirt_now)
        for key, name in hosts.items():
            dialect = dialects.get(key)
            target = None
            prev_t, cur_t = scrapes.get(key, (None, None))
            if dialect is not None and cur_t is not None:
                target = self._target(key, gathered[key], per_delta, shown, prev_t, cur_t, bool(skipped))
            part = self._part(key, name, up.get(key), targets.get(key, {}), dialect, target, (prev_t, cur_t),
                              facts, now)
            if part is not None:
                parts.append(part)
        self._known = {k: v for k, v in self._known.items() if k in hosts}  # a target no longer scraped: forgotten
        if not parts:
            notices = (f"Prometheus at {self._client.base} scrapes no libvirt exporter (no libvirt_* or xentui_* "
                       "series, no job named libvirt or xentui)", *notices)
        behind = [p.behind_s for p in parts if p.state is HostState.UP and p.behind_s is not None]
        if behind:
            notices = (f"Prometheus, {max(behind):.0f} s behind", *notices)
        domains = tuple(d for p in parts if p.cur is not None for d in p.cur.domains)
        self._seen = len(domains)
        host = HostSample(hostname=self._client.base, hypervisor="Prometheus", hypervisor_version="", uri=self.uri,
                          pcpus=0, mhz=0, mem_total_kib=0, mem_free_kib=0)
        return RawSample(monotonic=time.monotonic(), wall=now, host=host, domains=domains, notices=notices,
                         parts=tuple(parts))

    def _ask(self, call: Any, *args: Any) -> Future[Any]:
        return next(self._next).submit(partial(call, *args))

    def _vector(self, promql: str, at: float, deadline: float) -> dict[tuple[str, str], ov.Pairs]:
        return ov.vector(self._client.get("/api/v1/query", {"query": promql, "time": f"{at:.3f}"}, deadline),
                         self._client.base)

    def _needs_previous(self, key: tuple[str, str], scrapes: tuple[float | None, float | None]) -> bool:
        """True when xentui holds no scrape of the target shortly before its newest (first tick, back from
        DOWN): its counters' previous values are then asked (``idelta``)."""
        known = self._known.get(key)
        last = known.part.cur if known is not None and known.part.state is HostState.UP else None
        prev_t, cur_t = scrapes
        if cur_t is None or prev_t is None:
            return False
        return last is None or not cur_t - RECENT * self._interval_s <= last.monotonic <= cur_t

    def _delta_query(self, name: str, figure: str, window_ms: int, fresh: set[tuple[str, str]],
                     dialects: dict[tuple[str, str], str]) -> str:
        if len(fresh) == len(dialects):
            return ov.delta_query(name, figure, window_ms)
        only = f"{name}{{instance=~{ov.quoted(ov.instance_regex(k[1] for k in fresh))}}}"
        return ov.delta_query(only, figure, window_ms)

    def _wanted(self) -> dict[tuple[tuple[str, str], str], str]:
        """(target, domain key) -> the selector of every series of a domain someone looks at."""
        out = {}
        for uuid in {self._interest, self._opened} - {None}:
            for key, known in list(self._known.items()):
                if uuid in known.selectors:
                    out[(key, uuid)] = f"{{{ov.selector(known.selectors[uuid])}}}"
        return out

    def _file(self, answers: dict[str, Future[Any]], gathered: dict[tuple[str, str], Target],
              scrapes: dict[tuple[str, str], tuple[float | None, float | None]], kept: set[str]) -> dict[str, Any]:
        """Each figure answer filed under its targets as it comes, while Prometheus evaluates the others (Tinkoff's
        meta series first: they name the UUIDs its other series lack); the answers of the names in ``kept`` (the
        RARE ones, kept for the ticks that skip them), by name.  The others go once filed: at 10,000 domains each is
        ~10,000 label dicts, and holding every one until the tick ends set the monitor's resident memory."""
        meta, per_name = ov.TINKOFF_META, {}
        if meta in answers:
            ov.file_answer(meta, answers.pop(meta).result(), gathered, scrapes)
        name_of = {f: n for n, f in answers.items()}
        answers.clear()  # (the futures hold their answers: only as_completed's own references are left)
        for future in as_completed(name_of):
            n = name_of.pop(future)
            answer = future.result()
            ov.file_answer(n, answer, gathered, scrapes)
            if n in kept:
                per_name[n] = answer
        return per_name

    def _target(self, key: tuple[str, str], target: Target, per_delta: dict[str, Any],
                shown: dict[tuple[tuple[str, str], str], list[Series]], prev_t: float | None, cur_t: float,
                skipped: bool) -> Target:
        """One target's figures at its newest scrape (and, for counters asked so, the one before)."""
        figure_of = NAMES[target.dialect].figure_of
        self._rare.saw(key, target.domains, skipped)
        if prev_t is not None:
            for n, table in per_delta.items():
                if n in figure_of:
                    ov.add_previous(target, figure_of[n], table.get(key, ()), prev_t, cur_t)
        for (k, uuid), series in shown.items():
            if k == key and (whole := gather(target.dialect, series).domains.get(uuid)) is not None:
                target.domains[uuid] = whole  # every figure of the domain looked at, at both scrapes
        return target

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
        intervals = {k: s for k, t in out.items() if (s := ov.seconds(t.get("scrapeInterval"))) is not None}
        ours = [s for k, s in intervals.items() if self._libvirt(k)]
        self._newest = ov.evaluation_time((e, intervals.get(k, 0.0) if t.get("health") == "up" else 0.0)
                                          for k, t in out.items() if self._libvirt(k)
                                          and (e := ov.instant(t.get("lastScrape"))) is not None)
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

    def _node_facts(self, at: float, deadline: float) -> dict[str, dict[str, float]]:
        """node_exporter's facts by address (its own scrape interval: the newest values, not the window)."""
        facts: dict[str, dict[str, float]] = {}
        for s in self._client.query(NODE_FACTS, at, deadline):
            facts.setdefault(_address(s.labels.get("instance", "")), {})[s.name or "cpus"] = s.samples[-1][1]
        return facts

    def _part(self, key: tuple[str, str], name: str, up: float | None, target: dict[str, Any],
              dialect: str | None, gathered: Target | None, scrapes: tuple[float | None, float | None],
              facts: dict[str, dict[str, float]], now: float) -> HostPart | None:
        job, instance = key
        known = self._known.get(key)
        uri = str(target.get("scrapeUrl") or f"{job}/{instance}")
        if up != 1:
            reason = " ".join(str(target.get("lastError") or "").split())[:300]
            why = reason or ("its last scrape failed" if up == 0 else "Prometheus no longer scrapes it")
            return self._down(key, name, uri, why)
        if dialect is None:
            return self._down(key, name, uri, "its exporter has no libvirt series")
        prev_t, cur_t = scrapes
        if gathered is None or cur_t is None:
            return self._down(key, name, uri, f"no samples in the last {3 * self._interval_s:g} s", HostState.STALE)
        if value_at(gathered.host.get("up"), cur_t) == 0:
            if dialect == XENTUI:  # it served its newest sample, not a fresh one
                said = info_at(gathered.host_infos.get("scrape_error", []), cur_t, "reason")
                return self._down(key, name, uri, " ".join((said or "xentui export: no fresh sample").split())[:300],
                                  HostState.STALE)
            return self._down(key, name, uri, "its exporter cannot reach libvirt (libvirt_up 0)")
        behind = max(0.0, now - cur_t)
        notice = (f"Prometheus, {behind:.0f} s behind",)
        host = self._host_sample(name, uri, dialect, {**facts.get(_address(instance), {}),
                                                      **_own_facts(gathered, cur_t)})
        cur = raw_at(gathered, cur_t, host, name, notice)
        last = known.part if known is not None and known.part.state is HostState.UP else None
        if last is not None and last.cur is not None and last.cur.monotonic == cur_t:
            prev = last.prev  # no newer scrape since the last tick: the same two scrapes
        elif key in self._asked_previous and prev_t is not None:
            prev = raw_at(gathered, prev_t, host, name, notice)
        elif last is not None and last.cur is not None and not self._needs_previous(key, scrapes):
            prev = last.cur  # the scrape xentui read before: the rate spans the real time between the two
        else:
            prev = None
        part = HostPart(name, HostState.UP, uri=uri, prev=prev, cur=cur, behind_s=behind)
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
        self._opened = uuid  # the detail is open on it: its every series is read from the next tick
        hosts = list(self._known.values())  # one C call: safe while collect() adds to it in its own thread
        known = next((k for k in hosts if k.part.name == host and uuid in k.selectors), None)
        if known is None:
            return []
        labels = known.selectors[uuid]
        names = NAMES[known.dialect].name_of
        end = time.time()
        start = end - max(1.0, seconds)
        step = max(self._interval_s, (end - start) / HISTORY_POINTS)
        sel, deadline = ov.selector(labels), time.monotonic() + self._least_timeout_s  # not a slow tick's 60 s
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
    return {uuid: ov.domain_labels(job, instance, uuid, dom.name) for uuid, dom in target.domains.items()}
