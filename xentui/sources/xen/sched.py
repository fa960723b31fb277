"""Xen's cpupools and schedulers through ``xl``: reading their tables, and the edit command lines.

The formats are xl's own (``tools/xl/xl_cpupool.c``, ``tools/xl/xl_sched.c``).  Names (of domains and pools)
are outside text and may hold spaces or digits: each line is read from its right end, where the numbers are,
and a pool heading counts only when it names a pool ``xl cpupool-list`` listed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from xentui.actions import ActionParams
from xentui.model import CpuPool, DomainSample, DomainScheduling, SchedulingState, VcpuBudget
from xentui.model.scheduling import Params
from xentui.schedparams import CREDIT, RTDS
from xentui.sources.base import SourceError
from xentui.sources.xen.xl import Xl

READ_S = 10.0  # each xl call of a read
POOLS_EVERY_S = 10.0  # the pools (their names, schedulers, pCPUs) are listed again this often
LISTED = ("credit", "credit2", "rtds")  # schedulers with an `xl sched-*` table of their domains

# cpupool-list: "%-19s" name, then "%3d %9s       y       %4d" (CPUs, scheduler, domain count)
_POOL = re.compile(r"^(?P<name>.*?)\s*(?P<cpus>\d+)\s+(?P<sched>[a-z0-9_]+)\s+y\s+(?P<doms>\d+)\s*$")
# sched-credit/-credit2 domains: "%-33s %4d %6d %4d" (name, ID, weight, cap)
_CREDIT_DOM = re.compile(r"^(?P<name>.*?)\s+(?P<id>\d+)\s+(?P<weight>\d+)\s+(?P<cap>\d+)\s*$")
# sched-rtds -v all: "%-33s %4d %4d %9u %9u %10s" (name, ID, vCPU, period, budget, extratime yes/no)
_RTDS_VCPU = re.compile(r"^(?P<name>.*?)\s+(?P<id>\d+)\s+(?P<vcpu>\d+)\s+(?P<period>\d+)\s+(?P<budget>\d+)"
                        r"\s+(?P<extra>yes|no)\s*$")
# a pool's heading: "Cpupool %s: tslice=%dms ratelimit=%dus migration-delay=%dus", "Cpupool %s: ratelimit=%dus",
# "Cpupool %s: sched=RTDS", "Cpupool %s: [sched params unavailable]"
_HEADING = re.compile(r"^Cpupool (?P<pool>.*): (?P<rest>(?:[a-z-]+=\S+ ?)+|\[sched params unavailable\])\s*$")
_POOL_PARAM = re.compile(r"([a-z-]+)=(\d+)(ms|us)")
# list -c: "%-40s %5d %5lu %5d     %s  %8.1f" then " %16s" (name, ID, mem, vCPUs, state, time, cpupool)
_LISTED_DOM = re.compile(r"^(?P<name>.*?)\s+(?P<id>\d+)\s+\d+\s+\d+\s+[-rbpscd]{6}\s+[\d.]+\s+(?P<pool>.*?)\s*$")

PoolRow = tuple[str, int, str]  # name, CPU count, scheduler
Pools = tuple[list[PoolRow], dict[str, frozenset[int]]]  # cpupool-list's rows, each pool's pCPUs
Sched = tuple[str, int, str, Params]  # pool, domid, domain name, parameters


def parse_cpupool_list(text: str) -> list[PoolRow]:
    """``xl cpupool-list`` -> [(name, CPUs, scheduler)] in xl's order (by pool id)."""
    out = []
    for line in text.splitlines()[1:]:
        if match := _POOL.match(line):
            out.append((match["name"], int(match["cpus"]), match["sched"]))
    return out


def parse_cpupool_cpus(text: str, names: list[str]) -> dict[str, frozenset[int]]:
    """``xl cpupool-list -c`` ("%-19s" name, then the CPUs as ``0,1,3``), its pools named as ``names`` (same
    order): {name: pCPUs}."""
    out: dict[str, frozenset[int]] = {}
    lines = text.splitlines()[1:]
    for name, line in zip(names, lines, strict=False):
        if not line.startswith(name):
            continue
        cpus = line[len(name):].strip()
        if cpus == "" or re.fullmatch(r"\d+(,\d+)*", cpus):
            out[name] = frozenset(int(c) for c in cpus.split(",") if c)
    return out


def _pool_params(rest: str) -> Params:
    """``tslice=30ms ratelimit=1000us migration-delay=0us`` -> (("tslice_ms", 30), ("ratelimit_us", 1000), ...)."""
    return tuple((f"{key.replace('-', '_')}_{unit}", int(value)) for key, value, unit in _POOL_PARAM.findall(rest))


