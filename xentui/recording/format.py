"""The recording format (``.xtrec.gz``): raw samples, so a replay goes through the same rate maths.

gzip'd JSON lines (see docs/record-format.md).  Line 1 is the header::

    {"format": "xentui-record", "version": 1, "created": <epoch s>, "uri": ..., "delay": ..., "fields": {...}}

then one line per tick (xentui/recording/delta.py).  Records are positional arrays in the order of the
tables below, which the header's ``fields`` repeats (so the file documents itself).  Each field is declared
once, as ``Field(name, codec, since=…)``: encoding and decoding both read the tables.  Fields are only ever
appended; ``since`` is the revision that added one (1: the first files of version 1), so an older file
(shorter arrays) reads with the later fields at their defaults.  Decoding checks every type: a damaged
file is refused whole, with one line, never half-shown.  Pure standard library plus the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from typing import Any

from xentui import limits
from xentui.model import (
    BlockSample,
    CacheBank,
    CacheSample,
    DomainSample,
    DomainState,
    HostSample,
    JobSample,
    L3Cache,
    NetSample,
    Pcpu,
    VcpuSample,
)
from xentui.model.samples import JOB_OPERATIONS
from xentui.sources import guest
from xentui.text import brief

FORMAT = "xentui-record"
VERSION = 1
MAX_CPUS = limits.MAX_CPUS  # pCPU and vCPU numbers: a damaged file must not make a view draw 2**70 columns


class FormatError(ValueError):
    """What is wrong with one line of a recording (the reader adds file and line)."""


# --- checks of one JSON value (each raises FormatError naming ``what``) -------------------------


def _int(v: Any, what: str, optional: bool = True) -> int | None:
    if v is None and optional:
        return None
    if type(v) is not int or v < 0:  # counters, sizes and ids: never negative from a source
        raise FormatError(f"{what} is not a whole number of 0 or more")
    if v >= limits.MAX_COUNTER:
        raise FormatError(f"{what} is 2**64 or more: a recording's counters are below 2**64")
    return v


def _cpu(v: Any, what: str) -> int:
    n: int = _int(v, what, optional=False)  # type: ignore[assignment]  # not optional: never None
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


def _seconds(v: Any, what: str) -> float:
    """A time that must be there (never None)."""
    seconds = _float(v, what, most=limits.MAX_SECONDS)
    assert seconds is not None  # not optional: _float raised instead
    return seconds


def _str(v: Any, what: str, optional: bool = False, most: int = limits.MAX_NAME) -> str | None:
    if v is None and optional:
        return None
    if type(v) is not str:
        raise FormatError(f"{what} is not a string")
    if len(v) > most:
        raise FormatError(f"{what} has {len(v)} characters: a recording allows at most {most}")
    return v


def _list(v: Any, what: str, length: int | None = None, most: int | None = None) -> list[Any]:
    if type(v) is not list:
        raise FormatError(f"{what} is not a list")
    if length is not None and len(v) != length:
        raise FormatError(f"{what} has {len(v)} fields, not {length}")
    if most is not None and len(v) > most:
        raise FormatError(f"{what}: {len(v)} entries; a recording allows at most {most}")
    return v


# --- codecs: how one field is written and read back ---------------------------------------------


def _same(v: Any) -> Any:
    return v


@dataclass(frozen=True)
class Codec:
    """``decode(json value, what) -> value`` (checked); ``encode(value) -> json value``."""

    decode: Callable[[Any, str], Any]
    encode: Callable[[Any], Any] = _same


def _required_int(v: Any, what: str) -> int:
    n: int = _int(v, what, optional=False)  # type: ignore[assignment]  # not optional: never None
    return n


def Int(optional: bool = True) -> Codec:
    return Codec(_int if optional else _required_int)


def Str(optional: bool = False, most: int = limits.MAX_NAME, none: str | None = None) -> Codec:
    """``none``: what a null (or a field older files lack) decodes to."""
    if not optional and most == limits.MAX_NAME:
        return Codec(_str)  # the common case: one call per value
    return Codec(lambda v, what: _str(v, what, optional, most) or none if optional and none is not None
                 else _str(v, what, optional, most))


def _bool(v: Any, what: str) -> bool:
    if type(v) is not bool:
        raise FormatError(f"{what} is not true/false")
    return v


def _counter_bits(v: Any, what: str) -> int:
    bits: int = _int(v, what, False)  # type: ignore[assignment]  # not optional: never None
    if not 1 <= bits <= 64:
        raise FormatError(f"counter bits {bits} is not 1 to 64")
    return bits


def _cpuset(v: Any, what: str) -> frozenset[int] | None:
    if v is None:
        return None
    return frozenset(_cpu(c, what) for c in _list(v, what, most=MAX_CPUS))


def _signed(v: Any, what: str) -> int | None:
    """A difference of two counters (a domain's overhead: cpu.time minus its vCPUs' times, which a tick-sized
    measurement step can make a little negative): whole, within +-2**64, or None."""
    if v is None:
        return None
    if type(v) is not int or not -limits.MAX_COUNTER < v < limits.MAX_COUNTER:
        raise FormatError(f"{what} is not a whole number within +-2**64")
    return v


_STATES = {s.value: s for s in DomainState}


def _state(v: Any, what: str) -> DomainState:
    state = _STATES.get(v) if type(v) is str else None
    if state is None:
        raise FormatError(f"{what} {brief(v)} is not one of {', '.join(_STATES)}")
    return state


INT, REQUIRED_INT, STR, BOOL, CPU = Int(), Int(False), Str(), Codec(_bool), Codec(_cpu)
OPTIONAL_CPU = Codec(lambda v, what: None if v is None else _cpu(v, what))
SIGNED_OR_NONE = Codec(_signed)
TIME_OR_NONE = Codec(lambda v, what: None if v is None else _time(v, what))
RATE_OR_NONE = Codec(lambda v, what: None if v is None else _float(v, what))
CPUSET = Codec(_cpuset, lambda v: None if v is None else sorted(v))
STATE = Codec(_state, lambda v: v.value)


def _one_of(words: tuple[str, ...], optional: bool = True) -> Codec:
    """A fixed word of the model's (a guest type, a device model, a job's operation), or None where
    ``optional``; anything else is refused."""
    def decode(v: Any, what: str) -> str | None:
        if (v is None and optional) or v in words:
            return v  # type: ignore[no-any-return]
        raise FormatError(f"{what} {brief(v)} is not one of {', '.join(words)}")
    return Codec(decode)


def _hostdev(v: Any, what: str) -> str:
    """A PCI address as the model holds it (``0000:03:00.1``, `` VF`` marked), rebuilt from its numbers."""
    text = v if type(v) is str else ""
    vf = text.endswith(guest.VF_MARK)
    address = guest.parse_bdf(text[:-len(guest.VF_MARK)] if vf else text)
    if address is None:
        raise FormatError(f"{what} {brief(v)} is not a PCI address such as 0000:03:00.1")
    return address + guest.VF_MARK if vf else address


# A domain's PCI host devices; null (a file before revision 4) is none.
HOSTDEVS = Codec(lambda v, what: tuple(_hostdev(x, what)
                                       for x in _list([] if v is None else v, what, most=limits.MAX_HOSTDEVS)),
                 list)


@dataclass(frozen=True)
class Field:
    """One position of a record: the model's attribute, its codec, the label errors name, the revision."""

    name: str
    codec: Codec
    what: str
    since: int = 1


