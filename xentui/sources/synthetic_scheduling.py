"""The made-up host's schedulers and cpupools: a credit2 Pool-0 and an RTDS pool, edits obeyed.

Read as a background refresh would be (every few ticks, at once after an edit), so a view sees data older than a
tick now and then.  Deterministic, as the rest of the synthetic host.
"""

from __future__ import annotations

from xentui.actions import Action, ActionError, ActionParams
from xentui.model import CpuPool, DomainSample, DomainScheduling, SchedulingState, VcpuBudget
from xentui.model.scheduling import ParamValue

READ_EVERY = 5  # ticks between reads
RT_PERIOD_US = 10_000


class SyntheticScheduling:
    """Pool-0 (credit2, all but the last two pCPUs) and rt-pool (RTDS); every fourth domain in rt-pool."""

    def __init__(self, pcpus: int):
        rt = frozenset(range(pcpus - 2, pcpus)) if pcpus > 2 else frozenset()
        self.pools = (CpuPool("Pool-0", "credit2", frozenset(range(pcpus)) - rt, 0, (("ratelimit_us", 1000),)),
                      CpuPool("rt-pool", "rtds", rt, 1))
        self.pool_of: dict[str, str] = {}  # uuid -> pool, once set (by default or by an edit)
        self.params: dict[str, dict[str, ParamValue]] = {}
        self.budgets: dict[str, list[VcpuBudget]] = {}
        self.state: SchedulingState | None = None
        self.stale = True  # read again at the next tick (an edit was made)

    def read(self, tick: int, wall: float, domains: tuple[DomainSample, ...]) -> SchedulingState:
        if self.state is None or self.stale or tick % READ_EVERY == 1:
            self.state = SchedulingState(wall, self.pools, tuple(self._domain(i, d) for i, d in enumerate(domains)))
            self.stale = False
        return self.state

    def _scheduler(self, pool: str) -> str:
        return next(p.scheduler for p in self.pools if p.name == pool)

    def _domain(self, i: int, d: DomainSample) -> DomainScheduling:
        pool = self.pool_of.setdefault(d.uuid, "rt-pool" if i % 4 == 3 else "Pool-0")
        scheduler = self._scheduler(pool)
        if scheduler == "rtds":
            budgets = self.budgets.setdefault(d.uuid, [
                VcpuBudget(n, RT_PERIOD_US, 2000 + 1500 * n, n % 2 == 0) for n in range(d.vcpus_max or 1)])
            return DomainScheduling(d.uuid, d.name, pool, scheduler, vcpus=tuple(budgets))
        params = self.params.setdefault(d.uuid, {"weight": 256 * (1 + i % 3),
                                                 "cap": 0 if i % 3 else 50 * (1 + i % 4)})
        return DomainScheduling(d.uuid, d.name, pool, scheduler, tuple(params.items()))

    def act(self, domain: DomainSample, action: Action, params: ActionParams) -> None:
        pool = self.pool_of.get(domain.uuid)
        if pool is None:
            raise ActionError(f"{domain.name}: not in a cpupool here")
        if action is Action.CPUPOOL:
            self.pool_of[domain.uuid] = params["pool"]
            self.params.pop(domain.uuid, None)  # the new scheduler's defaults
            self.budgets.pop(domain.uuid, None)
        elif self._scheduler(pool) == "rtds":
            vcpu = params.get("vcpu", "all")
            change = params.get("sched", {})
            self.budgets[domain.uuid] = [
                VcpuBudget(b.vcpu, int(change.get("period_us", b.period_us)),
                           int(change.get("budget_us", b.budget_us)), bool(change.get("extratime", b.extratime)))
                if vcpu in ("all", b.vcpu) else b for b in self.budgets[domain.uuid]]
        else:
            self.params[domain.uuid].update(params.get("sched", {}))
        self.stale = True
