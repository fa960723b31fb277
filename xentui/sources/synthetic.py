"""Deterministic made-up hosts: for screenshots, snapshot tests and frame benchmarks.

Every call advances a fake clock by exactly ``step`` seconds and every counter by a fixed
pattern, so two runs give identical screens.  Never used against a real hypervisor.
"""

from __future__ import annotations

import functools

from xentui.actions import Action, ActionError, ActionParams
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
from xentui.sources import synthetic_guest
from xentui.sources.base import Source
from xentui.sources.cache_qos.status import CacheStatus
from xentui.sources.synthetic_scheduling import SyntheticScheduling

MIB = 1 << 20
L3_BYTES = 32 * MIB  # per socket, when the made-up host has Cache QoS

NAMES = ("web", "db", "cache", "build", "mail", "dns", "backup", "ci-runner", "monitor", "proxy")
# (state, share of one pCPU per vCPU) for the first domains; the rest cycle through them.
PROFILES = ((DomainState.RUNNING, 0.97), (DomainState.RUNNING, 0.42), (DomainState.BLOCKED, 0.03),
            (DomainState.RUNNING, 0.71), (DomainState.PAUSED, 0.0), (DomainState.BLOCKED, 0.01),
            (DomainState.RUNNING, 0.18), (DomainState.CRASHED, 0.0), (DomainState.BLOCKED, 0.06),
            (DomainState.RUNNING, 0.55))


