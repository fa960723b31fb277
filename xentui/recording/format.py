"""The recording format (``.xtrec.gz``): raw samples, so a replay goes through the same rate maths.

gzip'd JSON lines (see docs/record-format.md).  Line 1 is the header::

    {"format": "xentui-record", "version": 1, "created": <epoch s>, "uri": ..., "delay": ..., "fields": {...}}

then one line per tick::

    {"t": monotonic, "w": wall, "h": [host static] (first tick and when it changed), "f": mem_free_kib,
     "d": [domain, ...], "p": [pcpu busy ns] | null, "e": [errors], "n": [notices]}

Objects are positional arrays in the order the header's ``fields`` names (so the file documents itself).
A domain is written whole (an array) the first time its UUID appears, else as a delta against its
previous tick: ``{"=": uuid, "<field index>": new value, ...}`` (only the fields that changed).
Decoding checks every type: a damaged file is refused whole, with one line, never half-shown.
Pure standard library plus the model.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

from xentui import limits
from xentui.model import (
    BlockSample,
    CacheBank,
    CacheSample,
    DomainSample,
    DomainState,
    HostSample,
    L3Cache,
    NetSample,
    Pcpu,
    RawSample,
    VcpuSample,
)

FORMAT = "xentui-record"
VERSION = 1

HOST_FIELDS = ("hostname", "hypervisor", "hypervisor_version", "uri", "pcpus", "mhz", "mem_total_kib",
               "cpu_model", "libvirt_version", "cache_monitoring", "boot_time", "topology",
               "l3_caches", "cache_rmids")
PCPU_FIELDS = ("number", "node", "socket", "core", "online")
DOMAIN_FIELDS = ("uuid", "name", "domid", "state", "cpu_ns", "vcpus_current", "vcpus_max", "mem_kib", "maxmem_kib",
                 "rss_kib", "vcpus", "nets", "blocks", "ssid", "flags", "cache", "stale")
# Fields are only ever appended: a file written before (shorter arrays, as its header's "fields" say) reads
# with the later fields at their defaults.  The first lengths of version 1:
FIRST_LENGTHS = {"host": 12, "domain": 15}
L3_FIELDS = ("cache_id", "size_bytes")
CACHE_FIELDS = ("source", "group", "banks", "status", "counter_bits")
BANK_FIELDS = ("cache_id", "occupancy_bytes", "mbm_total_bytes", "mbm_local_bytes", "mbm_total_bytes_s",
               "mbm_local_bytes_s")
VCPU_FIELDS = ("number", "online", "time_ns", "delay_ns", "pcpu", "hard_affinity", "soft_affinity")
NET_FIELDS = ("name", "rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes", "tx_packets", "tx_errs", "tx_drop")
BLOCK_FIELDS = ("name", "path", "rd_reqs", "rd_bytes", "wr_reqs", "wr_bytes", "oo_reqs", "errors", "kind", "devno")
FIELDS = {"host": HOST_FIELDS, "pcpu": PCPU_FIELDS, "domain": DOMAIN_FIELDS, "vcpu": VCPU_FIELDS,
          "net": NET_FIELDS, "block": BLOCK_FIELDS, "l3": L3_FIELDS, "cache": CACHE_FIELDS, "bank": BANK_FIELDS}


class FormatError(ValueError):
    """What is wrong with one line of a recording (the reader adds file and line)."""


# --- encoding ---------------------------------------------------------------------------


def _cpus(cpus: frozenset[int] | None) -> list[int] | None:
    return None if cpus is None else sorted(cpus)


def header(uri: str, delay: float, created: float, version: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "created": created, "uri": uri, "delay": delay,
            "xentui": version, "fields": {k: list(v) for k, v in FIELDS.items()}}


def encode_host(h: HostSample) -> list:
    return [h.hostname, h.hypervisor, h.hypervisor_version, h.uri, h.pcpus, h.mhz, h.mem_total_kib, h.cpu_model,
            h.libvirt_version, h.cache_monitoring, h.boot_time,
            [[p.number, p.node, p.socket, p.core, p.online] for p in h.topology],
            [[c.cache_id, c.size_bytes] for c in h.l3_caches], h.cache_rmids]


def _encode_cache(c: CacheSample | None) -> list | None:
    if c is None:
        return None
    return [c.source, c.group, [[b.cache_id, b.occupancy_bytes, b.mbm_total_bytes, b.mbm_local_bytes,
                                 b.mbm_total_bytes_s, b.mbm_local_bytes_s] for b in c.banks], c.status, c.counter_bits]


def encode_domain(d: DomainSample) -> list:
    return [d.uuid, d.name, d.domid, d.state.value, d.cpu_ns, d.vcpus_current, d.vcpus_max, d.mem_kib, d.maxmem_kib,
            d.rss_kib,
            [[v.number, v.online, v.time_ns, v.delay_ns, v.pcpu, _cpus(v.hard_affinity), _cpus(v.soft_affinity)]
             for v in d.vcpus],
            [[n.name, n.rx_bytes, n.rx_packets, n.rx_errs, n.rx_drop, n.tx_bytes, n.tx_packets, n.tx_errs, n.tx_drop]
             for n in d.nets],
            [[b.name, b.path, b.rd_reqs, b.rd_bytes, b.wr_reqs, b.wr_bytes, b.oo_reqs, b.errors, b.kind, b.devno]
             for b in d.blocks],
            d.ssid, d.flags, _encode_cache(d.cache), d.stale]


def _delta(prev: list | None, cur: list) -> list | dict:
    if prev is None:
        return cur
    changed: dict[str, Any] = {"=": cur[0]}
    for i in range(1, len(cur)):
        if cur[i] != prev[i]:
            changed[str(i)] = cur[i]
    return changed


def encode_tick(raw: RawSample, host: list | None, previous: dict[str, list]) -> str:
    """One line; ``host`` is the encoded static host when it must be written (first tick, or it changed);
    ``previous``: each domain's encoded fields at the last tick (updated here: the deltas' base)."""
    tick: dict[str, Any] = {"t": raw.monotonic, "w": raw.wall}
    if host is not None:
        tick["h"] = host
    tick["f"] = raw.host.mem_free_kib
    current = {}
    domains = []
    for d in raw.domains:
        fields = current[d.uuid] = encode_domain(d)
        domains.append(_delta(previous.get(d.uuid), fields))
    previous.clear()
    previous.update(current)
    tick["d"] = domains
    tick["p"] = None if raw.pcpu_busy_ns is None else list(raw.pcpu_busy_ns)
    if raw.errors:
        tick["e"] = list(raw.errors)
    if raw.notices:
        tick["n"] = list(raw.notices)
    return json.dumps(tick, separators=(",", ":"), allow_nan=False) + "\n"


# --- decoding (every type checked) ------------------------------------------------------------


def _int(v: Any, what: str, optional: bool = True) -> int | None:
    if v is None and optional:
        return None
    if type(v) is not int or v < 0:  # counters, sizes and ids: never negative from a source
        raise FormatError(f"{what} is not a whole number of 0 or more")
    if v >= limits.MAX_COUNTER:
        raise FormatError(f"{what} is 2**64 or more: a recording's counters are below 2**64")
    return v


MAX_CPUS = limits.MAX_CPUS  # pCPU and vCPU numbers: a damaged file must not make a view draw 2**70 columns


def _cpu(v: Any, what: str) -> int:
    n = _int(v, what, optional=False)
    if n >= MAX_CPUS:
        raise FormatError(f"{what} {n} is beyond {MAX_CPUS - 1}")
    return n


def _float(v: Any, what: str, optional: bool = False, most: float = limits.MAX_COUNTER) -> float | None:
    """A finite number in [0, most): times, rates, the delay."""
    if v is None and optional:
        return None
    if type(v) not in (int, float) or not -limits.MAX_COUNTER < v < limits.MAX_COUNTER or not math.isfinite(v):
        raise FormatError(f"{what} is not a finite number")
    if not 0 <= v < most:
        raise FormatError(f"{what} {v:g} is not from 0 to {most:g}")
    return float(v)


def _time(v: Any, what: str, optional: bool = False) -> float | None:
    return _float(v, what, optional, most=limits.MAX_SECONDS)


def _str(v: Any, what: str, optional: bool = False, most: int = limits.MAX_NAME) -> str | None:
    if v is None and optional:
        return None
    if type(v) is not str:
        raise FormatError(f"{what} is not a string")
    if len(v) > most:
        raise FormatError(f"{what} has {len(v)} characters: a recording allows at most {most}")
    return v


def _bool(v: Any, what: str) -> bool:
    if type(v) is not bool:
        raise FormatError(f"{what} is not true/false")
    return v


def _list(v: Any, what: str, length: int | None = None, most: int | None = None) -> list:
    if type(v) is not list:
        raise FormatError(f"{what} is not a list")
    if length is not None and len(v) != length:
        raise FormatError(f"{what} has {len(v)} fields, not {length}")
    if most is not None and len(v) > most:
        raise FormatError(f"{what}: {len(v)} entries; a recording allows at most {most}")
    return v


def _fields(v: Any, what: str, kind: str) -> list:
    """A host or domain array: as long as now, or as in an earlier file (later fields then at None)."""
    full = len(FIELDS[kind])
    v = _list(v, what)
    if not FIRST_LENGTHS[kind] <= len(v) <= full:
        raise FormatError(f"{what} has {len(v)} fields, not {full}")
    return v + [None] * (full - len(v))


def _strs(v: Any, what: str) -> tuple[str, ...]:
    return tuple(_str(s, what, most=limits.MAX_MESSAGE) for s in _list(v, what, most=limits.MAX_MESSAGES))


def _cpuset(v: Any, what: str) -> frozenset[int] | None:
    if v is None:
        return None
    return frozenset(_cpu(c, what) for c in _list(v, what, most=MAX_CPUS))


def decode_host(v: Any, mem_free_kib: int) -> HostSample:
    h = _fields(v, "host", "host")
    topology = []
    for p in _list(h[11], "host topology", most=MAX_CPUS):
        p = _list(p, "pCPU", len(PCPU_FIELDS))
        topology.append(Pcpu(_cpu(p[0], "pCPU number"), _int(p[1], "pCPU node", False),
                             _int(p[2], "pCPU socket", False), _int(p[3], "pCPU core"), _bool(p[4], "pCPU online")))
    pcpus = _cpu(h[4], "host pcpus")
    return HostSample(
        hostname=_str(h[0], "hostname"), hypervisor=_str(h[1], "hypervisor"),
        hypervisor_version=_str(h[2], "hypervisor version"), uri=_str(h[3], "host uri"), pcpus=pcpus,
        mhz=_int(h[5], "host mhz", False), mem_total_kib=_int(h[6], "host memory", False),
        mem_free_kib=mem_free_kib, cpu_model=_str(h[7], "cpu model"),
        libvirt_version=_str(h[8], "libvirt version"), cache_monitoring=_str(h[9], "cache monitoring"),
        boot_time=_time(h[10], "boot time", optional=True), topology=tuple(topology),
        l3_caches=tuple(L3Cache(_int(c[0], "L3 id", False), _int(c[1], "L3 size", False))
                        for c in (_list(x, "L3", len(L3_FIELDS))
                                  for x in _list(h[12] or [], "L3 caches", most=limits.MAX_CACHES))),
        cache_rmids=_int(h[13], "RMIDs"),
    )


def _decode_cache(v: Any) -> CacheSample | None:
    if v is None:
        return None
    c = _list(v, "cache", len(CACHE_FIELDS))
    banks = []
    for b in _list(c[2], "cache banks", most=limits.MAX_CACHES):
        b = _list(b, "cache bank", len(BANK_FIELDS))
        banks.append(CacheBank(_int(b[0], "cache id"), *(_int(x, "cache counter") for x in b[1:4]),
                               *(_float(x, "cache rate", optional=True) for x in b[4:6])))
    bits = _int(c[4], "counter bits", False)
    if not 1 <= bits <= 64:
        raise FormatError(f"counter bits {bits} is not 1 to 64")
    return CacheSample(_str(c[0], "cache source"), _str(c[1], "cache group"), tuple(banks),
                       _str(c[3], "cache status", most=limits.MAX_MESSAGE), bits)


_STATES = {s.value: s for s in DomainState}


def decode_domain(v: Any) -> DomainSample:
    d = _fields(v, "domain", "domain")
    state = _STATES.get(d[3]) if type(d[3]) is str else None
    if state is None:
        raise FormatError(f"domain state {d[3]!r} is not one of {', '.join(_STATES)}")
    vcpus = []
    for x in _list(d[10], "vCPUs", most=limits.MAX_VCPUS):
        x = _list(x, "vCPU", len(VCPU_FIELDS))
        vcpus.append(VcpuSample(_cpu(x[0], "vCPU number"), _bool(x[1], "vCPU online"),
                                _int(x[2], "vCPU time"), _int(x[3], "vCPU delay"),
                                None if x[4] is None else _cpu(x[4], "vCPU pcpu"),
                                _cpuset(x[5], "hard affinity"), _cpuset(x[6], "soft affinity")))
    nets = []
    for x in _list(d[11], "nets", most=limits.MAX_DEVICES):
        x = _list(x, "net", len(NET_FIELDS))
        nets.append(NetSample(_str(x[0], "net name"), *(_int(c, "net counter") for c in x[1:])))
    blocks = []
    for x in _list(d[12], "blocks", most=limits.MAX_DEVICES):
        x = _list(x, "block", len(BLOCK_FIELDS))
        blocks.append(BlockSample(_str(x[0], "block name"), _str(x[1], "block path"),
                                  *(_int(c, "block counter") for c in x[2:8]), _str(x[8], "block kind"),
                                  _int(x[9], "block devno")))
    return DomainSample(
        uuid=_str(d[0], "domain uuid"), name=_str(d[1], "domain name"), domid=_int(d[2], "domain id"), state=state,
        cpu_ns=_int(d[4], "cpu time"), vcpus_current=_int(d[5], "vcpus"), vcpus_max=_int(d[6], "max vcpus"),
        mem_kib=_int(d[7], "memory"), maxmem_kib=_int(d[8], "max memory"), rss_kib=_int(d[9], "rss"),
        vcpus=tuple(vcpus), nets=tuple(nets), blocks=tuple(blocks), ssid=_int(d[13], "ssid", False),
        flags=_str(d[14], "flags", optional=True), cache=_decode_cache(d[15]),
        stale=_str(d[16], "stale", optional=True, most=limits.MAX_MESSAGE) or "",
    )


def check_header(v: Any) -> dict:
    """The header, or FormatError saying what a recording's first line would be."""
    if type(v) is not dict or v.get("format") != FORMAT:
        raise FormatError(f"not a xentui recording (its first line lacks \"format\": \"{FORMAT}\")")
    if v.get("version") != VERSION:
        raise FormatError(f"recording format version {v.get('version')!r}; this xentui reads version {VERSION}")
    _time(v.get("delay"), "header delay")
    _str(v.get("uri"), "header uri")
    return v


