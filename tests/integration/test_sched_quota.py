"""A vcpu_quota set through xentui on a real busy guest: libvirt and xentui's scheduling state read it back,
and the guest's CPU(%) in xentui settles near the quota, against /proc of its QEMU over the same window."""

from __future__ import annotations

import os
import time

import pytest

from tests.factories import wait_for
from tests.procfs import proc_cpu_seconds, thread_cpu_seconds, vcpu_seconds
from xentui import lab
from xentui.actions import Action, ActionError, perform
from xentui.model import build_snapshot

from .conftest import sample_of

PERIOD_US, QUOTA_US = 100000, 30000  # 30 % of one pCPU
TARGET_PCT = 100 * QUOTA_US / PERIOD_US
NEAR = 6.0  # points: CFS enforces per period; a 4 s window holds 40 of them
WINDOW_S = 4.0


def quota_of(writer, uuid: str) -> object:
    state = writer.collect().scheduling
    found = next((d for d in state.domains if d.uuid == uuid), None) if state is not None else None
    return None if found is None else found.param("vcpu_quota")


def test_a_vcpu_quota_caps_the_busy_guest_near_30_percent(guests, writer) -> None:
    dom = guests.start("busy")
    name, uuid = dom.name(), dom.UUIDString()
    pid = lab.qemu_pid(name)
    writer.watch_scheduling(True)
    wait_for(lambda: quota_of(writer, uuid) is not None, "xentui reading the guest's scheduler parameters")
    before = dict(dom.schedulerParameters())
    assert quota_of(writer, uuid) == before["vcpu_quota"]  # xentui's figure is libvirt's
    r0 = writer.collect()
    time.sleep(WINDOW_S)  # a window before the quota, for the record
    unbounded = next(v for v in build_snapshot(r0, writer.collect()).domains if v.name == name).rates.cpu_pct or 0.0
    domain, host = sample_of(writer, name)
    with pytest.raises(ActionError, match="vcpu_quota 500 is out of range: 1000-17592186044415 us"):
        perform(writer, domain, Action.SCHEDULE, host=host, sched={"vcpu_quota": 500})
    perform(writer, domain, Action.SCHEDULE, host=host, sched={"vcpu_period": PERIOD_US, "vcpu_quota": QUOTA_US})
    try:
        assert dom.schedulerParameters()["vcpu_quota"] == QUOTA_US
        wait_for(lambda: quota_of(writer, uuid) == QUOTA_US, "xentui's state showing the new quota", timeout=15)
        measured: list[tuple[float, float, float]] = []

        def window_near_target() -> bool:
            r0, p0, v0 = writer.collect(), proc_cpu_seconds(pid), vcpu_seconds(thread_cpu_seconds(pid))
            time.sleep(WINDOW_S)  # the measured window itself
            r1, p1, v1 = writer.collect(), proc_cpu_seconds(pid), vcpu_seconds(thread_cpu_seconds(pid))
            seconds = r1.monotonic - r0.monotonic
            view = next(v for v in build_snapshot(r0, r1).domains if v.name == name)
            measured.append((view.rates.cpu_pct or 0.0, 100 * (p1 - p0) / seconds, 100 * (v1 - v0) / seconds))
            return abs(measured[-1][0] - TARGET_PCT) <= NEAR

        wait_for(window_near_target, f"{name}'s CPU(%) settling near {TARGET_PCT:.0f}", timeout=90)
        xentui_pct, qemu_pct, vcpu_pct = measured[-1]
        print(f"\nvcpu_quota {QUOTA_US}/{PERIOD_US}: xentui CPU(%) {xentui_pct:.1f}, /proc qemu {qemu_pct:.1f}, "
              f"/proc vCPU threads {vcpu_pct:.1f} over {WINDOW_S:.0f} s (before: {unbounded:.1f}); "
              f"windows: {measured}; "
              f"load {os.getloadavg()[0]:.1f}")
        assert abs(xentui_pct - qemu_pct) <= 3.0  # cpu.time is the QEMU process's
        assert vcpu_pct <= TARGET_PCT + NEAR  # the cap holds where the quota's cgroup is
    finally:
        domain, host = sample_of(writer, name)
        perform(writer, domain, Action.SCHEDULE, host=host,
                sched={"vcpu_period": before["vcpu_period"], "vcpu_quota": before["vcpu_quota"]})
        restored = dom.schedulerParameters()
        assert (restored["vcpu_period"], restored["vcpu_quota"]) == (before["vcpu_period"], before["vcpu_quota"])


def test_a_parameter_this_scheduler_lacks_is_refused_in_libvirts_words(guests, writer) -> None:
    dom = guests.start("idle", settle=False)
    domain, host = sample_of(writer, dom.name())
    with pytest.raises(ActionError) as err:
        perform(writer, domain, Action.SCHEDULE, host=host, sched={"weight": 512})  # credit's, not KVM's
    said = str(err.value)
    assert 'Attribute name "weight" could not be recognized' in said  # libvirt-python's own words
    assert "its scheduler's parameters: cpu_shares" in said and "vcpu_quota" in said and "\n" not in said