def _sections(text: str, pools: set[str], unlisted: set[str] | None) -> list[tuple[str, Params, list[str]]]:
    """An ``xl sched-*`` listing cut at its pool headings: [(pool, pool parameters, its lines)].  A heading of a
    pool not in ``pools`` (made since they were listed) starts a section of its own, left out, its name added to
    ``unlisted`` (a domain's line cannot pass for a heading: it ends in three bare numbers)."""
    out: list[tuple[str, Params, list[str]]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if heading := _HEADING.match(line):
            current = None
            if heading["pool"] in pools:
                out.append((heading["pool"], _pool_params(heading["rest"]), current := []))
            elif unlisted is not None:
                unlisted.add(heading["pool"][:64])
        elif current is not None:
            current.append(line)
    return out


def parse_sched_credit(text: str, pools: set[str],
                       unlisted: set[str] | None = None) -> tuple[dict[str, Params], list[Sched]]:
    """``xl sched-credit`` or ``xl sched-credit2`` -> ({pool: its parameters}, [(pool, domid, name, weight/cap)])."""
    pool_params: dict[str, Params] = {}
    domains: list[Sched] = []
    for pool, params, lines in _sections(text, pools, unlisted):
        pool_params[pool] = params
        for line in lines:
            if match := _CREDIT_DOM.match(line):
                domains.append((pool, int(match["id"]), match["name"],
                                (("weight", int(match["weight"])), ("cap", int(match["cap"])))))
    return pool_params, domains


def parse_sched_rtds(text: str, pools: set[str],
                     unlisted: set[str] | None = None) -> dict[int, tuple[str, str, list[VcpuBudget]]]:
    """``xl sched-rtds -v all`` -> {domid: (pool, name, [each vCPU's budget])}."""
    out: dict[int, tuple[str, str, list[VcpuBudget]]] = {}
    for pool, _params, lines in _sections(text, pools, unlisted):
        for line in lines:
            if match := _RTDS_VCPU.match(line):
                entry = out.setdefault(int(match["id"]), (pool, match["name"], []))
                entry[2].append(VcpuBudget(int(match["vcpu"]), int(match["period"]), int(match["budget"]),
                                           match["extra"] == "yes"))
    return out


def parse_list_cpupools(text: str, pools: set[str]) -> dict[int, tuple[str, str]]:
    """``xl list -c`` -> {domid: (name, pool)}, for the pools whose scheduler has no ``xl sched-*`` table."""
    out = {}
    for line in text.splitlines()[1:]:
        if (match := _LISTED_DOM.match(line)) and match["pool"] in pools:
            out[int(match["id"])] = (match["name"], match["pool"])
    return out


def read_pools(run: Xl) -> Pools:
    """``xl cpupool-list`` (names, schedulers) and ``xl cpupool-list -c`` (pCPUs)."""
    rows = parse_cpupool_list(run("cpupool-list", timeout=READ_S))
    if not rows:
        raise SourceError("xl cpupool-list listed no cpupool")
    return rows, parse_cpupool_cpus(run("cpupool-list", "-c", timeout=READ_S), [name for name, _c, _s in rows])


def read_scheduling(run: Xl, uuid_of: Callable[[int], str | None], pools: Pools | None = None,
                    unlisted: set[str] | None = None) -> SchedulingState:
    """Every pool and every domain's scheduling now: the pools (``pools``: as listed lately, else listed now),
    then one ``xl sched-*`` per scheduler in use (``xl list -c`` only for pools under another: null, arinc653).
    Domains whose UUID is not known yet (``uuid_of`` -> None: newer than the last tick) come in the next read;
    pools the tables name that ``pools`` lacks are added to ``unlisted``."""
    rows, cpus = pools if pools is not None else read_pools(run)
    sched_of = {name: sched for name, _cpus, sched in rows}
    pool_params: dict[str, Params] = {}
    found: dict[int, DomainScheduling] = {}

    def add(domid: int, name: str, pool: str, params: Params = (), vcpus: tuple[VcpuBudget, ...] = ()) -> None:
        uuid = uuid_of(domid)
        if uuid is not None:
            found[domid] = DomainScheduling(uuid, name, pool, sched_of[pool], params, vcpus)

    for scheduler in ("credit", "credit2"):
        if in_use := {n for n, s in sched_of.items() if s == scheduler}:
            params, domains = parse_sched_credit(run(f"sched-{scheduler}", timeout=READ_S), in_use, unlisted)
            pool_params.update(params)
            for pool, domid, name, weights in domains:
                add(domid, name, pool, weights)
    if rtds := {n for n, s in sched_of.items() if s == "rtds"}:
        for domid, (pool, name, budgets) in parse_sched_rtds(run("sched-rtds", "-v", "all", timeout=READ_S),
                                                              rtds, unlisted).items():
            add(domid, name, pool, vcpus=tuple(sorted(budgets, key=lambda b: b.vcpu)))
    if others := {n for n, s in sched_of.items() if s not in LISTED}:
        for domid, (name, pool) in parse_list_cpupools(run("list", "-c", timeout=READ_S), others).items():
            add(domid, name, pool)
    pools_out = tuple(CpuPool(name, sched, cpus.get(name, frozenset()), params=pool_params.get(name, ()))
                      for name, _count, sched in rows)
    return SchedulingState(wall=time.time(), pools=pools_out,
                           domains=tuple(found[d] for d in sorted(found)))


class XlScheduling:
    """Reads for a refresh thread: the pools listed every POOLS_EVERY_S (and after an edit, or when a sched-*
    listing names a pool not listed), the schedulers' tables every read: one ``xl`` call a watched tick, not 3."""

    def __init__(self, run: Xl, uuid_of: Callable[[int], str | None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._run, self._uuid_of, self._clock = run, uuid_of, clock
        self._pools: Pools | None = None
        self._at = 0.0

    def changed(self) -> None:
        self._pools = None

    def read(self) -> SchedulingState:
        if self._pools is None or self._clock() - self._at >= POOLS_EVERY_S:
            self._pools, self._at = read_pools(self._run), self._clock()
        unlisted: set[str] = set()
        state = read_scheduling(self._run, self._uuid_of, self._pools, unlisted)
        if unlisted:  # a pool made since they were listed: list them again, now
            self._pools, self._at = read_pools(self._run), self._clock()
            state = read_scheduling(self._run, self._uuid_of, self._pools)
        return state


def schedule_line(domain: DomainSample, params: ActionParams, current: DomainScheduling | None) -> list[str]:
    """The ``xl sched-*`` command line for an edit of ``domain`` (checked parameters), by its pool's scheduler."""
    if current is None:
        raise SourceError(f"{domain.name}: its scheduler is not known yet (read every 10 s): nothing done")
    sched, domid = params["sched"], str(domain.domid)
    family = RTDS if current.scheduler == "rtds" else CREDIT if current.scheduler in ("credit", "credit2") else ()
    if not family or any(name not in family for name in sched):
        allowed = f"its parameters are {', '.join(family)}" if family else "xentui sets none of its parameters"
        raise SourceError(f"{domain.name} runs in cpupool {current.pool} under {current.scheduler}: {allowed}; "
                          "nothing done")
    if family is CREDIT:
        line = [f"sched-{current.scheduler}", "-d", domid]
        for name in CREDIT:
            if name in sched:
                line += [f"-{name[0]}", str(int(sched[name]))]
        return line
    vcpu = params.get("vcpu", "all")
    line = ["sched-rtds", "-d", domid, "-v", str(vcpu), "-p", str(int(sched["period_us"])),
            "-b", str(int(sched["budget_us"]))]
    extra = sched.get("extratime")
    if vcpu == "all":  # xl sets period, budget and extratime together: vCPUs that differ must be told, not copied
        differ = [name for name in ("period_us", "extratime")
                  if name not in sched and len({getattr(b, name) for b in current.vcpus}) > 1]
        if differ and current.vcpus:
            raise SourceError(f"{domain.name}'s vCPUs differ in {' and '.join(differ)}: give "
                              f"{' and '.join(differ)} for all of them, or edit one vCPU; nothing done")
    if extra is None:  # keep the vCPU's own (xl sets the three together)
        extra = next((b.extratime for b in current.vcpus if vcpu == "all" or b.vcpu == vcpu), None)
    return line + ([] if extra is None else ["-e", "1" if extra else "0"])


def cpupool_line(domain: DomainSample, pool: str, state: SchedulingState | None) -> list[str]:
    """``xl cpupool-migrate`` for ``domain`` into ``pool`` (refused when the last read knows no such pool)."""
    if pool.startswith("-"):
        raise SourceError(f"cpupool {pool!r}: xl would read a name starting with '-' as an option: nothing done")
    if state is not None and state.pools and pool not in {p.name for p in state.pools}:
        names = ", ".join(p.name for p in state.pools)
        raise SourceError(f"no cpupool {pool!r} on this host (xl cpupool-list: {names}): nothing done")
    return ["cpupool-migrate", str(domain.domid), pool]