class SyntheticSource(Source):
    """``count`` domains on a ``pcpus``-pCPU host whose numbers follow a fixed script."""

    CAN_ACT = True  # vCPU pins, scheduler parameters and cpupool moves only

    def __init__(self, count: int = 10, pcpus: int = 8, step: float = 1.0, hypervisor: str = "SYNTHETIC",
                 readonly: bool = True, cache: bool = False, scheduling: bool = False, guest: bool = False) -> None:
        self.uri = "synthetic://"
        self.guest = guest  # the guests' own figures: agent, balloon statistics, request times, steal (issue 18)
        self.cache = cache  # Cache QoS as resctrl would give it (every fourth domain not attached)
        self.readonly = readonly
        self._pins: dict[tuple[int, int], frozenset[int]] = {}  # (domain, vCPU) -> pCPUs, set by act()
        self.scheduling = SyntheticScheduling(pcpus) if scheduling else None  # cpupools (recordings carry none)
        self.count = count
        self.pcpus = pcpus
        self.step = step
        self.hypervisor = hypervisor
        self.tick = 0
        self._vcpu_ns: dict[int, int] = {}  # cumulative busy time of each domain's vCPUs
        per_node = max(1, pcpus // 2)  # two NUMA nodes (one socket each) when there are 2+ pCPUs
        self.topology = tuple(Pcpu(n, node=n // per_node, socket=n // per_node, core=n % per_node)
                              for n in range(pcpus))
        self._all = frozenset(range(pcpus))
        self._single = [frozenset({n}) for n in range(pcpus)]
        self._lowest: dict[frozenset[int], int] = {}
        self._nodes = [frozenset(p.number for p in self.topology if p.node == node)
                       for node in sorted({p.node for p in self.topology})]

    @functools.cache  # noqa: B019 - one source per run; the cache is its size
    def _names(self, i: int) -> tuple[str, str, str, str]:
        """(uuid, name, NIC, disk path): made once, not every tick (this host should cost next to nothing)."""
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f"-{i // len(NAMES)}")
        return f"{i:08x}-5e1f-4a11-8000-00000000{i:04x}", name, f"vnet{i}", f"/var/lib/libvirt/images/{name}.qcow2"

    def _domain(self, i: int) -> DomainSample:
        state, share = PROFILES[i % len(PROFILES)]
        vcpus = 1 + i % 4
        uuid, name, nic, path = self._names(i)
        t = self.tick * self.step
        wobble = 1.0 + 0.05 * ((self.tick + i) % 3 - 1)  # -5 %, 0, +5 %: numbers move, deterministically
        busy_ns = int(min(1.0, share * wobble) * 1e9 * self.step)  # each vCPU's busy time this tick (≤ 100 %)
        self._vcpu_ns[i] = vcpu_ns = self._vcpu_ns.get(i, int(1_000e9 * (i + 1) / vcpus)) + busy_ns
        nets = (NetSample(nic, rx_bytes=int(t * 125_000 * (i % 5)), tx_bytes=int(t * 40_000 * (i % 7)),
                          rx_packets=int(t * 90 * (i % 5)), tx_packets=int(t * 30 * (i % 7)),
                          rx_errs=0, rx_drop=0, tx_errs=0, tx_drop=0),)
        blocks = (BlockSample("vda", path=path,
                              rd_reqs=int(t * 20 * (i % 4)), rd_bytes=int(t * 2_000_000 * (i % 4)),
                              wr_reqs=int(t * 11 * (i % 3)), wr_bytes=int(t * 700_000 * (i % 3))),)
        guest = self.guest and state is not DomainState.SHUTOFF
        mem_kib = (512 << 10) * (1 + i % 8)
        return DomainSample(
            uuid=uuid,
            name=name,
            domid=None if state is DomainState.SHUTOFF else i + 1,
            state=state,
            cpu_ns=vcpu_ns * vcpus,
            vcpus_current=vcpus,
            vcpus_max=vcpus,
            mem_kib=mem_kib,
            maxmem_kib=(1024 << 10) * (1 + i % 8),
            rss_kib=(500 << 10) * (1 + i % 8),
            vcpus=tuple(self._vcpu(i, n, vcpu_ns, synthetic_guest.delay_ns(i, n, state, t) if guest
                                   else int(t * 1e7 * (n + 1))) for n in range(vcpus)),
            nets=nets,
            blocks=tuple(synthetic_guest.timed(b, i) for b in blocks) if guest else blocks,
            agent=synthetic_guest.agent(i, state, self.wall) if guest else None,
            balloon=synthetic_guest.balloon(i, state, mem_kib, t, self.wall) if guest else None,
            cache=self._cache(i, t) if self.cache and state is not DomainState.SHUTOFF else None,
        )

    def _cache(self, i: int, t: float) -> CacheSample:
        """LLC mostly on the domain's own socket; MBM counters growing at a fixed rate."""
        if i % 4 == 3:
            return CacheSample("resctrl", status=CacheStatus.NOT_ATTACHED)
        home = i % len(self._nodes)
        banks = []
        for socket in range(len(self._nodes)):
            share = 1.0 if socket == home else 0.1
            bandwidth = int(t * 100 * MIB * (1 + i % 3) * share)
            banks.append(CacheBank(socket, int(MIB * (1.5 + 2 * (i % 5)) * share), bandwidth, bandwidth * 4 // 5))
        return CacheSample("resctrl", group=f"mon_groups/xentui-{self._names(i)[1]}", banks=tuple(banks))

    def _vcpu(self, i: int, n: int, time_ns: int, delay_ns: int) -> VcpuSample:
        allowed = self._affinity(i, n)
        low = self._lowest.get(allowed)
        if low is None:
            low = self._lowest[allowed] = min(allowed)
        pcpu = low + (i + n + self.tick // 5) % len(allowed)  # moves now and then, always allowed
        return VcpuSample(n, time_ns=time_ns, delay_ns=delay_ns, pcpu=pcpu if pcpu in allowed else low,
                          hard_affinity=allowed)

    def _affinity(self, i: int, n: int) -> frozenset[int]:
        """Some domains float, some are held to a NUMA node, some pinned one vCPU per pCPU."""
        if (i, n) in self._pins:
            return self._pins[(i, n)]
        kind = i % 3
        if kind == 0:
            return self._all
        if kind == 1:
            return self._nodes[i % len(self._nodes)]
        return self._single[(i + n) % self.pcpus]

    def collect(self) -> RawSample:
        self.tick += 1
        total = 64 << 20  # 64 GiB
        host = HostSample(
            hostname="made-up-host", hypervisor=self.hypervisor, hypervisor_version="8.2.2", uri=self.uri,
            pcpus=self.pcpus, mhz=2400, mem_total_kib=total, mem_free_kib=total // 3, cpu_model="x86_64",
            libvirt_version="10.0.0", boot_time=1_795_000_000.0 - 3 * 86400 - 4 * 3600, topology=self.topology,
            l3_caches=tuple(L3Cache(n, L3_BYTES) for n in range(len(self._nodes))) if self.cache else (),
            cache_rmids=128 if self.cache else None,
        )
        wall = self.wall
        domains = tuple(self._domain(i) for i in range(self.count))
        busy = tuple(int(self.tick * self.step * 1e9 * (0.1 + 0.8 * ((c * 37) % 10) / 10)) for c in range(self.pcpus))
        return RawSample(monotonic=1000.0 + self.tick * self.step, wall=wall,
                         host=host, domains=domains,
                         pcpu_busy_ns=busy,
                         scheduling=self.scheduling.read(self.tick, wall, domains) if self.scheduling else None)

    @property
    def wall(self) -> float:
        """This tick's made-up epoch time."""
        return 1_795_000_000.0 + self.tick * self.step

    # The made-up host obeys pins and scheduler edits: enough to try the vCPU and scheduler views without a hypervisor.
    def act(self, domain: DomainSample, action: Action, params: ActionParams) -> None:
        if action in (Action.SCHEDULE, Action.CPUPOOL) and self.scheduling is not None:
            self.scheduling.act(domain, action, params)
            return
        if action is not Action.PIN or "hard" not in params:
            raise ActionError(f"{action.value}: the synthetic host only takes vCPU pins and scheduler edits")
        i = int(domain.uuid.split("-")[-1], 16)
        vcpu = params.get("vcpu", "all")
        vcpus = range(len(domain.vcpus)) if vcpu == "all" else [vcpu]
        for n in vcpus:
            self._pins[(i, n)] = frozenset(params["hard"])

    def close(self) -> None:
        """Nothing to let go of."""
