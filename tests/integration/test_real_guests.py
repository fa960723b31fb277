"""xentui's numbers against independent references, on real guests under a real libvirtd."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time

import psutil
import pytest

from tests.libvirt_test_driver import counting_round_trips
from tests.procfs import proc_cpu_seconds
from xentui import lab
from xentui.model import build_snapshot
from xentui.poller import Poller
from xentui.sources.libvirt import LibvirtSource

from .conftest import SPINNING_PCT, URI

pytestmark = pytest.mark.lab


def view_of(snapshot, dom):
    return next(v for v in snapshot.domains if v.uuid == dom.UUIDString())


def measure(source: LibvirtSource, pid: int, seconds: float = 3.0):
    """(snapshot, reference CPU% of the qemu process) over the same window."""
    p0 = proc_cpu_seconds(pid)
    r0 = source.collect()
    time.sleep(seconds)
    p1 = proc_cpu_seconds(pid)
    r1 = source.collect()
    return build_snapshot(r0, r1), 100.0 * (p1 - p0) / (r1.monotonic - r0.monotonic)


def test_busy_guest_cpu_matches_its_qemu_process(busy_and_idle, source):
    busy, _ = busy_and_idle
    snap, reference = measure(source, lab.qemu_pid(busy.name()))
    ours = view_of(snap, busy).rates.cpu_pct
    print(f"busy guest: xentui {ours:.1f}%  /proc/<pid>/stat {reference:.1f}%")
    assert reference > SPINNING_PCT, "the busy guest should spin its vCPU"
    assert abs(ours - reference) <= 3.0
    vcpu0 = view_of(snap, busy).rates.vcpus[0]
    assert vcpu0.cpu_pct == pytest.approx(ours, abs=5.0)  # its only vCPU does the spinning
    assert 0.0 <= vcpu0.steal_pct <= 100.0
    assert view_of(snap, busy).rates.cpu_host_pct == pytest.approx(ours / psutil.cpu_count(), rel=1e-9)


def test_idle_guest_cpu_is_low_and_true(busy_and_idle, source):
    _, idle = busy_and_idle
    snap, reference = measure(source, lab.qemu_pid(idle.name()))
    ours = view_of(snap, idle).rates.cpu_pct
    print(f"idle guest: xentui {ours:.1f}%  /proc/<pid>/stat {reference:.1f}%")
    assert ours <= 5.0
    assert abs(ours - reference) <= 3.0
    assert len(view_of(snap, idle).rates.vcpus) == 2


def virsh_balloon(name: str) -> dict[str, int]:
    out = subprocess.run(["virsh", "-c", URI, "domstats", "--balloon", name], capture_output=True, text=True,
                         check=True).stdout
    return {k: int(v) for k, v in re.findall(r"balloon\.(\w+)=(\d+)", out)}


def test_memory_equals_libvirt_balloon(busy_and_idle, source):
    busy, idle = busy_and_idle
    snap = build_snapshot(None, source.collect())
    for dom in (busy, idle):
        reference = virsh_balloon(dom.name())
        d = view_of(snap, dom).sample
        assert d.mem_kib == reference["current"] == 32 * 1024
        assert d.maxmem_kib == reference["maximum"]
        assert d.rss_kib == pytest.approx(reference["rss"], rel=0.1)
        assert view_of(snap, dom).mem_pct == pytest.approx(100 * d.mem_kib / snap.host.mem_total_kib)


def test_host_figures_agree_with_psutil_and_virsh(source):
    host = source.collect().host
    virsh = dict(map(str.strip, line.split(":")) for line in subprocess.run(
        ["virsh", "-r", "-c", URI, "nodememstats"], capture_output=True, text=True, check=True).stdout.splitlines()
        if ":" in line)
    assert host.pcpus == psutil.cpu_count()
    assert host.mem_total_kib == int(virsh["total"].split()[0])  # same MemTotal, read here from /proc
    assert host.mem_free_kib == pytest.approx(int(virsh["free"].split()[0]), rel=0.05)
    assert host.mem_free_kib == pytest.approx(psutil.virtual_memory().free / 1024, rel=0.2)
    # what the kernel could hand out, page cache included: virsh's free + buffers + cached (MemAvailable's basis)
    spare = sum(int(virsh[k].split()[0]) for k in ("free", "buffers", "cached"))
    assert host.mem_available_kib is not None and host.mem_free_kib <= host.mem_available_kib
    assert host.mem_available_kib == pytest.approx(spare, rel=0.25)
    assert host.hypervisor == "QEMU" and host.mhz > 0


def test_guest_started_mid_run_appears_and_destroyed_one_vanishes(guests, source):
    async def run() -> None:
        poller = Poller(source, delay=0.5)
        try:
            first = await poller.tick()
            dom = guests.start("idle", settle=False)
            second = await poller.tick()
            assert dom.UUIDString() not in first.by_uuid()
            assert dom.UUIDString() in second.by_uuid()
            dom.destroy()
            third = await poller.tick()
            assert dom.UUIDString() not in third.by_uuid()
            assert third.errors == ()
            for snap in (second, third):
                for view in snap.domains:
                    assert view.rates.cpu_pct is None or 0 <= view.rates.cpu_pct < 100 * 64
        finally:
            poller.close()  # its worker thread, and the source (closed again by the fixture: a no-op)

    asyncio.run(run())


def test_bulk_call_is_one_round_trip_per_tick(busy_and_idle, source):
    source.collect()
    with counting_round_trips() as calls:
        source.collect()
    assert source.bulk_supported is True and source.missing_groups == frozenset()
    assert calls.count == 1  # getAllDomainStats (node memory from /proc: libvirtd is local)


class NoBulkConnection:
    """A real connection that refuses the bulk call, as Xen's libxl driver does."""

    def __init__(self, conn, error):
        self._conn = conn
        self._error = error

    def getAllDomainStats(self, *_args):
        raise self._error

    def __getattr__(self, name):
        return getattr(self._conn, name)


