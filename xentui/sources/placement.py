"""Where vCPUs run and may run (libvirt): host topology and a cheap placement cache.

Bulk stats carry no affinity and no current pCPU, so those come from one ``vcpus()``
call per domain.  That call is made when a domain appears, every tick for the one
domain a view is watching, and otherwise on a slow cadence spread over the ticks,
never one call per domain per tick.
"""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from xentui.model import Pcpu

REFRESH_S = 60.0  # every domain's affinity is re-read at least this often
ALL_REFRESH_S = 2.0  # ...and this often while a view shows every domain's current pCPU
ALL_BUDGET = 64  # most domains re-read in one tick while such a view is open
FRESH_PCPU_S = 5.0  # a vCPU's current pCPU older than this is not shown (it moves all the time)

Key = tuple[str, int | None]  # (uuid, domid): a restarted domain is a new key
VcpuPlace = tuple[int | None, frozenset[int] | None]  # (current pCPU, hard affinity)


def parse_topology(capabilities_xml: str, online: Iterable[bool] | None = None) -> tuple[Pcpu, ...]:
    """pCPUs with NUMA node, socket and core from ``virConnectGetCapabilities``.

    ``online`` is ``getCPUMap()[1]``; CPUs it does not cover count as online.
    """
    root = ET.fromstring(capabilities_xml)
    flags = list(online) if online is not None else None
    out: dict[int, Pcpu] = {}
    for cell in root.findall("./host/topology/cells/cell"):
        node = int(cell.get("id", "0"))
        for cpu in cell.findall("./cpus/cpu"):
            number = int(cpu.get("id", "-1"))
            if number < 0:
                continue
            core = cpu.get("core_id")
            out[number] = Pcpu(number, node=node, socket=int(cpu.get("socket_id") or node),
                               core=int(core) if core is not None else None,
                               online=flags[number] if flags is not None and number < len(flags) else True)
    if flags is not None:  # CPUs the topology leaves out (offline ones often have no ids)
        for number, is_online in enumerate(flags):
            out.setdefault(number, Pcpu(number, online=is_online))
    return tuple(out[n] for n in sorted(out))


@dataclass
class Placement:
    at: float  # monotonic time it was read
    vcpus: dict[int, VcpuPlace]
    settled: dict[int, VcpuPlace] | None = None  # the same without the current pCPU, made once it is not fresh


_CPU_SETS: dict[tuple[bool, ...], frozenset[int]] = {}  # cpumap -> its pCPUs: most vCPUs share a few maps


def _cpus_of(cpumap: tuple[bool, ...]) -> frozenset[int]:
    cpus = _CPU_SETS.get(cpumap)
    if cpus is None:
        if len(_CPU_SETS) > 4096:
            _CPU_SETS.clear()
        cpus = _CPU_SETS[cpumap] = frozenset(i for i, on in enumerate(cpumap) if on)
    return cpus


def placement_from_vcpus(infos: list[tuple[int, int, int, int]],
                         cpumaps: list[tuple[bool, ...]]) -> dict[int, VcpuPlace]:
    """``dom.vcpus()`` -> {vcpu: (pcpu, hard affinity)}."""
    return {number: (pcpu if pcpu >= 0 else None, _cpus_of(cpumap))
            for (number, _state, _cpu_ns, pcpu), cpumap in zip(infos, cpumaps, strict=False)}


@dataclass
class PlacementCache:
    clock: Callable[[], float] = time.monotonic
    watch: str | None = None  # the UUID a view shows: read every tick
    want_all: bool = False  # a view shows every domain's current pCPU
    entries: dict[Key, Placement] = field(default_factory=dict)

    def due(self, keys: list[Key]) -> list[Key]:
        """Which of this tick's active domains to read now."""
        now = self.clock()
        urgent = [k for k in keys if k not in self.entries or k[0] == self.watch]
        max_age, budget = (ALL_REFRESH_S, ALL_BUDGET) if self.want_all else (REFRESH_S, 0)
        stale = sorted((self.entries[k].at, k) for k in keys
                       if k in self.entries and k[0] != self.watch and now - self.entries[k].at >= max_age)
        # Without a view: spread the slow refresh so each tick reads ~1/REFRESH_S of the domains.
        budget = budget or max(1, math.ceil(len(keys) / REFRESH_S))
        return urgent + [k for _at, k in stale[:budget]]

    def store(self, key: Key, vcpus: dict[int, VcpuPlace]) -> None:
        self.entries[key] = Placement(self.clock(), vcpus)

    def get(self, key: Key) -> dict[int, VcpuPlace] | None:
        """What is known; the current pCPU only while fresh."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        if self.clock() - entry.at <= FRESH_PCPU_S:
            return entry.vcpus
        if entry.settled is None:  # once, not each tick (each domain's placement is read once a minute)
            entry.settled = {n: (None, hard) for n, (_pcpu, hard) in entry.vcpus.items()}
        return entry.settled

    def forget(self, uuid: str) -> None:
        """After a pin: read this domain again on the next tick."""
        for key in [k for k in list(self.entries) if k[0] == uuid]:
            self.entries.pop(key, None)

    def prune(self, live: set[Key]) -> None:
        for key in [k for k in list(self.entries) if k not in live]:  # list(): a call left hanging may still store
            self.entries.pop(key, None)
