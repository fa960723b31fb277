"""What the host's kernel says of a VM (issue 18, item 6): its cgroup's pressure stall information (PSI) and
the NUMA nodes holding its memory against those its vCPUs run on.  Pure: samples, their rates, their reading.

PSI's ``total`` is the cumulative time (us) some (or all) of the cgroup's tasks stalled on a resource; its rate
between two reads of the files is the share of that window stalled, the truest figure (the kernel's avg10 is a
10 s decaying average, shown only where no rate can be had yet).  A sample carries the guest's read before it
and both times: with many guests a tick reads only some (a time budget), and each rate is over its own window.
"""

from __future__ import annotations

from xentui.model._fast_record import evolve, frozen_record

RESOURCES = ("cpu", "memory", "io")
KINDS = ("some", "full")
US_PER_S = 1_000_000


@frozen_record
class Stall:
    """One PSI line (``some`` or ``full``) of one resource."""

    avg10: float | None = None  # % of the last 10 s, the kernel's own decaying average
    total_us: int | None = None  # cumulative us stalled


@frozen_record
class PressureSample:
    """A VM's cgroup v2 ``cpu.pressure``, ``memory.pressure``, ``io.pressure``: (resource, kind) -> Stall;
    a file that is absent leaves its resource out."""

    cgroup: str  # the cgroup's path under the cgroup root, as /proc/PID/cgroup names it (outside text)
    stalls: tuple[tuple[str, str, Stall], ...] = ()  # (resource, kind, stall), resource in RESOURCES
    at: float | None = None  # when the files were read (the source's monotonic seconds)
    prev_at: float | None = None  # when they were read before (None: first read of this run of the guest)
    prev_stalls: tuple[tuple[str, str, Stall], ...] = ()  # what they said then

    def get(self, resource: str, kind: str) -> Stall | None:
        return _find(self.stalls, resource, kind)


def _find(stalls: tuple[tuple[str, str, Stall], ...], resource: str, kind: str) -> Stall | None:
    for r, k, stall in stalls:
        if r == resource and k == kind:
            return stall
    return None


@frozen_record
class PressureView:
    """% of the window a VM's tasks stalled, per (resource, kind): the totals' rate, else the kernel's avg10."""

    cgroup: str
    pct: tuple[tuple[str, str, float | None], ...] = ()
    measured: bool = True  # False: the figures are avg10 (no window yet, or a counter reset)
    age_s: float | None = None  # its files were read this long before the sample, on an earlier tick (None: now)

    def get(self, resource: str, kind: str = "some") -> float | None:
        for r, k, pct in self.pct:
            if r == resource and k == kind:
                return pct
        return None

    def worst(self) -> tuple[str, float] | None:
        """The resource whose ``some`` stall is largest, and that %; None when none is known."""
        known = [(pct, r) for r, k, pct in self.pct if k == "some" and pct is not None]
        if not known:
            return None
        pct, resource = max(known, key=lambda x: (x[0], -RESOURCES.index(x[1])))
        return resource, pct


def pressure_view(cur: PressureSample | None, now: float | None = None,
                  earlier: tuple[PressureSample | None, PressureView | None] = (None, None)) -> PressureView | None:
    """Each stall's share of its window (0-100 %): the growth of ``total`` between the sample's two reads, when
    it did not go back; else avg10 (marked not measured).  ``now``: the sample's time (monotonic), to tell the age
    of files read on an earlier tick (read in turns).  ``earlier``: a sample and its view, the view kept (its age
    told again) when that sample is ``cur`` itself (not read again since)."""
    if cur is None:
        return None
    if earlier[0] is cur and earlier[1] is not None:
        return evolve(earlier[1], age_s=_age(cur, now))
    seconds = cur.at - cur.prev_at if cur.at is not None and cur.prev_at is not None else 0.0
    before = {(r, k): s for r, k, s in cur.prev_stalls} if seconds > 0 else {}
    out: list[tuple[str, str, float | None]] = []
    measured = True
    for resource, kind, stall in cur.stalls:
        old = before.get((resource, kind))
        pct: float | None = None
        if old is not None and old.total_us is not None and stall.total_us is not None \
                and stall.total_us >= old.total_us:
            pct = min(100.0, 100.0 * (stall.total_us - old.total_us) / US_PER_S / seconds)
        else:
            measured = False
            pct = stall.avg10
        out.append((resource, kind, pct))
    return PressureView(cur.cgroup, tuple(out), measured and bool(out), _age(cur, now))


def _age(cur: PressureSample, now: float | None) -> float | None:
    return now - cur.at if now is not None and cur.at is not None and cur.at < now else None


@frozen_record
class NumaSample:
    """Where a VM's memory is, by NUMA node, and where its vCPUs last ran."""

    source: str  # "numa_maps" (/proc/PID/numa_maps) or "numa_stat" (its cgroup's memory.numa_stat)
    memory_kib: tuple[tuple[int, int], ...] = ()  # (node, KiB), by node
    vcpu_nodes: tuple[tuple[int, int], ...] = ()  # (vCPU number, node of the pCPU it last ran on)
    partial: bool = False  # the file was longer than xentui reads: the figures are of its first part


@frozen_record
class NumaView:
    """A NumaSample read: the node holding most memory, its share, and the vCPUs running elsewhere."""

    home: int | None  # the node holding most of the memory (None: no memory seen)
    home_pct: float | None  # its share of the memory seen
    memory_nodes: tuple[int, ...]  # nodes holding any of it
    vcpu_nodes: tuple[int, ...]  # nodes the vCPUs run on
    remote_vcpus: tuple[int, ...]  # vCPUs running on a node other than ``home``

    @property
    def misplaced(self) -> bool:
        return bool(self.remote_vcpus)


def numa_view(sample: NumaSample | None) -> NumaView | None:
    if sample is None:
        return None
    memory = [(kib, node) for node, kib in sample.memory_kib if kib > 0]
    total = sum(kib for kib, _node in memory)
    home = max(memory, key=lambda x: (x[0], -x[1]))[1] if memory else None
    home_kib = next((kib for kib, node in memory if node == home), 0)
    vcpu_nodes = tuple(sorted({node for _vcpu, node in sample.vcpu_nodes}))
    remote = tuple(v for v, node in sample.vcpu_nodes if home is not None and node != home)
    return NumaView(home, 100.0 * home_kib / total if total else None, tuple(sorted(n for _k, n in memory)),
                    vcpu_nodes, remote)