def real_no_support_error():
    import libvirt

    conn = libvirt.openReadOnly("test:///default")
    try:
        conn.getMemoryStats(-1)
    except libvirt.libvirtError as err:
        assert err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT
        return err
    finally:
        conn.close()  # the error's traceback would hold it open, and test:///default's one state with it
    raise AssertionError("the test driver was expected to refuse node memory stats")


def test_per_domain_fallback_gives_the_same_numbers(busy_and_idle, source):
    import libvirt

    busy, idle = busy_and_idle
    with contextlib.closing(LibvirtSource(URI, conn=NoBulkConnection(libvirt.openReadOnly(URI),
                                                                      real_no_support_error()))) as fallback:
        pid = lab.qemu_pid(busy.name())
        snap, reference = measure(fallback, pid)
        assert fallback.bulk_supported is False
    bulk = build_snapshot(None, source.collect())
    assert {v.uuid for v in snap.domains} == {v.uuid for v in bulk.domains}
    assert abs(view_of(snap, busy).rates.cpu_pct - reference) <= 3.0
    for dom in (busy, idle):
        ours, theirs = view_of(snap, dom).sample, view_of(bulk, dom).sample
        assert (ours.mem_kib, ours.maxmem_kib, ours.vcpus_current) == (theirs.mem_kib, theirs.maxmem_kib,
                                                                      theirs.vcpus_current)
        assert [n.name for n in ours.nets] == [n.name for n in theirs.nets]
        assert [b.name for b in ours.blocks] == [b.name for b in theirs.blocks]
        assert ours.blocks[0].rd_reqs == theirs.blocks[0].rd_reqs
        assert all(v.pcpu is not None for v in ours.vcpus)  # vcpus() also says where each vCPU runs


def test_test_driver_groups_learnt_at_run_time():
    """libvirt's test driver returns only state.* in bulk: the rest comes per domain."""
    s = LibvirtSource("test:///default")
    try:
        sample = s.collect()
    finally:
        s.close()  # an open connection keeps test:///default's one state for the rest of the process
    assert s.bulk_supported is True
    assert s.missing_groups == {"cpu", "balloon", "vcpu", "net", "block"}
    d = sample.domains[0]
    assert d.cpu_ns and d.mem_kib == 2097152 and d.maxmem_kib == 8388608 and len(d.vcpus) == 2
    assert [n.name for n in d.nets] == ["testnet0"] and [b.name for b in d.blocks] == ["vda"]


def test_same_name_recreated_between_ticks_gives_no_absurd_rate(conn, guests, source):
    """Destroyed and booted again under the same name: a new UUID, a new row, no borrowed counters."""
    dom = guests.start("busy")  # spinning in its boot sector
    name = dom.name()
    first = source.collect()
    dom.destroy()
    again = lab.start_guest(conn, name, "idle")
    guests.started.append(again)
    second = source.collect()
    snap = build_snapshot(first, second)
    rows = [v for v in snap.domains if v.name == name]
    assert len(rows) == 1 and rows[0].uuid == again.UUIDString() != dom.UUIDString()
    assert rows[0].rates.cpu_pct is None or 0 <= rows[0].rates.cpu_pct <= 100 * 2
