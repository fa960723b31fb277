"""The fleet overview's PromQL: per-figure instant queries with few labels, and their answers filed per target.

Each metric name the overview needs is one instant query, evaluated by Prometheus at one time ``T`` for every
query of a tick: ``max by (job, instance, uuid, domain[, target_device]) (NAME)`` - the newest value of each
domain's (or device's) series with only the labels xentui keys on (Prometheus drops the rest: paths, bridges,
the name), one sample each instead of the raw samples of several scrapes.  Which names to ask comes from the
dialect each target speaks (``group by (job, instance, __name__)`` over the dialects' marker names).  Per-vCPU
series and the per-device error and drop counters are asked only for the domains someone looks at (a
selector for each: :func:`domain_labels`).  Counters' previous values, when xentui has no earlier scrape of
a target, come from ``idelta(NAME[W])``: exactly the difference to the scrape before.
"""

from __future__ import annotations

import gc
import json
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from xentui.sources.base import SourceError
from xentui.sources.prometheus.assemble import Row, Target, domain_key, file_rows
from xentui.sources.prometheus.client import MAX_LABEL, MAX_LABELS
from xentui.sources.prometheus.dialects import MARKERS, NAMES, PER_BLOCK, PER_NET, PER_VCPU, TABLE, TINKOFF

# Figures read at scale only for the domains looked at: per vCPU, per device the errors and drops (no column
# sums them), and packets and requests (no default column shows them; unknown, "-", for the others).
DETAIL_ONLY = frozenset({*PER_VCPU, "net_rx_errs", "net_rx_drop", "net_tx_errs", "net_tx_drop", "blk_errors",
                         "net_rx_packets", "net_tx_packets", "blk_rd_reqs", "blk_wr_reqs"})
HOST_LEVEL = frozenset({"up", "host_cpus", "host_mem_total_bytes", "host_mem_free_bytes"})
COUNTERS = frozenset({"cpu_s", "vcpu_time_s", "vcpu_delay_s", *PER_BLOCK, *PER_NET, "pcpu_busy_s"})
_DOMAIN = ("job", "instance", "uuid", "domain")
LABELS: dict[str, tuple[str, ...]] = {  # figure -> the labels its query keeps (the rest are dropped)
    **{f: ("job", "instance") for f in HOST_LEVEL},
    "pcpu_busy_s": ("job", "instance", "pcpu"),
    "scrape_error": ("job", "instance", "reason"),
    "info": (*_DOMAIN, "domid", "flags"),
    **{f: (*_DOMAIN, "target_device") for f in (*PER_BLOCK, *PER_NET)},
    **{f: (*_DOMAIN, "vcpu") for f in PER_VCPU},
    "blk_rd_bytes": (*_DOMAIN, "target_device", "source_file"),  # a disk's path, once
}
TINKOFF_META = NAMES[TINKOFF].name_of["meta"]  # its series name the UUIDs Tinkoff's others lack
UP_NAMES = tuple(name for name, _who in TABLE["up"])
PRESENCE = (f'group by (job, instance, __name__) ({{__name__=~"{"|".join(sorted({*MARKERS, *UP_NAMES}))}"}})')


# Gauges that change only when an admin changes the domain: at scale, read every RARE_S, not every tick.
RARE = frozenset({"maxmem_bytes", "vcpus", "vcpus_max"})
RARE_S = 15.0


class Rare:
    """At scale, the RARE figures' answers are kept and stand for the ticks between two reads: a read every RARE_S
    (a change shows within it, as xl's affinity does), and on the tick after a domain the kept answers lack
    appears (its first tick has them unknown, as its rates)."""

    def __init__(self) -> None:
        self.answers: dict[str, dict[tuple[str, str], Pairs]] = {}  # name -> its last answer, by target
        self.domains: dict[tuple[str, str], set[str]] = {}  # target -> the domains that answer had
        self.at: float | None = None  # when every RARE name was last read
        self.due = False  # a domain the kept answers lack was seen

    def skip(self, names: dict[str, str], now: float, detail: bool) -> set[str]:
        """The RARE names this tick does not ask (their kept answers stand)."""
        if detail or self.due or self.at is None or not 0 <= now - self.at < RARE_S:
            return set()
        return {n for n, f in names.items() if f in RARE and n in self.answers}

    def took(self, names: dict[str, str], per_name: dict[str, dict[tuple[str, str], Pairs]], skipped: set[str],
             now: float) -> None:
        """Keeps this tick's RARE answers, or puts the kept ones in ``per_name``."""
        for n, f in names.items():
            if n in skipped:
                per_name[n] = self.answers[n]
            elif f in RARE and n in per_name:
                self.answers[n] = per_name[n]
        if not skipped:
            self.at, self.due, self.domains = now, False, {}

    def saw(self, key: tuple[str, str], domains: Iterable[str], skipped: bool) -> None:
        """A target's domains this tick: remembered when read, else checked against those read."""
        if not skipped:
            self.domains[key] = set(domains)
        elif not self.due and not self.domains.get(key, set()).issuperset(domains):
            self.due = True


