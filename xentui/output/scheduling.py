"""Batch JSON's schedulers and cpupools: per domain ``cpupool``, ``scheduler`` and ``sched`` (the scheduler's own
parameters by their own names; RTDS's per vCPU in ``sched.vcpus``), per frame ``pools`` (null: not read by this
source) and ``scheduling_error`` / ``scheduling_age_s`` (how old the read is: it is made in the background)."""

from __future__ import annotations

from typing import Any

from xentui.model import DomainScheduling, DomainView, Snapshot


def sched_record(sched: DomainScheduling | None) -> dict[str, Any]:
    if sched is None:
        return {"cpupool": None, "scheduler": None, "sched": None}
    params: dict[str, Any] = dict(sched.params)
    if sched.vcpus:
        params["vcpus"] = [{"vcpu": b.vcpu, "period_us": b.period_us, "budget_us": b.budget_us,
                            "extratime": b.extratime} for b in sched.vcpus]
    return {"cpupool": sched.pool, "scheduler": sched.scheduler, "sched": params}


class DomainsScheduling:
    """Each domain's fields, looked up by key in the snapshot's state (built once per frame)."""

    def __init__(self, snapshot: Snapshot) -> None:
        state = snapshot.scheduling
        self._by_key = {d.key: d for d in state.domains} if state is not None else {}

    def __call__(self, view: DomainView) -> dict[str, Any]:
        return sched_record(self._by_key.get(view.key))


def frame_record(snapshot: Snapshot) -> dict[str, Any]:
    state = snapshot.scheduling
    if state is None:
        return {"pools": None, "scheduling_error": None, "scheduling_age_s": None}
    pools = [{"name": p.name, "scheduler": p.scheduler, "pcpus": sorted(p.pcpus), "params": dict(p.params)}
             | ({"host": p.host} if p.host else {}) for p in state.pools]
    return {"pools": pools, "scheduling_error": state.error or None,
            "scheduling_age_s": round(max(0.0, snapshot.wall - state.wall), 3)}
