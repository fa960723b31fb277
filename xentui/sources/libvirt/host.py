"""The libvirt host's facts (read once per connection) and its memory (read each tick)."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

import libvirt

from xentui.model import HostSample, L3Cache, Pcpu
from xentui.sources.base import SourceError
from xentui.sources.cache_qos.libvirt import capabilities_l3
from xentui.sources.deadlines import NoAnswer
from xentui.sources.libvirt.errors import UNSUPPORTED, error_line
from xentui.sources.local_machine import Memory
from xentui.sources.placement import parse_topology


@dataclass(frozen=True)
class HostFacts:
    """What a connection says about its host that does not change while it is open."""

    hostname: str
    hypervisor: str  # "QEMU", "Xen", "Test", ...
    hypervisor_version: str
    pcpus: int
    mhz: int
    cpu_model: str
    libvirt_version: str
    topology: tuple[Pcpu, ...] = ()  # pCPUs by NUMA node and socket, with which are online
    l3_caches: tuple[L3Cache, ...] = ()

    @property
    def cpumap_size(self) -> int:
        """How many pCPUs a pin's cpumap covers."""
        return max(self.pcpus, len(self.topology))

    def sample(self, uri: str, memory: Memory, *, boot_time: float | None,
               cache_monitoring: str, l3_caches: tuple[L3Cache, ...], cache_rmids: int | None) -> HostSample:
        """This tick's :class:`HostSample`: the facts with the figures that change."""
        mem_total_kib, mem_free_kib, mem_available_kib = memory
        return HostSample(uri=uri, mem_total_kib=mem_total_kib, mem_free_kib=mem_free_kib,
                          mem_available_kib=mem_available_kib, boot_time=boot_time,
                          cache_monitoring=cache_monitoring, cache_rmids=cache_rmids, hostname=self.hostname,
                          hypervisor=self.hypervisor, hypervisor_version=self.hypervisor_version,
                          pcpus=self.pcpus, mhz=self.mhz, cpu_model=self.cpu_model,
                          libvirt_version=self.libvirt_version, topology=self.topology, l3_caches=l3_caches)


def _version(number: int) -> str:
    major, rest = divmod(number, 1_000_000)
    minor, micro = divmod(rest, 1_000)
    return f"{major}.{minor}.{micro}"


def read_host_facts(conn: libvirt.virConnect, uri: str) -> HostFacts:
    """The host's facts (several round trips: call it under a deadline); SourceError when unreadable."""
    try:
        model, _mem_mib, cpus, mhz, *_ = conn.getInfo()
        hv_type = conn.getType()
        try:
            hv_version = _version(conn.getVersion())
        except libvirt.libvirtError:
            hv_version = "?"
        try:
            hostname = conn.getHostname()
        except libvirt.libvirtError:
            hostname = socket.gethostname()
        topology, l3_caches = _from_capabilities(conn)
        return HostFacts(hostname=hostname, hypervisor=hv_type, hypervisor_version=hv_version, pcpus=cpus,
                         mhz=mhz, cpu_model=model, libvirt_version=_version(conn.getLibVersion()),
                         topology=topology, l3_caches=l3_caches)
    except libvirt.libvirtError as err:
        raise SourceError(f"cannot read host information from {uri!r}: {error_line(err)}") from None


def _from_capabilities(conn: libvirt.virConnect) -> tuple[tuple[Pcpu, ...], tuple[L3Cache, ...]]:
    """pCPUs by NUMA node and socket, with which are online, and each L3's size (libvirt shows the
    ``<cache>`` banks when resctrl is mounted); () when the driver cannot say."""
    try:
        _size, online, _count = conn.getCPUMap()
    except libvirt.libvirtError:
        online = None
    try:
        caps = conn.getCapabilities()
    except libvirt.libvirtError:
        return (), ()
    try:
        topology = parse_topology(caps, online)
    except (ET.ParseError, ValueError):
        topology = ()
    return topology, capabilities_l3(caps)


class NodeMemory:
    """The host's (total, free, available) KiB through libvirt: node memory stats, else getInfo + getFreeMemory."""

    def __init__(self) -> None:
        self._node_memstats = True  # until the driver says it has none
        self._last: Memory | None = None

    def now(self, bounded: Callable[[], Memory], uri: str) -> Memory:
        """:meth:`read` under ``bounded``'s deadline; the last figures while libvirtd does not answer."""
        try:
            self._last = bounded()
        except NoAnswer:
            if self._last is None:
                raise SourceError(f"{uri!r}: libvirtd did not say how much memory the host has") from None
        return self._last

    def took(self, figures: Memory) -> Memory:
        """Figures :meth:`read` gave in another call (the tick's statistics call), kept as the last."""
        self._last = figures
        return figures

    def read(self, conn: libvirt.virConnect) -> Memory:
        """One or two round trips (call it under a deadline)."""
        if self._node_memstats:
            try:
                stats = conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
                cache = stats.get("buffers", 0) + stats.get("cached", 0)  # reclaimable: as available as free
                return stats["total"], stats["free"], stats["free"] + cache if "cached" in stats else None
            except libvirt.libvirtError as err:
                if err.get_error_code() not in UNSUPPORTED:
                    raise
                self._node_memstats = False
        total = conn.getInfo()[1] * 1024
        free = conn.getFreeMemory() // 1024
        return total, free, None