def overview_names(dialects: Iterable[str], detail: bool) -> dict[str, str]:
    """metric name -> figure, for every name a tick asks of targets speaking ``dialects`` (with ``detail``,
    the per-vCPU and error figures too)."""
    out: dict[str, str] = {}
    for d in dialects:
        out.update({n: f for n, f in NAMES[d].figure_of.items() if detail or f not in DETAIL_ONLY})
    return out


def query_of(name: str, figure: str) -> str:
    return f"max by ({', '.join(LABELS.get(figure, _DOMAIN))}) ({name})"


def delta_query(name: str, figure: str, window_ms: int) -> str:
    """The difference between each series' last two scrapes (a reset: negative, so no rate)."""
    return f"max by ({', '.join(LABELS.get(figure, _DOMAIN))}) (idelta({name}[{window_ms}ms]))"


def stamps_query(window_ms: int) -> str:
    """The exporters' own ``up`` series, raw: each target's scrape times within the window, and its health."""
    return f'{{__name__=~"{"|".join(UP_NAMES)}"}}[{window_ms}ms]'


def quoted(value: str) -> str:
    """``value`` as a PromQL string; a lone surrogate (no UTF-8 can carry it) as a ``\\u`` escape."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def selector(labels: dict[str, str]) -> str:
    """PromQL label matchers; every value is quoted as data (json.dumps' escapes are PromQL's)."""
    return ",".join(f"{k}={quoted(v)}" for k, v in sorted(labels.items()))


def domain_labels(job: str, instance: str, key: str, name: str) -> dict[str, str]:
    """The labels that pick every raw series of one domain of one target (a ``name:`` key: inovex's, by its
    name); :func:`selector` makes them PromQL."""
    return {"job": job, "instance": instance, **({"domain": name} if key.startswith("name:") else {"uuid": key})}


Pairs = list[tuple[dict[str, str], float]]  # (labels, value) of an instant vector's series


def vector(data: Any, base: str) -> dict[tuple[str, str], Pairs]:
    """An instant vector's (labels, value) pairs by target (job, instance), in one lean pass; series that
    break a bound are left out."""
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        raise SourceError(f"Prometheus at {base} answered a query with no vector or matrix")
    if not isinstance(data.get("result"), list):
        raise SourceError(f"Prometheus at {base} answered a query with no result list")
    out: dict[tuple[str, str], Pairs] = {}
    for item in data["result"]:
        try:
            labels, text = item["metric"], item["value"][1]
            if type(labels) is not dict or len(labels) > MAX_LABELS or type(text) is not str or len(text) > 64:
                continue
            # one C call each for the usual case (every label short); a TypeError: a value that is no string
            if len("".join(labels.values())) + len("".join(labels)) > MAX_LABEL and not _fair(labels):
                continue
            value = float(text)
        except (TypeError, KeyError, IndexError, ValueError):
            continue
        key = (labels.get("job", ""), labels.get("instance", ""))
        pairs = out.get(key)
        if pairs is None:
            pairs = out[key] = []
        pairs.append((labels, value))
    return out


def _fair(labels: dict[str, str]) -> bool:
    return all(len(k) <= MAX_LABEL and len(v) <= MAX_LABEL for k, v in labels.items())


def rows_at(name: str, pairs: Pairs, t: float) -> Iterable[Row]:
    return ((name, labels, {t: value}) for labels, value in pairs)


def file_answer(name: str, table: dict[tuple[str, str], Pairs], gathered: dict[tuple[str, str], Target],
                scrapes: dict[tuple[str, str], tuple[float | None, float | None]]) -> None:
    """One figure query's answer filed under the targets that speak its name, at each one's newest scrape."""
    for key, pairs in table.items():
        target = gathered.get(key)
        if target is not None and name in NAMES[target.dialect].figure_of:
            file_rows(target, rows_at(name, pairs, scrapes[key][1] or 0.0))


def add_previous(target: Target, figure: str, pairs: Pairs, prev_t: float,
                 cur_t: float) -> None:
    """Each counter's value at the scrape before ``cur_t``: its newest less its ``idelta``."""
    for labels, delta in pairs:
        if figure == "pcpu_busy_s":
            number = labels.get("pcpu", "")
            values = target.pcpus.get(int(number)) if number.isdecimal() and len(number) < 6 else None
            if values is not None and cur_t in values:
                values[prev_t] = values[cur_t] - delta
            continue
        key = domain_key(labels, target.tinkoff_uuids)
        dom = target.domains.get(key[0]) if key else None
        if dom is None:
            continue
        device, vcpu = labels.get("target_device", ""), labels.get("vcpu", "")
        table = (dom.blocks.get(device) if figure in PER_BLOCK else dom.nets.get(device) if figure in PER_NET
                 else dom.vcpus.get(int(vcpu)) if figure in PER_VCPU and vcpu.isdecimal() and len(vcpu) < 6
                 else dom.figures)
        values = None if table is None else table.get(figure)
        if values is not None and cur_t in values:
            values[prev_t] = values[cur_t] - delta


