"""Domain actions, validated and guarded before they reach a source.

Read-only unless the session was opened with --write; refused when the domain the
admin chose has been replaced (same name, new UUID); every argument checked first.
"""

from __future__ import annotations

import enum
import re
import time
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from xentui.cpulist import CpuListError, format_cpulist, parse_cpulist
from xentui.model import DomainSample, DomainState, HostSample
from xentui.schedparams import SchedParamError, check_pool, check_schedule
from xentui.units import KIB, UNIT_BYTES

if TYPE_CHECKING:
    from xentui.sources.base import Source

READ_ONLY = "read-only session: start xentui with --write (-w) to act on domains"


class Action(enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"
    SHUTDOWN = "shutdown"
    REBOOT = "reboot"
    DESTROY = "destroy"
    PIN = "pin"  # params: vcpu (int or "all"), hard (cpu list), soft (cpu list, Xen), persistent (bool)
    BALLOON = "balloon"  # params: memory (e.g. "512M", "1G", "262144k")
    START = "start"  # a defined domain that is off
    CACHE_ATTACH = "cache-attach"  # Cache QoS monitoring (xl psr-cmt-attach, a resctrl monitoring group)
    CACHE_DETACH = "cache-detach"
    MIGRATE = "migrate"  # params: destination (a fleet's host name); live, to another libvirt host
    SCHEDULE = "schedule"  # params: sched (scheduler parameter -> value), vcpu (RTDS: int or "all")
    CPUPOOL = "cpupool"  # params: pool (the name of the Xen cpupool to move the domain to)


CACHE_ACTIONS = (Action.CACHE_ATTACH, Action.CACHE_DETACH)
VIEW_ACTIONS = (Action.PIN, Action.SCHEDULE, Action.CPUPOOL)  # taken in their own view (vCPUs, scheduler), not a menu


_LIVE = (Action.PAUSE, Action.SHUTDOWN, Action.REBOOT, Action.DESTROY, Action.BALLOON, Action.PIN, *CACHE_ACTIONS,
         Action.MIGRATE, Action.SCHEDULE, Action.CPUPOOL)
OFFERED = {
    DomainState.RUNNING: _LIVE,
    DomainState.BLOCKED: _LIVE,
    DomainState.NOSTATE: _LIVE,
    DomainState.PAUSED: (Action.RESUME, Action.DESTROY, Action.BALLOON, Action.PIN, *CACHE_ACTIONS, Action.MIGRATE,
                         Action.SCHEDULE, Action.CPUPOOL),
    DomainState.SHUTDOWN: (Action.DESTROY,),
    DomainState.CRASHED: (Action.DESTROY,),
    DomainState.PMSUSPENDED: (Action.DESTROY,),
    DomainState.DYING: (),
    DomainState.SHUTOFF: (Action.START,),
}


def offered(domain: DomainSample) -> tuple[Action, ...]:
    """The actions that make sense for the domain's state (pause a running one, start one that is off)."""
    return OFFERED.get(domain.state, ())


class ActionError(Exception):
    """An action refused or failed: one line for the admin."""


class ActionParams(TypedDict, total=False):
    """Checked parameters of an action (:func:`validate`'s result)."""

    vcpu: int | Literal["all"]  # pin: one vCPU or every one
    hard: frozenset[int]  # pin: hard affinity, pCPU numbers
    soft: frozenset[int]  # pin: soft affinity (Xen)
    persistent: bool  # pin: also in the domain's configuration
    memory_kib: int  # balloon: the new target
    destination: str  # migrate: the fleet's name of the host to move to
    dest_uri: str  # migrate: that host's URI (filled by the fleet, which knows it)
    sched: dict[str, int | bool]  # schedule: the scheduler's own parameter names (xentui.model.scheduling)
    pool: str  # cpupool: the destination pool's name


_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_memory_kib(text: str) -> int:
    """``'512M'`` -> 524288 KiB.  A bare number is MiB, as ``xl mem-set`` reads it."""
    match = _SIZE.match(str(text))
    if not match or int(match.group(1)) == 0:
        raise ActionError(f"memory {text!r} is not a size; write e.g. 512M, 2G or 262144k")
    return int(match.group(1)) * UNIT_BYTES[match.group(2).upper() or "M"] // KIB  # bare number: MiB, as xl mem-set


def validate(action: Action, params: dict[str, Any], host: HostSample, vcpus: int) -> ActionParams:
    """Checked, normalised parameters for ``action``, or ActionError."""
    if action is Action.PIN:
        vcpu = params.get("vcpu", "all")
        if vcpu != "all" and not (isinstance(vcpu, int) and 0 <= vcpu < vcpus):
            raise ActionError(f"vCPU {vcpu!r} does not exist; this domain has vCPUs 0-{vcpus - 1} (or all)")
        out: ActionParams = {"vcpu": vcpu, "persistent": bool(params.get("persistent", False))}
        if params.get("hard") is not None:
            out["hard"] = pin_cpus(str(params["hard"]), host, "hard")
        if params.get("soft") is not None:
            out["soft"] = pin_cpus(str(params["soft"]), host, "soft")
        if "hard" not in out and "soft" not in out:
            raise ActionError("pin needs a cpu list, e.g. 0-3,^2 or nodes:0 or all")
        return out
    if action is Action.BALLOON:
        return {"memory_kib": parse_memory_kib(params.get("memory", ""))}
    if action is Action.MIGRATE:
        dest = params.get("destination")
        if not isinstance(dest, str) or not dest.strip():
            raise ActionError("migrate needs a destination: the name of another host of the fleet")
        return {"destination": dest.strip()}
    try:
        if action is Action.SCHEDULE:
            sched, vcpu = check_schedule(params.get("sched", {}), params.get("vcpu"), vcpus)
            return {"sched": sched, "vcpu": vcpu}
        if action is Action.CPUPOOL:
            return {"pool": check_pool(params.get("pool"))}
    except SchedParamError as err:
        raise ActionError(str(err)) from None
    return {}


def pin_cpus(text: str, host: HostSample, key: str = "hard") -> frozenset[int]:
    """The pCPUs a cpu list names on ``host``; ``all`` means every online pCPU."""
    offline = host.offline()
    try:
        cpus = parse_cpulist(text, host.cpumap_size, host.nodes())
    except CpuListError as err:
        raise ActionError(str(err)) from None
    if text.strip() == "all":
        cpus -= offline
    elif cpus & offline:
        raise ActionError(f"{key} affinity {text!r} names offline pCPU(s) {format_cpulist(cpus & offline)}; "
                          f"online pCPUs: {format_cpulist(frozenset(range(host.cpumap_size)) - offline)}")
    if not cpus:
        raise ActionError(f"{key} affinity {text!r} leaves no pCPU to run on")
    return cpus


def perform(source: Source, domain: DomainSample, action: Action, *, host: HostSample, **params: object) -> float:
    """Do ``action`` on ``domain``; return the seconds it took.  Raises ActionError."""
    if source.readonly:
        raise ActionError(READ_ONLY)
    if action not in offered(domain):
        raise ActionError(f"{action.value} is not offered for {domain.name} while it is {domain.state.value}: "
                          f"nothing done")
    checked = validate(action, params, host, domain.vcpus_max or len(domain.vcpus) or 1)
    if action is Action.MIGRATE and checked["destination"] == domain.host:
        raise ActionError(f"{domain.name} is on {checked['destination']} already: nothing done")
    now = source.current_uuid(domain)
    if now is None:
        raise ActionError(f"{domain.name} is gone: nothing done")
    if now != domain.uuid:
        raise ActionError(f"{domain.name} was replaced by another domain of that name (UUID {now}): nothing done")
    started = time.monotonic()
    source.act(domain, action, checked)
    return time.monotonic() - started
