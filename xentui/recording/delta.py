"""Ticks: one JSON line each, domains written as deltas against their previous tick.

A tick::

    {"t": monotonic, "w": wall, "h": [host] (first tick and when it changed), "f": mem_free_kib,
     "a": mem_available_kib (only when known),
     "d": [domain, ...], "p": [pcpu busy ns] | null, "e": [errors], "n": [notices]}

A domain is written whole (an array, xentui/recording/format.py) the first time its UUID appears, else as
``{"=": uuid, "<field index>": new value, ...}`` (only the fields that changed since the tick before).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from xentui import limits
from xentui.model import HostSample, RawSample
from xentui.recording.fields import MAX_CPUS, FormatError, _int, _list, _seconds, _str, _time
from xentui.recording.format import DOMAIN, decode_domain, decode_host, encode_domain
from xentui.text import brief

TICK_KEYS = ("t", "w", "f", "a", "p", "e", "n")


def _delta(prev: list[Any] | None, cur: list[Any]) -> list[Any] | dict[str, Any]:
    if prev is None:
        return cur
    changed: dict[str, Any] = {"=": cur[0]}
    for i in range(1, len(cur)):
        if cur[i] != prev[i]:
            changed[str(i)] = cur[i]
    return changed


def encode_tick(raw: RawSample, host: list[Any] | None, previous: dict[str, list[Any]]) -> str:
    """One line; ``host`` is the encoded static host when it must be written (first tick, or it changed);
    ``previous``: each domain's encoded fields at the last tick (updated here: the deltas' base)."""
    tick: dict[str, Any] = {"t": raw.monotonic, "w": raw.wall}
    if host is not None:
        tick["h"] = host
    tick["f"] = raw.host.mem_free_kib
    if raw.host.mem_available_kib is not None:
        tick["a"] = raw.host.mem_available_kib
    current = {}
    domains = []
    for d in raw.domains:
        fields = current[d.uuid] = encode_domain(d)
        domains.append(_delta(previous.get(d.uuid), fields))
    tick["d"] = domains
    tick["p"] = None if raw.pcpu_busy_ns is None else list(raw.pcpu_busy_ns)
    if raw.errors:
        tick["e"] = list(raw.errors)
    if raw.notices:
        tick["n"] = list(raw.notices)
    line = json.dumps(tick, separators=(",", ":"), allow_nan=False) + "\n"
    previous.clear()  # the next tick's deltas refer to this one only once it is written
    previous.update(current)
    return line


def _undelta(v: Any, previous: dict[str, list[Any]], current: dict[str, list[Any]]) -> list[Any]:
    count = len(DOMAIN.fields)
    if type(v) is dict:
        uuid = v.get("=")
        base = previous.get(uuid) if type(uuid) is str else None
        if base is None:
            raise FormatError(f"a domain delta for {brief(uuid)}, which was not in the tick before")
        fields = list(base)
        for key, value in v.items():
            if key == "=":
                continue
            # ASCII digits, few: str.isdigit takes "²" and int() refuses it, or past 4300 digits, with a traceback
            i = int(key) if key.isascii() and key.isdecimal() and len(key) <= 4 else 0
            if not 1 <= i < count:
                raise FormatError(f"domain delta field {brief(key)} is not 1 to {count - 1}")
            fields[i] = value
        v = fields
    d = DOMAIN.whole(v, "domain")
    if type(d[0]) is not str or d[0] in current:
        raise FormatError("a domain without a UUID, or the same UUID twice in one tick")
    _str(d[0], "domain uuid")
    _str(d[1], "domain name")  # checked at open even when values are decoded as shown
    current[d[0]] = d
    return d


def resolve_tick(v: Any, state: dict[str, Any]) -> dict[str, Any]:
    """A tick made whole (fast, JSON level): the host written out and every domain delta applied.

    ``state`` carries the last host and each domain's fields from tick to tick (updated here).
    Checks the structure only; :func:`decode_tick` checks every value.
    """
    if type(v) is not dict:
        raise FormatError("a tick is not a JSON object")
    if "h" in v:
        state["h"] = v["h"]
    elif "h" not in state:
        raise FormatError("the first tick has no host")
    _time(v.get("t"), "monotonic time")
    previous: dict[str, list[Any]] = state.setdefault("d", {})
    current: dict[str, list[Any]] = {}
    domains = [_undelta(d, previous, current) for d in _list(v.get("d"), "domains", most=limits.MAX_DOMAINS)]
    state["d"] = current
    whole = {k: v[k] for k in TICK_KEYS if k in v}  # unknown keys are not carried along
    whole["h"], whole["d"] = state["h"], domains
    return whole


def _strs(v: Any, what: str) -> tuple[str, ...]:
    return tuple(_str(s, what, most=limits.MAX_MESSAGE) or "" for s in _list(v, what, most=limits.MAX_MESSAGES))


def decode_tick(v: dict[str, Any], hosts: dict[int, tuple[list[Any], HostSample]] | None = None) -> RawSample:
    """A whole tick (from :func:`resolve_tick`) as a RawSample, every value checked.

    ``hosts``: the hosts decoded so far (by the id of their array): ticks that share a host array
    share its decoded pCPUs and caches.
    """
    busy = v.get("p")
    free: int = _int(v.get("f"), "free memory", False)  # type: ignore[assignment]  # not optional
    available = _int(v.get("a"), "available memory")  # absent (older files, Xen): None
    known = hosts.get(id(v["h"])) if hosts is not None else None
    if known is not None and known[0] is v["h"]:
        host = replace(known[1], mem_free_kib=free, mem_available_kib=available)
    else:
        host = decode_host(v["h"], free)
        if hosts is not None:
            hosts[id(v["h"])] = (v["h"], host)
        if available is not None:
            host = replace(host, mem_available_kib=available)
    return RawSample(
        monotonic=_seconds(v.get("t"), "monotonic time"), wall=_seconds(v.get("w"), "wall time"),
        host=host,
        domains=tuple(decode_domain(d) for d in v["d"]),
        errors=_strs(v.get("e", []), "errors"), notices=_strs(v.get("n", []), "notices"),
        pcpu_busy_ns=None if busy is None else tuple(_int(b, "pCPU busy", False) or 0
                                                     for b in _list(busy, "pCPU busy", most=MAX_CPUS)),
    )