def seconds(text: Any) -> float | None:
    """A Prometheus duration such as ``15s``, ``1m``, ``500ms`` in seconds (None when it is not one)."""
    if not isinstance(text, str) or not 1 < len(text) <= 16:
        return None
    for unit, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        number = text.removesuffix(unit)
        if number != text and number.isdecimal():
            return int(number) * scale
    return None


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,9})?Z")


def instant(text: Any) -> float | None:
    """``2026-11-29T11:19:59.132061269Z`` (Prometheus's lastScrape) in seconds since the epoch; None when it is
    not one, or never (year 1)."""
    m = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        return None
    whole = datetime.fromisoformat(m[1]).replace(tzinfo=UTC).timestamp()
    return whole + float(m[2] or 0) if whole > 0 else None


def evaluation_time(scrapes: Iterable[tuple[float, float]]) -> float | None:
    """The time a tick reads Prometheus as of, from each libvirt target's (lastScrape, interval; 0: its last
    scrape failed, it is DOWN whatever the tick reads): the newest finished scrape, but before any scrape begun
    since a target's last (``lastScrape + interval``): such a scrape may be in flight, its samples stored between
    two of the tick's queries (one figure of the new scrape, another and the scrape times of the old: a rate over
    the wrong window).  A target late by more than an interval (a hung exporter) holds the time back by one
    interval at most.  None: no target says."""
    scrapes = list(scrapes)
    newest = max((last for last, _i in scrapes), default=None)
    if newest is None:
        return None
    # before it began: 50 ms early, as a scrape's start (lastScrape) may lag its schedule, the next one's not
    nexts = [last + interval - 0.05 for last, interval in scrapes if interval > 0]
    return max(newest - max(i for _l, i in scrapes), min([newest, *nexts]))


def last_two(samples: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    """(previous, newest) of a target's scrapes, from its exporter's (time, up) samples: the previous is the newest
    before the newest whose exporter reached libvirt (one that did not has no domain series: a counter's
    ``idelta`` then reaches back past it, and a rate over the shorter window would double)."""
    newest = max((t for t, _up in samples), default=None)
    prev = max((t for t, up in samples if up == 1 and newest is not None and t < newest), default=None)
    return prev, newest


def presence(by_target: dict[tuple[str, str], Pairs]) -> dict[tuple[str, str], set[str]]:
    """(job, instance) -> the marker and health names it exports."""
    return {k: {labels.get("__name__", "") for labels, _v in pairs} for k, pairs in by_target.items()}


def instance_regex(instances: Iterable[str]) -> str:
    """An RE2 alternation matching exactly these values (each escaped as a literal)."""
    return "|".join(re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", i) for i in sorted(instances))


_paused = [0, False]  # ticks running with the collector paused, and whether it ran before the first
_pause_lock = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a tick builds its objects: every one is kept (no cycle
    to find), and the passes a big heap triggers cost as much as the parsing (measured: json.loads of a
    10,000-domain tick 451 ms with it, 185 without).  Ticks of several sources nest; the last one resumes it."""
    with _pause_lock:
        if _paused[0] == 0:
            _paused[1] = gc.isenabled()
            gc.disable()
        _paused[0] += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused[0] -= 1
            if _paused[0] == 0 and _paused[1]:
                gc.enable()
