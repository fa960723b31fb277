"""A frame of ``xentui -b --format json`` (docs: the README's batch JSON) back into a RawSample.

Every value comes from another host: types are checked, counters must be in [0, 2**64), counts are
bounded (xentui.limits), strings are kept as data (shown later through the text door).  A value of the
wrong type becomes unknown (None); a frame that is not a batch frame at all is a :class:`FrameError`.
"""

from __future__ import annotations

from typing import Any

from xentui.cpulist import CpuListError, parse_cpulist
from xentui.limits import MAX_DEVICES, MAX_DOMAINS, MAX_MESSAGE, MAX_MESSAGES, MAX_NAME, MAX_SECONDS, MAX_VCPUS, counter
from xentui.model import BlockSample, DomainSample, DomainState, HostSample, NetSample, Pcpu, RawSample, VcpuSample
from xentui.output.records import JSON_FORMAT, JSON_VERSION
from xentui.sources.guest import from_outside
from xentui.sources.ssh_json.scheduling import decode_scheduling
from xentui.sources.ssh_json.values import dicts as _dicts
from xentui.sources.ssh_json.values import items as _list
from xentui.sources.ssh_json.values import text as _text

STATES = {s.value: s for s in DomainState}


class FrameError(ValueError):
    """The line is not a frame of xentui's batch JSON this xentui reads (one line, for the host line)."""


def _int(v: Any) -> int | None:
    return counter(v)


def _seconds(v: Any) -> float | None:
    return float(v) if type(v) in (int, float) and 0 <= v < MAX_SECONDS else None


def _affinity(v: Any, ncpus: int) -> frozenset[int] | None:
    if type(v) is not str or not ncpus:
        return None
    try:
        return parse_cpulist(v[:MAX_NAME], ncpus)
    except CpuListError:
        return None


def decode_host(v: Any) -> HostSample:
    h = v if type(v) is dict else {}
    pcpus = min(_int(h.get("pcpus")) or 0, 1 << 16)
    topology = tuple(Pcpu(number=n, node=_int(p.get("node")) or 0, socket=_int(p.get("socket")) or 0,
                          core=_int(p.get("core")), online=p.get("online") is not False)
                     for p in _dicts(h.get("topology"), pcpus) if (n := _int(p.get("number"))) is not None)
    return HostSample(
        hostname=_text(h.get("hostname")), hypervisor=_text(h.get("hypervisor")),
        hypervisor_version=_text(h.get("hypervisor_version")), uri=_text(h.get("uri")), pcpus=pcpus,
        mhz=_int(h.get("mhz")) or 0, mem_total_kib=_int(h.get("mem_total_kib")) or 0,
        mem_free_kib=_int(h.get("mem_free_kib")) or 0, mem_available_kib=_int(h.get("mem_available_kib")),
        cpu_model=_text(h.get("cpu_model")),
        libvirt_version=_text(h.get("libvirt_version")), boot_time=_seconds(h.get("boot_time")),
        topology=topology if len(topology) == pcpus else (),
    )


def _vcpu(v: dict[str, Any], ncpus: int) -> VcpuSample | None:
    number = _int(v.get("number"))
    if number is None:
        return None
    return VcpuSample(number=number, online=v.get("online") is not False, time_ns=_int(v.get("time_ns")),
                      delay_ns=_int(v.get("steal_ns")), pcpu=_int(v.get("pcpu")),
                      hard_affinity=_affinity(v.get("hard_affinity"), ncpus),
                      soft_affinity=_affinity(v.get("soft_affinity"), ncpus))


def _net(v: dict[str, Any]) -> NetSample:
    return NetSample(name=_text(v.get("name")), **{k: _int(v.get(k)) for k in (
        "rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes", "tx_packets", "tx_errs", "tx_drop")})


def _block(v: dict[str, Any]) -> BlockSample:
    return BlockSample(name=_text(v.get("name")), path=_text(v.get("path")), kind=_text(v.get("kind")),
                       devno=_int(v.get("devno")), **{k: _int(v.get(k)) for k in (
                           "rd_reqs", "rd_bytes", "wr_reqs", "wr_bytes", "oo_reqs", "errors")})


def decode_domain(v: dict[str, Any], ncpus: int) -> DomainSample | None:
    uuid, state = _text(v.get("uuid")), STATES.get(v.get("state"))  # type: ignore[arg-type]
    if not uuid or state is None:
        return None
    flags = v.get("state_flags")
    guest = from_outside(v.get("domain_type"), v.get("device_model"), v.get("hostdevs"))
    return DomainSample(
        uuid=uuid, name=_text(v.get("name")), domid=_int(v.get("id")), state=state, cpu_ns=_int(v.get("cpu_ns")),
        vcpus_current=_int(v.get("vcpus_online")), vcpus_max=_int(v.get("vcpus_max")),
        mem_kib=_int(v.get("mem_kib")), maxmem_kib=_int(v.get("maxmem_kib")), rss_kib=_int(v.get("rss_kib")),
        vcpus=tuple(c for x in _dicts(v.get("vcpu_list"), MAX_VCPUS) if (c := _vcpu(x, ncpus)) is not None),
        nets=tuple(_net(x) for x in _dicts(v.get("net_list"), MAX_DEVICES)),
        blocks=tuple(_block(x) for x in _dicts(v.get("vbd_list"), MAX_DEVICES)),
        ssid=_int(v.get("ssid")) or 0, flags=flags if type(flags) is str and len(flags) == 6 else None,
        stale=_text(v.get("stale"), MAX_MESSAGE), domain_type=guest.domain_type, device_model=guest.device_model,
        hostdevs=guest.hostdevs,
    )


def decode_frame(frame: Any, monotonic: float) -> RawSample:
    """One batch frame as the RawSample its host would have given, stamped ``monotonic`` (the caller's
    clock for this stream: the remote's own intervals, added up)."""
    if type(frame) is not dict or frame.get("format") != JSON_FORMAT:
        raise FrameError("not xentui's batch JSON (is the remote command 'xentui -b --format json'?)")
    if frame.get("version") != JSON_VERSION:
        raise FrameError(f"batch JSON version {str(frame.get('version'))[:20]}; this xentui reads "
                         f"version {JSON_VERSION} (run the same xentui release on both hosts)")
    host = decode_host(frame.get("host"))
    listed = _dicts(frame.get("domains"), MAX_DOMAINS)
    domains = tuple(d for x in listed if (d := decode_domain(x, host.pcpus)) is not None)
    uuids = {d.uuid for d in domains}
    if len(uuids) != len(domains):  # the contract: UUIDs unique within a sample
        seen: set[str] = set()
        domains = tuple(d for d in domains if not (d.uuid in seen or seen.add(d.uuid)))  # type: ignore[func-returns-value]
    messages = [_text(m, MAX_MESSAGE) for m in _list(frame.get("errors"), MAX_MESSAGES)]
    notices = [_text(m, MAX_MESSAGE) for m in _list(frame.get("notices"), MAX_MESSAGES)]
    wall = _seconds(frame.get("epoch_s")) or 0.0
    return RawSample(monotonic=monotonic, wall=wall, host=host, domains=domains,
                     errors=tuple(m for m in messages if m), notices=tuple(m for m in notices if m),
                     scheduling=decode_scheduling(frame, listed, wall))