def _undelta(v: Any, previous: dict[str, list], current: dict[str, list]) -> list:
    if type(v) is dict:
        uuid = v.get("=")
        base = previous.get(uuid) if type(uuid) is str else None
        if base is None:
            raise FormatError(f"a domain delta for {uuid!r}, which was not in the tick before")
        fields = list(base)
        for key, value in v.items():
            if key == "=":
                continue
            i = int(key) if key.isdigit() else 0
            if not 1 <= i < len(DOMAIN_FIELDS):
                raise FormatError(f"domain delta field {key!r} is not 1 to {len(DOMAIN_FIELDS) - 1}")
            fields[i] = value
        v = fields
    d = _fields(v, "domain", "domain")
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
    previous: dict[str, list] = state.setdefault("d", {})
    current: dict[str, list] = {}
    domains = [_undelta(d, previous, current) for d in _list(v.get("d"), "domains", most=limits.MAX_DOMAINS)]
    state["d"] = current
    whole = {k: v[k] for k in TICK_KEYS if k in v}  # unknown keys are not carried along
    whole["h"], whole["d"] = state["h"], domains
    return whole


TICK_KEYS = ("t", "w", "f", "p", "e", "n")


def decode_tick(v: dict[str, Any], hosts: dict[int, tuple[list, HostSample]] | None = None) -> RawSample:
    """A whole tick (from :func:`resolve_tick`) as a RawSample, every value checked.

    ``hosts``: the hosts decoded so far (by the id of their array): ticks that share a host array
    share its decoded pCPUs and caches.
    """
    busy = v.get("p")
    free = _int(v.get("f"), "free memory", False)
    known = hosts.get(id(v["h"])) if hosts is not None else None
    if known is not None and known[0] is v["h"]:
        host = replace(known[1], mem_free_kib=free)
    else:
        host = decode_host(v["h"], free)
        if hosts is not None:
            hosts[id(v["h"])] = (v["h"], host)
    return RawSample(
        monotonic=_time(v.get("t"), "monotonic time"), wall=_time(v.get("w"), "wall time"),
        host=host,
        domains=tuple(decode_domain(d) for d in v["d"]),
        errors=_strs(v.get("e", []), "errors"), notices=_strs(v.get("n", []), "notices"),
        pcpu_busy_ns=None if busy is None else tuple(_int(b, "pCPU busy", False)
                                                     for b in _list(busy, "pCPU busy", most=MAX_CPUS)),
    )