@dataclass(frozen=True)
class Table:
    """A record type: its fields in order, and the model class built from them.

    ``encode`` and ``build`` are generated once from the fields (a tick runs them ~10 000 times at 1000
    domains): attribute reads with only the non-identity codecs applied, and one call of ``cls`` (positional
    while the table follows the model's order, then by keyword).
    ``extra``: keyword arguments of ``cls`` that the record does not hold, passed to ``build`` after the array.
    """

    kind: str
    cls: type
    fields: tuple[Field, ...]
    extra: tuple[str, ...] = ()
    encode: Callable[[Any], list[Any]] = field(init=False, repr=False, compare=False)
    build: Callable[..., Any] = field(init=False, repr=False, compare=False)  # (checked-length array, *extra)

    def __post_init__(self) -> None:
        namespace: dict[str, Any] = {"_cls": self.cls}
        reads, args = [], []
        for i, f in enumerate(self.fields):
            assert f.name.isidentifier()  # our tables' names, never a file's
            if f.codec.encode is _same:
                reads.append(f"o.{f.name}")
            else:
                namespace[f"_enc{i}"] = f.codec.encode
                reads.append(f"_enc{i}(o.{f.name})")
            namespace[f"_dec{i}"], namespace[f"_what{i}"] = f.codec.decode, f.what
            args.append(f"_dec{i}(v[{i}], _what{i})")
        args += self.extra
        names, model = [*self.names, *self.extra], [f.name for f in dataclass_fields(self.cls)]
        same = 0  # positional while the table follows the model's order, then by keyword
        while same < len(names) and same < len(model) and names[same] == model[same]:
            same += 1
        args[same:] = [f"{name}={arg}" for name, arg in zip(names[same:], args[same:], strict=True)]
        exec(f"def encode(o):\n    return [{', '.join(reads)}]\n"
             f"def build(v{''.join(', ' + name for name in self.extra)}):\n    return _cls({', '.join(args)})\n",
             namespace)
        object.__setattr__(self, "encode", namespace["encode"])
        object.__setattr__(self, "build", namespace["build"])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def first_length(self) -> int:
        """The length of the arrays of the first files: the fields of revision 1."""
        return sum(1 for f in self.fields if f.since == 1)

    def decode(self, v: Any, what: str) -> Any:
        """A nested record: its array has exactly as many fields as the table."""
        return self.build(_list(v, what, len(self.fields)))

    def whole(self, v: Any, what: str) -> list[Any]:
        """A host or domain array: as long as now, or as in an earlier file (later fields then at None)."""
        values = _list(v, what)
        if not self.first_length <= len(values) <= len(self.fields):
            raise FormatError(f"{what} has {len(values)} fields, not {len(self.fields)}")
        return values + [None] * (len(self.fields) - len(values))


