"""libvirt's bulk statistics (``getAllDomainStats``) as model samples: pure, no libvirt call.

A record is libvirt's flat dict (``{'cpu.time': ..., 'vcpu.0.state': ...}``); the per-domain
fallback writes the same keys, so this one parser reads both.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import libvirt

from xentui.limits import MAX_CPUS, MAX_DEVICES, MAX_VCPUS, count, counter
from xentui.model import BlockSample, CacheSample, DomainSample, DomainState, NetSample, VcpuSample
from xentui.model.guest_agent import GuestAgent
from xentui.sources.cache_qos.libvirt import Record, libvirt_cache
from xentui.sources.guest import UNKNOWN, GuestFacts
from xentui.sources.hostside import NOT_FOUND, Found
from xentui.sources.libvirt.balloon import balloon_stats, stats_period
from xentui.sources.libvirt.guest_xml import guest_facts
from xentui.sources.placement import VcpuPlace

STATS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
    | libvirt.VIR_DOMAIN_STATS_BLOCK
    | libvirt.VIR_DOMAIN_STATS_PERF  # legacy perf.cmt/mbmt/mbml, when enabled
    | libvirt.VIR_DOMAIN_STATS_MEMORY  # memory.bandwidth.monitor.* (cpu.cache.monitor.* is in CPU_TOTAL)
)
STATS_FLAGS = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
KERNEL_AT = "xentui.kernel_at"  # not libvirt's: when the fast path read this guest's kernel files (fastpath)
MONITOR_AT = "xentui.monitor_at"  # not libvirt's: when the fast path read the monitor's figures (fastpath/turns.py)
KERNEL_FIGURES = "xentui.kernel_figures"  # not libvirt's either: the fast path's KernelFigures
NO_PLACE: VcpuPlace = (None, None)


@dataclass(frozen=True, slots=True)
class KernelFigures:
    """The fast path's figures of a guest's vCPUs and taps, typed and bounded as read (fastpath.fill), in place of
    libvirt's ``vcpu.N.*`` and ``net.N.*`` keys.  A record's value is taken for them only as an instance of this
    class, which no statistics call can give."""

    vcpus: tuple[tuple[int, int, int], ...]  # (number, time ns, delay ns) of each vCPU thread
    nets: tuple[NetSample, ...]  # each tap's counters, as the guest sees them


STATE_BY_CODE = {
    libvirt.VIR_DOMAIN_NOSTATE: DomainState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: DomainState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: DomainState.BLOCKED,
    libvirt.VIR_DOMAIN_PAUSED: DomainState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: DomainState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: DomainState.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: DomainState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: DomainState.PMSUSPENDED,
}

# libvirt's key suffixes of one vCPU / interface / disk (not the model's field names).
VCPU_KEYS = ("state", "time", "delay", "pcpu")
NET_KEYS = ("name", "rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts", "tx.errs", "tx.drop")
BLOCK_KEYS = ("name", "path", "rd.reqs", "rd.bytes", "wr.reqs", "wr.bytes", "errors")
BLOCK_TIME_KEYS = ("rd.times", "wr.times", "fl.reqs", "fl.times")  # request times, ns (QEMU; absent elsewhere)


@functools.cache
def stat_keys(group: str, index: int, fields: tuple[str, ...]) -> tuple[str, ...]:
    """('net', 0, ('name', ...)) -> ('net.0.name', ...): made once, not per tick."""
    return tuple(f"{group}.{index}.{f}" for f in fields)


def parse_stats(uuid: str, name: str, domid: int | None, rec: Record,
                placement: dict[int, VcpuPlace] | None = None, cache: CacheSample | None = None,
                stale: str = "", overhead: bool = False, guest: GuestFacts = UNKNOWN,
                agent: GuestAgent | None = None, host_side: Found = NOT_FOUND) -> DomainSample:
    """A bulk-stats record (``{'cpu.time': ..., ...}``) as a :class:`DomainSample`.

    ``placement`` ({vcpu: (pcpu, hard affinity)}) adds what bulk stats do not carry; ``cache``
    (from resctrl) is used when libvirt has no cache monitor of its own for the domain; ``overhead``
    (QEMU: cpu.time counts the whole process, vcpu.N.time its vCPU threads) measures what is beyond the vCPUs;
    ``guest``: its type, device model and host devices (from its XML); ``agent``: what its guest agent said
    (agent.py); ``host_side``: its PSI and NUMA, where this host's kernel has them (hostside).
    """
    get = rec.get
    vcpus: list[VcpuSample] = []
    kernel = get(KERNEL_FIGURES)
    if type(kernel) is not KernelFigures:
        kernel = None
    if kernel is not None:  # the fast path's, each vCPU online (a thread of its own): only the placement added
        for n, time_ns, delay_ns in kernel.vcpus:
            pcpu, hard = placement.get(n, NO_PLACE) if placement else NO_PLACE
            vcpus.append(VcpuSample(n, True, time_ns, delay_ns, pcpu if type(pcpu) is int and 0 <= pcpu < MAX_CPUS
                                    else None, hard))
    else:
        for n in range(count(get("vcpu.maximum"), MAX_VCPUS)):
            k_state, k_time, k_delay, k_pcpu = stat_keys("vcpu", n, VCPU_KEYS)
            if k_state in rec or k_time in rec:
                online = get(k_state, 1) != libvirt.VIR_VCPU_OFFLINE
                pcpu, hard = placement.get(n, NO_PLACE) if placement else NO_PLACE
                pcpu = get(k_pcpu, pcpu)
                vcpus.append(VcpuSample(n, online, counter(get(k_time)), counter(get(k_delay)),
                                        pcpu if type(pcpu) is int and 0 <= pcpu < MAX_CPUS else None, hard))
    nets: list[NetSample] | tuple[NetSample, ...]
    if kernel is not None:
        nets = kernel.nets
    else:
        nets = []
        for i in range(count(get("net.count"), MAX_DEVICES)):
            keys = stat_keys("net", i, NET_KEYS)
            nets.append(NetSample(_text(get(keys[0]), f"net{i}"), *map(counter, map(get, keys[1:]))))
    blocks = []
    for i in range(count(get("block.count"), MAX_DEVICES)):
        (k_name, k_path, k_rd_reqs, k_rd_bytes, k_wr_reqs, k_wr_bytes, k_errors,
         k_rd_times, k_wr_times, k_fl_reqs, k_fl_times) = stat_keys("block", i, BLOCK_KEYS + BLOCK_TIME_KEYS)
        if k_rd_times in rec or k_wr_times in rec:  # request times and flushes (QEMU; unknown elsewhere: None)
            rd_times, wr_times = counter(get(k_rd_times)), counter(get(k_wr_times))
            fl_reqs, fl_times = counter(get(k_fl_reqs)), counter(get(k_fl_times))
        else:
            rd_times = wr_times = fl_reqs = fl_times = None
        blocks.append(BlockSample(
            name=_text(get(k_name), f"block{i}"), path=_text(get(k_path), ""),
            rd_reqs=counter(get(k_rd_reqs)), rd_bytes=counter(get(k_rd_bytes)), wr_reqs=counter(get(k_wr_reqs)),
            wr_bytes=counter(get(k_wr_bytes)), errors=counter(get(k_errors)), rd_times_ns=rd_times,
            wr_times_ns=wr_times, fl_reqs=fl_reqs, fl_times_ns=fl_times))
    state = get("state.state", 0)
    # A domain shut off has no CPU time; one being torn down is given libvirtd's own (libvirt reads /proc/self/stat
    # once its QEMU pid is gone: measured in the lab, tests/integration/test_faults.py's churn), never the guest's.
    cpu_ns = counter(get("cpu.time")) if state != libvirt.VIR_DOMAIN_SHUTOFF else None
    return DomainSample(
        uuid=uuid,
        name=name,
        domid=domid,
        state=STATE_BY_CODE.get(state, DomainState.NOSTATE) if type(state) is int else DomainState.NOSTATE,
        cpu_ns=cpu_ns,
        vcpus_current=counter(get("vcpu.current")),
        vcpus_max=counter(get("vcpu.maximum")),
        mem_kib=counter(get("balloon.current")),
        maxmem_kib=counter(get("balloon.maximum")),
        rss_kib=counter(get("balloon.rss")),
        vcpus=tuple(vcpus),
        nets=tuple(nets),
        blocks=tuple(blocks),
        cache=libvirt_cache(rec) or cache,
        stale=stale,
        overhead_ns=beyond_vcpus(cpu_ns, vcpus) if overhead else None,
        domain_type=guest.domain_type,
        device_model=guest.device_model,
        hostdevs=guest.hostdevs,
        balloon=balloon_stats(rec),
        agent=agent,
        pressure=host_side[0],
        numa=host_side[1],
        monitor_at=at if type(at := get(MONITOR_AT)) is float else None,
        kernel_at=read if type(read := get(KERNEL_AT)) is float else None,
    )


def beyond_vcpus(cpu_ns: int | None, vcpus: list[VcpuSample]) -> int | None:
    """cpu.time minus every online vCPU's time; None when any part is missing (a partial sum would lie)."""
    online = [v.time_ns for v in vcpus if v.online]
    if cpu_ns is None or not online or None in online:
        return None
    return cpu_ns - sum(t for t in online if t is not None)


