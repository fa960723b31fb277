"""The few PromQL shapes PrometheusSource's tick asks, evaluated over a captured raw matrix as Prometheus does.

The captures (tests/data/prometheus/) hold the raw samples of every libvirt series (the old tick's one range
query, ``{__name__=~"..."}[W]``): the store.  A tick's instant queries are answered from it at their ``time``:
``max by (LABELS) (NAME)`` (each series' newest sample at or before the time), ``max by (LABELS)
(idelta(NAME[{instance=~RE}][Wms]))`` (the difference of its last two), ``group by (job, instance, __name__)
({__name__=~"A|B"})``, and raw selectors ``{__name__=~"A|B"}[Wms]`` / ``{job="j",instance="i",uuid="u"}[Wms]``.
A value the capture holds as text (even garbage) is passed on as that text, as Prometheus would not; so the
client's own checks still meet it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_AGG = re.compile(r"^(max|group) by \(([^)]*)\) \((.*)\)$", re.S)
_IDELTA = re.compile(r"^idelta\((\w+)(?:\{instance=~(\".*\")\})?\[(\d+)ms\]\)$", re.S)
_NAMES = re.compile(r'^\{__name__=~"([\w|]+)"\}(?:\[(\d+)ms\])?$')
_MATCHERS = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*")')


def _fine(sample: Any) -> tuple[float, str] | None:
    if not isinstance(sample, list) or len(sample) != 2 or not isinstance(sample[1], str):
        return None
    t = sample[0]
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        return None
    return float(t), sample[1]


def _samples(series: dict[str, Any], at: float, window_ms: int | None) -> list[tuple[float, str]]:
    """The series' samples at or before ``at`` (within the window, when one is given), oldest first."""
    low = -math.inf if window_ms is None else at - window_ms / 1000
    return sorted(s for s in map(_fine, series.get("values", [])) if s is not None and low < s[0] <= at)


def _vector(groups: dict[tuple[tuple[str, str], ...], list[str]], at: float) -> dict[str, Any]:
    result = []
    for labels, texts in groups.items():
        try:
            value = repr(max(float(t) for t in texts)) if len(texts) > 1 else texts[0]
        except ValueError:
            value = texts[0]
        result.append({"metric": dict(labels), "value": [at, value]})
    return {"resultType": "vector", "result": result}


def evaluate(query: str, at: float, matrix: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The answer's ``data``, or None when the query is none of the shapes above."""
    if m := _NAMES.match(query):
        names, window = set(m[1].split("|")), m[2]
        chosen = [s for s in matrix if s["metric"].get("__name__") in names]
        if window is None:
            return None
        return _matrix(chosen, at, int(window))
    if query.startswith("{") and query.endswith("ms]"):
        selector, _, window = query[1:-3].rpartition("}[")
        wanted = {k: json.loads(v) for k, v in _MATCHERS.findall(selector)}
        chosen = [s for s in matrix if all(s["metric"].get(k) == v for k, v in wanted.items())]
        return _matrix(chosen, at, int(window))
    m = _AGG.match(query)
    if m is None:
        return None
    how, by, inner = m[1], [x.strip() for x in m[2].split(",")], m[3]
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    if how == "group":
        names_match = _NAMES.match(inner)
        if names_match is None:
            return None
        names = set(names_match[1].split("|"))
        for s in matrix:
            if s["metric"].get("__name__") in names and _samples(s, at, None):
                groups.setdefault(_key(s["metric"], by), ["1"])
        return _vector(groups, at)
    if d := _IDELTA.match(inner):
        pattern = None if d[2] is None else re.compile(json.loads(d[2]))
        for s in matrix:
            if s["metric"].get("__name__") != d[1] or (pattern and not pattern.fullmatch(s["metric"].get("instance",
                                                                                                          ""))):
                continue
            last = _samples(s, at, int(d[3]))[-2:]
            if len(last) == 2:
                try:
                    groups.setdefault(_key(s["metric"], by), []).append(repr(float(last[1][1]) - float(last[0][1])))
                except ValueError:
                    groups.setdefault(_key(s["metric"], by), []).append(last[1][1])
        return _vector(groups, at)
    if re.fullmatch(r"\w+", inner):
        for s in matrix:
            if s["metric"].get("__name__") == inner and (got := _samples(s, at, None)):
                groups.setdefault(_key(s["metric"], by), []).append(got[-1][1])
        return _vector(groups, at)
    return None


def _key(labels: dict[str, str], by: list[str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, labels[k]) for k in by if labels.get(k))  # Prometheus drops empty labels


def _matrix(chosen: list[dict[str, Any]], at: float, window_ms: int) -> dict[str, Any]:
    result = []
    for s in chosen:
        values = [list(v) for v in _samples(s, at, window_ms)]
        if values:
            result.append({"metric": s["metric"], "values": values})
    return {"resultType": "matrix", "result": result}