def rows(table: Table, what: str, most: int, item: str | None = None, none_is_empty: bool = False) -> Codec:
    """A list of records of ``table`` (at most ``most``); each entry checked as ``item``."""
    build, encode, count, item = table.build, table.encode, len(table.fields), item or table.kind

    def decode(v: Any, _what: str) -> tuple[Any, ...]:
        entries = _list([] if v is None and none_is_empty else v, what, most=most)
        return tuple([build(x) if type(x) is list and len(x) == count else build(_list(x, item, count))
                      for x in entries])

    return Codec(decode, lambda v: [encode(x) for x in v])


def record_or_none(table: Table, what: str) -> Codec:
    return Codec(lambda v, _what: None if v is None else table.decode(v, what),
                 lambda v: None if v is None else table.encode(v))


def _counters(names: Sequence[str], what: str, codec: Codec = INT) -> tuple[Field, ...]:
    return tuple(Field(n, codec, what) for n in names)


# --- the tables (the header's "fields" lists their names, in this order) -------------------------

PCPU = Table("pCPU", Pcpu, (Field("number", CPU, "pCPU number"), Field("node", REQUIRED_INT, "pCPU node"),
                            Field("socket", REQUIRED_INT, "pCPU socket"), Field("core", INT, "pCPU core"),
                            Field("online", BOOL, "pCPU online")))
