"""Schedulers and cpupools: which pool a domain runs in and its scheduler's parameters.

Read off the tick's hot path (a source refreshes it in the background, faster while a view shows it) and
carried to the outputs in ``RawSample.scheduling`` -> ``Snapshot.scheduling``.  Pure data: no I/O.

Parameter names are the scheduler's own, as ``xl sched-*`` and libvirt's ``schedulerParameters()`` print them:
credit ``weight``, ``cap``; credit2 ``weight``, ``cap``, pool ``ratelimit_us``; RTDS per vCPU ``period_us``,
``budget_us``, ``extratime``; KVM (libvirt, scheduler ``posix``) ``cpu_shares``, ``vcpu_period``,
``vcpu_quota``, ``emulator_period``, ``emulator_quota``, ``iothread_period``, ``iothread_quota`` ...
"""

from __future__ import annotations

from xentui.model._fast_record import frozen_record

ParamValue = int | float | bool
Params = tuple[tuple[str, ParamValue], ...]  # (name, value) in the scheduler's own order


@frozen_record
class CpuPool:
    """A Xen cpupool (``xl cpupool-list -c``); KVM has one implicit pool, the host."""

    name: str
    scheduler: str  # "credit", "credit2", "rtds", "arinc653", "null"; KVM: libvirt's schedulerType, "posix"
    pcpus: frozenset[int]
    pool_id: int | None = None
    params: Params = ()  # the pool's own scheduler parameters (credit2 ``ratelimit_us``, credit ``tslice_ms``)
    host: str = ""  # the fleet's name for the pool's host ("" when one host is watched)


@frozen_record
class VcpuBudget:
    """One vCPU's RTDS reservation (``xl sched-rtds -d D -v all``)."""

    vcpu: int
    period_us: int
    budget_us: int
    extratime: bool | None = None  # None: this Xen has no extratime flag


@frozen_record
class DomainScheduling:
    uuid: str
    name: str
    pool: str | None  # the cpupool's name; None: the host has no cpupools (KVM)
    scheduler: str
    params: Params = ()  # per-domain parameters (weight, cap; KVM's shares/period/quota)
    vcpus: tuple[VcpuBudget, ...] = ()  # RTDS only: per vCPU
    host: str = ""  # the fleet's name for the domain's host ("" when one host is watched)

    @property
    def key(self) -> str:
        """The same key as the domain's ``DomainSample.key``."""
        return f"{self.host}/{self.uuid}" if self.host else self.uuid

    def param(self, name: str) -> ParamValue | None:
        return dict(self.params).get(name)


@frozen_record
class SchedulingState:
    """Every pool and every domain's scheduling as read at ``wall`` (seconds since the epoch)."""

    wall: float
    pools: tuple[CpuPool, ...] = ()
    domains: tuple[DomainScheduling, ...] = ()
    error: str = ""  # why it could not be read (one line); the rest may be from an earlier read
