"""OVH(%): cpu.time minus the vCPUs' times (KVM), as a rate over the window; unknown when any part is."""

from __future__ import annotations

import json

import pytest

from tests.factories import dom, raw
from xentui.model import DomainState, VcpuSample, build_snapshot
from xentui.output import records
from xentui.sources.libvirt.bulk_stats import parse_stats

S = 1_000_000_000


def kvm_record(cpu_ns: int, *vcpu_ns: int | None, offline: tuple[int, ...] = ()) -> dict[str, object]:
    """A bulk-stats record as libvirt's QEMU driver gives it."""
    rec: dict[str, object] = {"state.state": 1, "cpu.time": cpu_ns, "vcpu.current": len(vcpu_ns),
                              "vcpu.maximum": len(vcpu_ns)}
    for n, ns in enumerate(vcpu_ns):
        rec[f"vcpu.{n}.state"] = 0 if n in offline else 1
        if ns is not None:
            rec[f"vcpu.{n}.time"] = ns
    return rec


def test_overhead_is_cpu_time_beyond_the_vcpus_for_qemu_only():
    rec = kvm_record(10 * S, 3 * S, 4 * S)
    assert parse_stats("u", "web", 1, rec, overhead=True).overhead_ns == 3 * S
    assert parse_stats("u", "web", 1, rec).overhead_ns is None  # Xen (libxl), test driver: not measured
    # An offline vCPU has no thread and no time; an online vCPU without a time leaves the figure unknown.
    assert parse_stats("u", "web", 1, kvm_record(9 * S, 3 * S, None, offline=(1,)), overhead=True).overhead_ns == 6 * S
    assert parse_stats("u", "web", 1, kvm_record(9 * S, 3 * S, None), overhead=True).overhead_ns is None
    assert parse_stats("u", "web", 1, {"state.state": 1, "vcpu.current": 1, "vcpu.maximum": 1, "vcpu.0.state": 1,
                                       "vcpu.0.time": S}, overhead=True).overhead_ns is None  # no cpu.time


def vcpus(*seconds: float) -> tuple[VcpuSample, ...]:
    return tuple(VcpuSample(n, time_ns=int(s * S)) for n, s in enumerate(seconds))


def test_overhead_rate_over_the_window_and_in_json():
    a = raw(0.0, dom(10, vcpus=vcpus(4, 5), overhead_ns=1 * S))
    b = raw(2.0, dom(12.5, vcpus=vcpus(5, 6), overhead_ns=int(1.5 * S)))
    view = build_snapshot(a, b).domains[0]
    assert view.rates.cpu_pct == 125.0 and view.rates.overhead_pct == 25.0
    record = json.loads(records.json_frame(build_snapshot(a, b), 1))["domains"][0]
    assert record["overhead_cpu_pct"] == 25.0
    assert "overhead_cpu_pct" in records.CSV_FIELDS


def test_overhead_unknown_when_a_side_is_missing_or_the_domain_restarted():
    measured = raw(2.0, dom(12, overhead_ns=S))
    assert build_snapshot(raw(0.0, dom(10)), measured).domains[0].rates.overhead_pct is None
    assert build_snapshot(raw(0.0, dom(10, overhead_ns=S)), raw(2.0, dom(12))).domains[0].rates.overhead_pct is None
    restarted = raw(2.0, dom(1, domid=8, overhead_ns=S // 10))
    assert build_snapshot(raw(0.0, dom(10, overhead_ns=S)), restarted).domains[0].rates.overhead_pct is None
    off = raw(2.0, dom(12, state=DomainState.SHUTOFF, overhead_ns=S))
    assert build_snapshot(raw(0.0, dom(10, overhead_ns=S)), off).domains[0].rates.overhead_pct is None


def test_a_tick_sized_step_back_is_no_overhead_not_a_reset():
    # vcpu.N.time is counted in clock ticks (10 ms): cpu.time - sum may step back by one between samples.
    a = raw(0.0, dom(10, overhead_ns=S))
    b = raw(2.0, dom(11, overhead_ns=S - 10_000_000))
    assert build_snapshot(a, b).domains[0].rates.overhead_pct == 0.0


def test_a_vcpu_taken_offline_is_no_overhead_spike():
    # setvcpus down: libvirt drops the offline vCPU's time while cpu.time keeps it; the difference jumps by that
    # vCPU's whole lifetime (here 500 s in a 2 s window: 25,000 %).  The set of online vCPUs changed: no rate.
    both = (VcpuSample(0, time_ns=400 * S), VcpuSample(1, time_ns=500 * S))
    one = (VcpuSample(0, time_ns=401 * S), VcpuSample(1, online=False))
    a = raw(0.0, dom(910, vcpus=both, overhead_ns=10 * S))
    b = raw(2.0, dom(912, vcpus=one, overhead_ns=511 * S))
    assert build_snapshot(a, b).domains[0].rates.overhead_pct is None
    c = raw(4.0, dom(914, vcpus=(VcpuSample(0, time_ns=403 * S), VcpuSample(1, online=False)), overhead_ns=511 * S))
    assert build_snapshot(b, c).domains[0].rates.overhead_pct == 0.0  # the same vCPUs again: measured
    listed_otherwise = (VcpuSample(1, online=False), VcpuSample(0, time_ns=405 * S))  # a source's own order
    d = raw(6.0, dom(916, vcpus=listed_otherwise, overhead_ns=512 * S))
    assert build_snapshot(c, d).domains[0].rates.overhead_pct == pytest.approx(50.0)
