"""Domain actions through libvirt (arguments already checked by :mod:`xentui.actions`), each under a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

import libvirt

from xentui.actions import Action, ActionError, ActionParams
from xentui.cpulist import format_cpulist
from xentui.model import DomainSample
from xentui.sources import deadlines
from xentui.sources.libvirt.errors import error_line
from xentui.sources.libvirt.sched import set_parameters

ACTION_DEADLINE_S = 10.0  # an action (pause, set memory, ...) that has not returned by then may still take effect

LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG


def current_uuid(conn: libvirt.virConnect, domain: DomainSample) -> str | None:
    """The UUID the domain of that name has now (None when there is none)."""
    try:
        return str(conn.lookupByName(domain.name).UUIDString())
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise ActionError(f"{domain.name}: {error_line(err)}") from None


def act(conn: libvirt.virConnect, domain: DomainSample, action: Action, params: ActionParams,
        cpumap_size: int) -> None:
    """One action, blocking (call it under a deadline); ActionError in libvirt's words."""
    try:
        dom = conn.lookupByUUIDString(domain.uuid)
        if action is Action.PIN:
            _pin(dom, domain, params, cpumap_size)
        elif action is Action.BALLOON:
            dom.setMemoryFlags(params["memory_kib"], LIVE)
        elif action is Action.SCHEDULE:
            set_parameters(dom, params)
        elif action is Action.CPUPOOL:
            raise ActionError(f"cpupool {domain.name}: cpupools are Xen's (xl cpupool-migrate); a libvirt host "
                              "has none: nothing done")
        else:
            {Action.PAUSE: dom.suspend, Action.RESUME: dom.resume, Action.SHUTDOWN: dom.shutdown,
             Action.REBOOT: lambda: dom.reboot(0), Action.DESTROY: dom.destroy, Action.START: dom.create}[action]()
    except libvirt.libvirtError as err:
        raise ActionError(f"{action.value} {domain.name}: {error_line(err)}") from None


def _pin(dom: libvirt.virDomain, domain: DomainSample, params: ActionParams, cpumap_size: int) -> None:
    if "soft" in params:
        raise ActionError("soft affinity is Xen's (xl vcpu-pin); libvirt pins hard affinity only: nothing done")
    hard = params["hard"]
    cpumap = tuple(cpu in hard for cpu in range(cpumap_size))
    flags = LIVE | (CONFIG if params.get("persistent") else 0)
    vcpu = params["vcpu"]
    targets = range(domain.vcpus_current or len(domain.vcpus)) if vcpu == "all" else [vcpu]
    done: list[int] = []
    for one in targets:
        try:
            _pin_one(dom, one, cpumap, flags)
        except libvirt.libvirtError as err:
            if "virNodeGetCPUMap" in (err.get_error_message() or "") and not done:
                # libvirt-python sizes every cpumap with virNodeGetCPUMap, which libxl does not implement.
                raise ActionError(f"pin {domain.name}: libvirt-python cannot pin through this driver (it has no "
                                  "virNodeGetCPUMap); on a Xen dom0 run xentui without -c, it pins with xl: "
                                  "nothing pinned") from None
            applied = f"vCPU {format_cpulist(frozenset(done))} pinned, " if done else "nothing pinned: "
            left = frozenset(targets) - frozenset(done)
            raise ActionError(f"pin {domain.name}: {applied}vCPU {one} failed ({error_line(err)}); "
                              f"vCPU {format_cpulist(left)} keep their old affinity") from None
        done.append(one)


def _pin_one(dom: libvirt.virDomain, vcpu: int, cpumap: tuple[bool, ...], flags: int) -> None:
    try:
        dom.pinVcpuFlags(vcpu, cpumap, flags)
    except libvirt.libvirtError as err:
        # Drivers without flags (libvirt's test driver) pin the live domain with the plain call.
        if flags != LIVE or "unsupported flags" not in (err.get_error_message() or ""):
            raise
        dom.pinVcpu(vcpu, cpumap)


class Acting:
    """Actions under ACTION_DEADLINE_S: one that does not answer goes on in the background, may still take
    effect, and is remembered (its domain's row is marked stale) until it returns."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[str, float, deadlines.Call[None]]] = {}  # uuid -> what, since, call

    def current_uuid(self, conn: libvirt.virConnect, domain: DomainSample) -> str | None:
        try:
            return deadlines.call(lambda: current_uuid(conn, domain), deadlines.QUICK_S, f"look up {domain.name}")
        except deadlines.NoAnswer as err:
            raise ActionError(f"{err}; nothing done") from None

    def run(self, domain: DomainSample, action: Action, work: Callable[[], None]) -> None:
        """``work()`` (the action) given ACTION_DEADLINE_S; ActionError when refused, failed or unanswered."""
        earlier = self.pending.get(domain.uuid)
        if earlier is not None and not earlier[2].done():
            raise ActionError(f"{action.value} {domain.name}: the {earlier[0]} sent "
                              f"{time.monotonic() - earlier[1]:.0f} s ago has not returned yet; nothing done")
        started = time.monotonic()
        try:
            pending = deadlines.start(work, f"{action.value} {domain.name}")
            pending.wait(ACTION_DEADLINE_S)
        except deadlines.AtCap as err:
            raise ActionError(f"{err}; nothing done") from None
        except deadlines.NoAnswer:
            self.pending[domain.uuid] = (action.value, started, pending)
            raise ActionError(f"{action.value} {domain.name}: libvirt did not answer within "
                              f"{ACTION_DEADLINE_S:.0f} s; it may still take effect (its row is marked stale "
                              "until the call returns)") from None

    def hung(self) -> dict[str, str]:
        """{uuid: why its row is stale} for the actions sent that have not returned."""
        for uuid in [u for u, (_what, _at, call) in list(self.pending.items()) if call.done()]:
            self.pending.pop(uuid, None)
        return {uuid: (f"not answering: the {what} sent {time.monotonic() - at:.0f} s ago has "
                       "not returned (it may still take effect)")
                for uuid, (what, at, _call) in list(self.pending.items())}
