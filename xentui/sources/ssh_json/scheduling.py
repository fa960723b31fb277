"""A remote frame's schedulers and cpupools (``pools``, each domain's ``cpupool``/``scheduler``/``sched``) back
into a SchedulingState.  The remote is outside: names are bounded text, parameters only numbers and booleans,
counts bounded; a frame without ``pools`` (an older xentui, or none read) gives None."""

from __future__ import annotations

from typing import Any

from xentui.limits import MAX_DOMAINS, MAX_NAME, MAX_VCPUS, counter
from xentui.model import CpuPool, DomainScheduling, SchedulingState, VcpuBudget
from xentui.model.scheduling import Params
from xentui.sources.ssh_json.values import items, text

MAX_POOLS = 256
MAX_PARAMS = 32
MAX_PCPUS = 1 << 16


def _params(v: Any) -> Params:
    if type(v) is not dict:
        return ()
    return tuple((k[:MAX_NAME], x) for k, x in list(v.items())[:MAX_PARAMS]
                 if type(k) is str and k != "vcpus" and type(x) in (int, float, bool) and abs(x) < 2**64)


def _budget(v: Any) -> VcpuBudget | None:
    if type(v) is not dict:
        return None
    vcpu, period, budget = (counter(v.get(k)) for k in ("vcpu", "period_us", "budget_us"))
    if vcpu is None or period is None or budget is None:
        return None
    extra = v.get("extratime")
    return VcpuBudget(vcpu, period, budget, extra if type(extra) is bool else None)


def _pool(v: Any) -> CpuPool | None:
    if type(v) is not dict or not text(v.get("name")):
        return None
    pcpus = frozenset(c for c in items(v.get("pcpus"), MAX_PCPUS) if type(c) is int and 0 <= c < MAX_PCPUS)
    return CpuPool(text(v.get("name")), text(v.get("scheduler")), pcpus, params=_params(v.get("params")))


def _domain(v: dict[str, Any]) -> DomainScheduling | None:
    uuid, sched = text(v.get("uuid")), v.get("sched")
    if not uuid or type(sched) is not dict:
        return None
    pool = v.get("cpupool")
    vcpus = tuple(b for x in items(sched.get("vcpus"), MAX_VCPUS) if (b := _budget(x)))
    return DomainScheduling(uuid, text(v.get("name")), text(pool) if type(pool) is str else None,
                            text(v.get("scheduler")), _params(sched), vcpus)


def decode_scheduling(frame: dict[str, Any], domains: list[dict[str, Any]], wall: float) -> SchedulingState | None:
    """The remote's state (None when its frame carries none), dated by its ``scheduling_age_s``."""
    pools = frame.get("pools")
    if type(pools) is not list:
        return None
    age = frame.get("scheduling_age_s")
    error = frame.get("scheduling_error")
    known_age = float(age) if isinstance(age, int | float) and not isinstance(age, bool) and 0 <= age < 1e6 else 0.0
    return SchedulingState(
        wall=wall - known_age,
        pools=tuple(p for x in pools[:MAX_POOLS] if (p := _pool(x)) is not None),
        domains=tuple(d for x in domains[:MAX_DOMAINS] if (d := _domain(x)) is not None),
        error=error[:300] if type(error) is str else "")
