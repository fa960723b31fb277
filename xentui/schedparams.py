"""Scheduler parameters an admin may set, by their own names (``xl sched-*``, libvirt's ``schedulerParameters``),
and the ranges each takes: :func:`check_schedule` turns what was typed into checked values, or one line saying
the valid range.  Pure: no I/O (the hypervisor's own refusal comes later, in its words).
"""

from __future__ import annotations

import re
from typing import Literal

INT_MAX = 2**31 - 1  # xl reads its numbers into a C int
KVM_QUOTA_MAX = 17592186044415  # libvirt's upper bound of a CFS quota (2**44 - 1), in us
RTDS_MIN_US = 10  # Xen's RTDS_MIN_PERIOD and RTDS_MIN_BUDGET (xen/common/sched/rt.c)

CREDIT = ("weight", "cap")  # credit and credit2 (credit2's pool ratelimit is not per domain)
RTDS = ("period_us", "budget_us", "extratime")
KVM_PERIODS = ("vcpu_period", "emulator_period", "iothread_period", "global_period")
KVM_QUOTAS = ("vcpu_quota", "emulator_quota", "iothread_quota", "global_quota")
KVM = ("cpu_shares", *KVM_PERIODS, *KVM_QUOTAS)
FAMILIES = (CREDIT, RTDS, KVM)
KNOWN = frozenset(name for family in FAMILIES for name in family)

Checked = dict[str, int | bool]
Vcpu = int | Literal["all"]


class SchedParamError(ValueError):
    """A value out of range, or a name no scheduler knows: one line for the admin."""


def _int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise SchedParamError(f"{name} {value!r} is not a whole number")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"-?[0-9]{1,19}", text):  # ASCII digits only: "--5" and "²" are not numbers
        raise SchedParamError(f"{name} {str(value)[:40]!r} is not a whole number")
    return int(text)


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "yes", "y", "true", "on"):
        return True
    if text in ("0", "no", "n", "false", "off"):
        return False
    raise SchedParamError(f"{name} {str(value)[:40]!r} is not yes or no")


def _within(name: str, value: int, low: int, high: int, unit: str = "", also: str = "") -> int:
    if low <= value <= high or (also and str(value) == also):
        return value
    extra = f" (or {also}: no limit)" if also else ""
    raise SchedParamError(f"{name} {value} is out of range: {low}-{high}{unit}{extra}")


def _check_one(name: str, value: object, vcpus: int) -> int | bool:
    if name == "extratime":
        return _bool(name, value)
    number = _int(name, value)
    if name == "weight":
        return _within(name, number, 1, 65535)
    if name == "cap":
        return _within(name, number, 0, 100 * vcpus, f" (% of one pCPU, 100 per vCPU; this domain has {vcpus}; 0: "
                                                      "no cap)")
    if name in ("period_us", "budget_us"):
        return _within(name, number, RTDS_MIN_US, INT_MAX, " us")
    if name == "cpu_shares":
        return _within(name, number, 2, 262144, " (cgroup v1; libvirt on cgroup v2 takes 1-10000)")
    if name in KVM_PERIODS:
        return _within(name, number, 1000, 1000000, " us")
    return _within(name, number, 1000, KVM_QUOTA_MAX, " us", also="-1")  # a KVM quota


def check_schedule(params: dict[str, object], vcpu: object, vcpus: int) -> tuple[Checked, Vcpu]:
    """``params`` (scheduler parameter -> value, as typed) checked against one scheduler's ranges, and the vCPU
    (RTDS only: one, or ``"all"``); SchedParamError (one line) otherwise."""
    if not isinstance(params, dict) or not params:
        raise SchedParamError("schedule needs parameters, e.g. weight=512 cap=50 (credit, credit2), "
                              "period_us=100000 budget_us=30000 (RTDS), vcpu_quota=30000 (KVM)")
    unknown = sorted(str(k)[:40] for k in params if k not in KNOWN)
    if unknown:
        raise SchedParamError(f"unknown scheduler parameter(s) {', '.join(map(repr, unknown))}; "
                              f"known: {', '.join(sorted(KNOWN))}")
    family = next(f for f in FAMILIES if next(iter(params)) in f)
    if any(k not in family for k in params):
        raise SchedParamError(f"{', '.join(sorted(params))} mix two schedulers' parameters: "
                              f"set one scheduler's ({', '.join(family)}) at a time")
    checked = {name: _check_one(name, value, vcpus) for name, value in params.items()}
    if family is RTDS:
        if "period_us" not in checked or "budget_us" not in checked:
            raise SchedParamError("RTDS needs both period_us and budget_us (us, 10 <= budget <= period)")
        if checked["budget_us"] > checked["period_us"]:
            raise SchedParamError(f"budget_us {checked['budget_us']} is above period_us {checked['period_us']}: "
                                  "RTDS needs budget <= period")
        if vcpu is None or vcpu == "all":
            return checked, "all"
        if isinstance(vcpu, int) and not isinstance(vcpu, bool) and 0 <= vcpu < vcpus:
            return checked, vcpu
        shown = vcpu if isinstance(vcpu, int) else repr(str(vcpu)[:20])
        raise SchedParamError(f"vCPU {shown} does not exist; this domain has vCPUs 0-{vcpus - 1} "
                              "(or all)")
    if vcpu not in (None, "all"):
        raise SchedParamError(f"{', '.join(sorted(params))} are set per domain, not per vCPU (RTDS only is per "
                              "vCPU)")
    return checked, "all"


def check_pool(name: object) -> str:
    """A cpupool's name as typed: one printable line, not empty."""
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > 256 or not text.isprintable():
        raise SchedParamError("cpupool needs the name of a cpupool of this host (xl cpupool-list), "
                              "printable, on one line")
    if text.isdigit():  # xl cpupool-migrate reads digits as a pool id: "1" could be another pool
        raise SchedParamError(f"cpupool {text!r}: xl would read an all-digit name as a pool id; rename the pool")
    return text
