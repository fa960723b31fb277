"""A fake libxenstat (the ``XenStat`` shape :class:`~xentui.sources.xen.XenSource` reads) and a fake ``xl``.

Handles are small Python objects; every ``xenstat_get_node`` is one tick: counters grow by fixed steps,
so two collections give rates.  ``xl`` answers ``vcpu-list`` and ``info -n`` from recorded outputs,
refuses ``psr-cmt-show`` as a dom0 without CMT does, and notes every action it is asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from xentui.sources.xen.xl import XlError

DATA = Path(__file__).parent / "data"
NO_LIMIT = 2**64 - 1


@dataclass
class FakeDomain:
    domid: int
    name: bytes
    vcpus: int
    running: bool = True
    mem_kib: int = 512 * 1024
    tick: int = 0


@dataclass
class _Node:
    tick: int
    domains: list[FakeDomain]


@dataclass
class _Vcpu:
    domain: FakeDomain
    number: int


class FakeLib:
    """The libxenstat calls XenSource makes, over a list of :class:`FakeDomain`."""

    def __init__(self, domains: list[FakeDomain]) -> None:
        self.domains = domains
        self.ticks = 0

    # node
    def xenstat_get_node(self, _handle: object, _flags: int) -> _Node:
        self.ticks += 1
        return _Node(self.ticks, list(self.domains))

    def xenstat_free_node(self, _node: _Node) -> None:
        return None

    def xenstat_node_num_cpus(self, _node: _Node) -> int:
        return 4

    def xenstat_node_num_domains(self, node: _Node) -> int:
        return len(node.domains)

    def xenstat_node_domain_by_index(self, node: _Node, i: int) -> FakeDomain:
        node.domains[i].tick = node.tick
        return node.domains[i]

    def xenstat_node_xen_version(self, _node: _Node) -> bytes:
        return b"4.17.0"

    def xenstat_node_cpu_hz(self, _node: _Node) -> int:
        return 2_400_000_000

    def xenstat_node_tot_mem(self, _node: _Node) -> int:
        return 8 << 30

    def xenstat_node_free_mem(self, _node: _Node) -> int:
        return 2 << 30

    # domain
    def xenstat_domain_id(self, d: FakeDomain) -> int:
        return d.domid

    def xenstat_domain_name(self, d: FakeDomain) -> bytes:
        return d.name

    def xenstat_domain_cpu_ns(self, d: FakeDomain) -> int:
        return d.tick * 500_000_000 * d.vcpus if d.running else 0

    def xenstat_domain_cur_mem(self, d: FakeDomain) -> int:
        return d.mem_kib * 1024

    def xenstat_domain_max_mem(self, d: FakeDomain) -> int:
        return NO_LIMIT if d.domid == 0 else 2 * d.mem_kib * 1024

    def xenstat_domain_ssid(self, _d: FakeDomain) -> int:
        return 0

    def xenstat_domain_running(self, d: FakeDomain) -> int:
        return int(d.running)

    def xenstat_domain_blocked(self, d: FakeDomain) -> int:
        return int(not d.running)

    def xenstat_domain_paused(self, _d: FakeDomain) -> int:
        return 0

    xenstat_domain_dying = xenstat_domain_shutdown = xenstat_domain_crashed = xenstat_domain_paused

    # vCPUs
    def xenstat_domain_num_vcpus(self, d: FakeDomain) -> int:
        return d.vcpus

    def xenstat_domain_vcpu(self, d: FakeDomain, n: int) -> _Vcpu:
        return _Vcpu(d, n)

    def xenstat_vcpu_online(self, _v: _Vcpu) -> int:
        return 1

    def xenstat_vcpu_ns(self, v: _Vcpu) -> int:
        return v.domain.tick * 500_000_000 if v.domain.running else 0

    # devices: one vif and one vbd per domU
    def xenstat_domain_num_networks(self, d: FakeDomain) -> int:
        return 0 if d.domid == 0 else 1

    def xenstat_domain_network(self, d: FakeDomain, _i: int) -> FakeDomain:
        return d

    def xenstat_network_id(self, _n: FakeDomain) -> int:
        return 0

    def _bytes(self, d: FakeDomain) -> int:
        return d.tick * 1000

    xenstat_network_rbytes = xenstat_network_tbytes = _bytes

    def _packets(self, d: FakeDomain) -> int:
        return d.tick * 10

    xenstat_network_rpackets = xenstat_network_tpackets = _packets
    xenstat_network_rerrs = xenstat_network_rdrop = xenstat_network_terrs = xenstat_network_tdrop = xenstat_domain_ssid

    xenstat_domain_num_vbds = xenstat_domain_num_networks
    xenstat_domain_vbd = xenstat_domain_network

    def xenstat_vbd_type(self, _b: FakeDomain) -> int:
        return 1

    def xenstat_vbd_dev(self, _b: FakeDomain) -> int:
        return 51712

    xenstat_vbd_oo_reqs = xenstat_domain_ssid
    xenstat_vbd_rd_reqs = xenstat_vbd_wr_reqs = _packets
    xenstat_vbd_rd_sects = xenstat_vbd_wr_sects = _packets


class FakeXenStat:
    """What :class:`~xentui.sources.xen.libxenstat.XenStat` offers: ``lib``, ``handle``, ``close()``."""

    has_vbd_error = False

    def __init__(self, domains: list[FakeDomain] | None = None) -> None:
        self.lib = FakeLib(domains if domains is not None else [
            FakeDomain(0, b"Domain-0", 2), FakeDomain(2, b"probe1", 2), FakeDomain(3, b"idle", 1, running=False)])
        self.handle: object | None = object()
        self.closed = 0

    def count_domains(self) -> int:
        return len(self.lib.domains)

    def close(self) -> None:
        self.closed += 1
        self.handle = None


READS = {("cpupool-list",): "xl-cpupool-list.txt", ("cpupool-list", "-c"): "xl-cpupool-list-c.txt",
         ("sched-credit2",): "xl-sched-credit2-domu.txt"}


@dataclass
class FakeXl:
    """``xl`` as a dom0 without Cache QoS answers it; the action lines it was asked for are kept."""

    actions: list[tuple[str, ...]] = field(default_factory=list)
    pci_lists: dict[str, str] = field(default_factory=dict)  # domid -> what `xl pci-list` prints
    asked: list[tuple[str, ...]] = field(default_factory=list)  # the pci-list calls made
    deadlines: list[float] = field(default_factory=list)  # each action's timeout, as actions

    def __call__(self, *args: str, timeout: float = 30.0) -> str:
        if args == ("vcpu-list",):
            return (DATA / "xl-vcpu-list-domu.txt").read_text()
        if args == ("info", "-n"):
            return (DATA / "xl-info-n.txt").read_text()
        if args[0] == "psr-cmt-show":
            raise XlError(args, "CMT is disabled in the system")
        if args[:2] == ("list", "-l"):  # the recorded dom0's domains, one asked for
            found = [d for d in json.loads((DATA / "xl-list-l-domu.txt").read_text()) if str(d["domid"]) == args[2]]
            if not found:
                raise XlError(args, f"invalid domain identifier {args[2]}")
            return json.dumps(found)
        if args[0] == "pci-list":
            self.asked.append(args)
            return self.pci_lists.get(args[1], "")  # no device: xl prints nothing, not even its header
        if args in READS:  # the real dom0's answers (the schedulers' refresh thread asks them)
            return (DATA / READS[args]).read_text()
        self.actions.append(args)
        self.deadlines.append(timeout)
        return ""


class FakeXenStore:
    """xenstore's ``/local/domain/N/vm`` of the fake domains (domid 3 has none: ``xen-domid-3``), and other
    ``entries`` by path (libxl's ``/libxl/N/type``...)."""

    def __init__(self, vms: dict[int, str] | None = None, entries: dict[str, str] | None = None) -> None:
        self.vms = vms if vms is not None else {0: "/vm/00000000-0000-0000-0000-000000000000",
                                                2: "/vm/2b6b1b2e-7c43-4c32-9d5e-000000000002"}
        self.entries = entries if entries is not None else {"/libxl/2/type": "pv", "/libxl/2/dm-version": "qemu_xen"}

    def read(self, path: str) -> str | None:
        parts = path.split("/")
        if len(parts) == 5 and parts[3].isdecimal() and parts[4] == "vm":
            return self.vms.get(int(parts[3]))
        return self.entries.get(path)

    def close(self) -> None:
        return None
