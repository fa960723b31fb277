"""Domain actions through libvirt (arguments already checked by :mod:`xentui.actions`)."""

from __future__ import annotations

import libvirt

from xentui.actions import Action, ActionError
from xentui.cpulist import format_cpulist
from xentui.model import DomainSample

LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG


def _line(err: libvirt.libvirtError) -> str:
    return (err.get_error_message() or str(err)).strip().splitlines()[0]


def current_uuid(conn: libvirt.virConnect, domain: DomainSample) -> str | None:
    """The UUID the domain of that name has now (None when there is none)."""
    try:
        return conn.lookupByName(domain.name).UUIDString()
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise ActionError(f"{domain.name}: {_line(err)}") from None


def act(conn: libvirt.virConnect, domain: DomainSample, action: Action, params: dict, cpumap_size: int) -> None:
    try:
        dom = conn.lookupByUUIDString(domain.uuid)
        if action is Action.PIN:
            _pin(dom, domain, params, cpumap_size)
        elif action is Action.BALLOON:
            dom.setMemoryFlags(params["memory_kib"], LIVE)
        else:
            {Action.PAUSE: dom.suspend, Action.RESUME: dom.resume, Action.SHUTDOWN: dom.shutdown,
             Action.REBOOT: lambda: dom.reboot(0), Action.DESTROY: dom.destroy, Action.START: dom.create}[action]()
    except libvirt.libvirtError as err:
        raise ActionError(f"{action.value} {domain.name}: {_line(err)}") from None


def _pin(dom: libvirt.virDomain, domain: DomainSample, params: dict, cpumap_size: int) -> None:
    if "soft" in params:
        raise ActionError("soft affinity is Xen's (xl vcpu-pin); libvirt pins hard affinity only: nothing done")
    hard = params["hard"]
    cpumap = tuple(cpu in hard for cpu in range(cpumap_size))
    flags = LIVE | (CONFIG if params.get("persistent") else 0)
    targets = range(domain.vcpus_current or len(domain.vcpus)) if params["vcpu"] == "all" else [params["vcpu"]]
    done: list[int] = []
    for vcpu in targets:
        try:
            _pin_one(dom, vcpu, cpumap, flags)
        except libvirt.libvirtError as err:
            if "virNodeGetCPUMap" in (err.get_error_message() or "") and not done:
                # libvirt-python sizes every cpumap with virNodeGetCPUMap, which libxl does not implement.
                raise ActionError(f"pin {domain.name}: libvirt-python cannot pin through this driver (it has no "
                                  "virNodeGetCPUMap); on a Xen dom0 run xentui without -c, it pins with xl: "
                                  "nothing pinned") from None
            applied = f"vCPU {format_cpulist(frozenset(done))} pinned, " if done else "nothing pinned: "
            left = frozenset(targets) - frozenset(done)
            raise ActionError(f"pin {domain.name}: {applied}vCPU {vcpu} failed ({_line(err)}); "
                              f"vCPU {format_cpulist(left)} keep their old affinity") from None
        done.append(vcpu)


def _pin_one(dom: libvirt.virDomain, vcpu: int, cpumap: tuple[bool, ...], flags: int) -> None:
    try:
        dom.pinVcpuFlags(vcpu, cpumap, flags)
    except libvirt.libvirtError as err:
        # Drivers without flags (libvirt's test driver) pin the live domain with the plain call.
        if flags != LIVE or "unsupported flags" not in (err.get_error_message() or ""):
            raise
        dom.pinVcpu(vcpu, cpumap)