L3 = Table("L3", L3Cache, (Field("cache_id", REQUIRED_INT, "L3 id"), Field("size_bytes", REQUIRED_INT, "L3 size")))
HOST = Table("host", HostSample, extra=("mem_free_kib",), fields=(
    Field("hostname", STR, "hostname"), Field("hypervisor", STR, "hypervisor"),
    Field("hypervisor_version", STR, "hypervisor version"), Field("uri", STR, "host uri"),
    Field("pcpus", CPU, "host pcpus"), Field("mhz", REQUIRED_INT, "host mhz"),
    Field("mem_total_kib", REQUIRED_INT, "host memory"), Field("cpu_model", STR, "cpu model"),
    Field("libvirt_version", STR, "libvirt version"), Field("cache_monitoring", STR, "cache monitoring"),
    Field("boot_time", TIME_OR_NONE, "boot time"),
    Field("topology", rows(PCPU, "host topology", MAX_CPUS), "host topology"),
    Field("l3_caches", rows(L3, "L3 caches", limits.MAX_CACHES, none_is_empty=True), "L3 caches", since=2),
    Field("cache_rmids", INT, "RMIDs", since=2),
))
BANK = Table("cache bank", CacheBank, (
    Field("cache_id", INT, "cache id"),
    *_counters(("occupancy_bytes", "mbm_total_bytes", "mbm_local_bytes"), "cache counter"),
    *_counters(("mbm_total_bytes_s", "mbm_local_bytes_s"), "cache rate", RATE_OR_NONE),
))
CACHE = Table("cache", CacheSample, (
    Field("source", STR, "cache source"), Field("group", STR, "cache group"),
    Field("banks", rows(BANK, "cache banks", limits.MAX_CACHES), "cache banks"),
    Field("status", Str(most=limits.MAX_MESSAGE), "cache status"),
    Field("counter_bits", Codec(_counter_bits), "counter bits"),
))
VCPU = Table("vCPU", VcpuSample, (
    Field("number", CPU, "vCPU number"), Field("online", BOOL, "vCPU online"), Field("time_ns", INT, "vCPU time"),
    Field("delay_ns", INT, "vCPU delay"), Field("pcpu", OPTIONAL_CPU, "vCPU pcpu"),
    Field("hard_affinity", CPUSET, "hard affinity"), Field("soft_affinity", CPUSET, "soft affinity"),
))
NET = Table("net", NetSample, (
    Field("name", STR, "net name"),
    *_counters(("rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes", "tx_packets", "tx_errs", "tx_drop"),
               "net counter"),
))
BLOCK = Table("block", BlockSample, (
    Field("name", STR, "block name"), Field("path", STR, "block path"),
    *_counters(("rd_reqs", "rd_bytes", "wr_reqs", "wr_bytes", "oo_reqs", "errors"), "block counter"),
    Field("kind", STR, "block kind"), Field("devno", INT, "block devno"),
))
JOB = Table("job", JobSample, (
    Field("operation", _one_of(JOB_OPERATIONS, optional=False), "job operation"),
    *_counters(("elapsed_ms", "data_processed", "data_remaining", "data_total", "dirty_rate_bytes_s", "iteration",
                "downtime_ms"), "job figure"),
))
DOMAIN = Table("domain", DomainSample, (
    Field("uuid", STR, "domain uuid"), Field("name", STR, "domain name"), Field("domid", INT, "domain id"),
    Field("state", STATE, "domain state"), Field("cpu_ns", INT, "cpu time"),
    Field("vcpus_current", INT, "vcpus"), Field("vcpus_max", INT, "max vcpus"), Field("mem_kib", INT, "memory"),
    Field("maxmem_kib", INT, "max memory"), Field("rss_kib", INT, "rss"),
    Field("vcpus", rows(VCPU, "vCPUs", limits.MAX_VCPUS), "vCPUs"),
    Field("nets", rows(NET, "nets", limits.MAX_DEVICES), "nets"),
    Field("blocks", rows(BLOCK, "blocks", limits.MAX_DEVICES), "blocks"),
    Field("ssid", REQUIRED_INT, "ssid"), Field("flags", Str(optional=True), "flags"),
    Field("cache", record_or_none(CACHE, "cache"), "cache", since=2),
    Field("stale", Str(optional=True, most=limits.MAX_MESSAGE, none=""), "stale", since=2),
    Field("overhead_ns", SIGNED_OR_NONE, "overhead time", since=3),
    Field("domain_type", _one_of(guest.TYPES), "domain type", since=4),
    Field("device_model", _one_of(guest.DEVICE_MODELS), "device model", since=4),
    Field("hostdevs", HOSTDEVS, "host devices", since=4),
    Field("job", record_or_none(JOB, "job"), "job", since=5),
))
TABLES = {"host": HOST, "pcpu": PCPU, "domain": DOMAIN, "vcpu": VCPU, "net": NET, "block": BLOCK, "l3": L3,
          "cache": CACHE, "bank": BANK, "job": JOB}  # in the header's order


def header(uri: str, delay: float, created: float, version: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "created": created, "uri": uri, "delay": delay,
            "xentui": version, "fields": {k: list(t.names) for k, t in TABLES.items()}}


def check_header(v: Any) -> dict[str, Any]:
    """The header, or FormatError saying what a recording's first line would be."""
    if type(v) is not dict or v.get("format") != FORMAT:
        raise FormatError(f"not a xentui recording (its first line lacks \"format\": \"{FORMAT}\")")
    if v.get("version") != VERSION:
        raise FormatError(f"recording format version {brief(v.get('version'))}; this xentui reads version {VERSION}")
    _time(v.get("delay"), "header delay")
    _str(v.get("uri"), "header uri")
    return v


# What a recording does not keep yet (issue 18's figures): a replay shows them unknown.  ``as_recorded`` is a
# sample as its replay will read it, so what is kept can be checked field for field.
NOT_RECORDED = {"domain": ("pressure", "numa", "agent", "balloon"),
                "block": ("rd_times_ns", "wr_times_ns", "fl_reqs", "fl_times_ns")}


def as_recorded(d: DomainSample) -> DomainSample:
    """``d`` without the figures a recording does not keep (NOT_RECORDED)."""
    cleared: dict[str, Any] = dict.fromkeys(NOT_RECORDED["domain"])
    times: dict[str, Any] = dict.fromkeys(NOT_RECORDED["block"])
    return replace(d, blocks=tuple(replace(b, **times) for b in d.blocks), **cleared)


def encode_host(h: HostSample) -> list[Any]:
    return HOST.encode(h)


def encode_domain(d: DomainSample) -> list[Any]:
    return DOMAIN.encode(d)


def decode_host(v: Any, mem_free_kib: int) -> HostSample:
    host: HostSample = HOST.build(HOST.whole(v, "host"), mem_free_kib)
    return host


def decode_domain(v: Any) -> DomainSample:
    domain: DomainSample = DOMAIN.build(DOMAIN.whole(v, "domain"))
    return domain
