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
    JobSample,
    L3Cache,
    NetSample,
    Pcpu,
    VcpuSample,
)
from xentui.model.samples import JOB_OPERATIONS
from xentui.recording import guest_tables
from xentui.recording.fields import (
    BOOL,
    CPU,
    CPUSET,
    INT,
    MAX_CPUS,
    OPTIONAL_CPU,
    RATE_OR_NONE,
    REQUIRED_INT,
    SIGNED_OR_NONE,
    STR,
    TIME_OR_NONE,
    Codec,
    Field,
    FormatError,
    Str,
    Table,
    _counter_bits,
    _counters,
    _list,
    _one_of,
    _str,
    _time,
    record_or_none,
    rows,
)
from xentui.sources import guest
from xentui.text import brief

FORMAT = "xentui-record"
VERSION = 1


_STATES = {s.value: s for s in DomainState}


def _state(v: Any, what: str) -> DomainState:
    state = _STATES.get(v) if type(v) is str else None
    if state is None:
        raise FormatError(f"{what} {brief(v)} is not one of {', '.join(_STATES)}")
    return state


STATE = Codec(_state, lambda v: v.value)


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
    *guest_tables.BLOCK_TIMES,
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
    *guest_tables.GUEST_FIELDS,
))
TABLES = {"host": HOST, "pcpu": PCPU, "domain": DOMAIN, "vcpu": VCPU, "net": NET, "block": BLOCK, "l3": L3,
          "cache": CACHE, "bank": BANK, "job": JOB, **guest_tables.TABLES}  # in the header's order


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


# What a recording does not keep (issue 18's host-side figures, which this lab cannot show: cgroup v1, one NUMA
# node): a replay shows them unknown.  ``as_recorded`` is a sample as its replay will read it, so what is kept
# can be checked field for field.
# monitor_at: a recording reads every figure every tick (never in turns: cli/record.py, --record), so it is None.
# kernel_at: a replay's rates span its samples' stamps (the middle of each stats call), as a remote host's do.
NOT_RECORDED: dict[str, tuple[str, ...]] = {"domain": ("pressure", "numa", "monitor_at", "kernel_at"), "block": ()}


def as_recorded(d: DomainSample) -> DomainSample:
    """``d`` without the figures a recording does not keep (NOT_RECORDED)."""
    cleared: dict[str, Any] = dict.fromkeys(NOT_RECORDED["domain"])
    if NOT_RECORDED["block"]:
        times: dict[str, Any] = dict.fromkeys(NOT_RECORDED["block"])
        d = replace(d, blocks=tuple(replace(b, **times) for b in d.blocks))
    return replace(d, **cleared)


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
