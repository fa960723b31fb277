"""vCPU pinning round trip on real guests, checked by virsh and by the kernel's view of the qemu thread."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.libvirt_test_driver import counting_round_trips
from xentui import lab
from xentui.actions import Action, ActionError, perform
from xentui.model import DomainSample
from xentui.sources.libvirt import LibvirtSource, fastpath
from xentui.sources.placement import ALL_REFRESH_S

from .conftest import URI, sample_of


def virsh_vcpupin(name: str, *extra: str) -> dict[int, str]:
    """``virsh vcpupin NAME`` -> {vcpu: cpu list}."""
    out = subprocess.run(["virsh", "-c", URI, "vcpupin", name, *extra], capture_output=True, text=True,
                         check=True).stdout
    rows = [line.split() for line in out.splitlines()]
    return {int(r[0]): r[1] for r in rows if len(r) == 2 and r[0].isdigit()}


def vcpu_thread(pid: int, vcpu: int) -> int:
    """The qemu thread that runs ``vcpu`` (named "CPU 0/KVM", or "CPU 0/TCG" without KVM)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        if (task / "comm").read_text().strip() in (f"CPU {vcpu}/KVM", f"CPU {vcpu}/TCG"):
            return int(task.name)
    raise AssertionError(f"no thread for vCPU {vcpu} in qemu {pid}")


def cpus_allowed(pid: int, tid: int) -> str:
    for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no Cpus_allowed_list")


def wait_for_vcpu(source: LibvirtSource, name: str, check, ticks: int = 8) -> DomainSample:
    """Tick (0.5 s apart) until ``check(vcpu 0)`` holds; the view watches this domain."""
    for _ in range(ticks):
        sample, _host = sample_of(source, name)
        if check(sample.vcpus[0]):
            return sample
        time.sleep(0.5)
    raise AssertionError(f"vCPU 0 of {name} never satisfied the check: {sample.vcpus[0]}")


def test_pin_to_pcpu_1_and_back_to_all(guests, writer):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two host CPUs")
    dom = guests.start("busy")
    name, pid = dom.name(), lab.qemu_pid(dom.name())
    tid = vcpu_thread(pid, 0)
    sample, host = sample_of(writer, name)
    writer.placement.watch = sample.uuid  # as the vCPU view does
    every = f"0-{host.cpumap_size - 1}"
    assert cpus_allowed(pid, tid) == every and virsh_vcpupin(name)[0] == every

    took = perform(writer, sample, Action.PIN, host=host, vcpu=0, hard="1")
    assert took < 2.0
    assert virsh_vcpupin(name) == {0: "1"}
    assert cpus_allowed(pid, tid) == "1"
    pinned = wait_for_vcpu(writer, name, lambda v: v.pcpu == 1 and v.hard_affinity == {1})
    assert pinned.vcpus[0].pcpu == 1  # the busy vCPU really runs on pCPU 1 now

    perform(writer, pinned, Action.PIN, host=host, vcpu="all", hard="all")
    assert virsh_vcpupin(name) == {0: every}
    assert cpus_allowed(pid, tid) == every
    wait_for_vcpu(writer, name, lambda v: v.hard_affinity == frozenset(range(host.cpumap_size)))


def test_persistent_pin_of_a_transient_guest_says_nothing_was_done(guests, writer):
    dom = guests.start("idle")
    name, pid = dom.name(), lab.qemu_pid(dom.name())
    sample, host = sample_of(writer, name)
    before = cpus_allowed(pid, vcpu_thread(pid, 0))
    with pytest.raises(ActionError) as err:
        perform(writer, sample, Action.PIN, host=host, vcpu=0, hard="0", persistent=True)
    message = str(err.value)
    assert "\n" not in message and "nothing pinned" in message and "transient" in message
    assert cpus_allowed(pid, vcpu_thread(pid, 0)) == before


def test_bad_pins_are_refused_before_libvirt(guests, writer):
    dom = guests.start("idle")
    sample, host = sample_of(writer, dom.name())
    for spec, needle in (("0-99", "does not exist"), ("nodes:7", "NUMA node 7 does not exist"),
                         ("x", "not a pCPU number"), ("none", "leaves no pCPU")):
        with pytest.raises(ActionError, match=needle):
            perform(writer, sample, Action.PIN, host=host, vcpu=0, hard=spec)
    with pytest.raises(ActionError, match="--write"):
        reader = LibvirtSource(URI)
        perform(reader, sample, Action.PIN, host=host, vcpu=0, hard="0")


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "no-fast-path"])
def test_placement_is_read_sparingly(busy_and_idle, fast_path):
    """One bulk call a tick (host memory from /proc here). Placement for new, watched or all-shown domains comes
    from the kernel where the fast path read the guest (no call), else from one vcpus() call each."""
    fastpath.configure(fast_path)
    source = LibvirtSource(URI)
    try:
        first = source.collect()
        active = [d for d in first.domains if d.active]
        assert all(v.hard_affinity is not None for d in active for v in d.vcpus)  # read when they appeared
        with counting_round_trips() as calls:
            for _ in range(3):
                source.collect()
        assert calls.count == 3  # steady ticks: getAllDomainStats only (host memory from /proc here)

        busy = next(d for d in active if "-busy-" in d.name)
        source.set_interest(busy.uuid)
        with counting_round_trips() as calls:
            raw = source.collect()
        assert calls.count == (1 if fast_path else 2)  # + one vcpus() for the watched domain, without the kernel's
        assert next(d for d in raw.domains if d.uuid == busy.uuid).vcpus[0].pcpu is not None

        source.set_interest(None, all_pcpus=True)
        later = time.monotonic() + ALL_REFRESH_S
        source.placement.clock = lambda: later  # every placement read is now ALL_REFRESH_S old
        with counting_round_trips() as calls:
            shown = source.collect()
        assert calls.count == (1 if fast_path else 1 + len(active))  # the pCPU view: everyone's, once per 2 s
        assert all(v.pcpu is not None and v.hard_affinity for d in shown.domains if d.active for v in d.vcpus)
    finally:
        source.close()
        fastpath.configure(True)