def _text(v: object, default: str) -> str:
    return v if type(v) is str else default


@dataclass(frozen=True)
class Devices:
    """Device names and what the guest is, from a domain's XML, cached per (uuid, domid)."""

    nets: tuple[str, ...]
    disks: tuple[tuple[str, str], ...]  # (target, source path)
    guest: GuestFacts = UNKNOWN
    balloon_period: int | None = None  # the virtio balloon's stats period (0: off; None: no virtio balloon)


def parse_devices(xml: str, sysfs: Path | None = None) -> Devices:
    """Interface targets, (disk target, source path) pairs and the guest's facts of a domain's XML (``sysfs``:
    this host's PCI devices, to mark SR-IOV virtual functions)."""
    root = ET.fromstring(xml)
    nets = tuple(
        t.get("dev", "")
        for t in root.findall("./devices/interface/target")
        if t.get("dev")
    )
    disks = []
    for disk in root.findall("./devices/disk"):
        target = disk.find("target")
        if target is None or not target.get("dev"):
            continue
        source = disk.find("source")
        path = ""
        if source is not None:
            path = source.get("file") or source.get("dev") or source.get("name") or ""
        disks.append((target.get("dev", ""), path))
    return Devices(nets=nets, disks=tuple(disks), guest=guest_facts(root, sysfs), balloon_period=stats_period(root))


def not_off(rec: Record) -> bool:
    """Whether its sample will be active (DomainSample.active: any state but shut off, none known included)."""
    return bool(rec.get("state.state") != libvirt.VIR_DOMAIN_SHUTOFF)


def active(rec: Record) -> bool:
    """Whether the record is of a running (or paused, ...) domain: it has a state, and not shut off."""
    return rec.get("state.state") not in (None, libvirt.VIR_DOMAIN_SHUTOFF)
