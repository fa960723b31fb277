"""Xen guests' type, device model, PCI devices and device-model CPU (OVH(%)), on /proc trees and xenstore
contents the tests build (the Xen lab's domUs are PV: TCG cannot run HVM, so no real QEMU serves a domain there).

The trees copy what libxl makes: xenstore's ``/libxl/<domid>/type`` and ``dm-version``,
``/local/domain/<domid>/image/device-model-pid`` or ``device-model-domid``, ``/vm/<uuid>/start_time``, and QEMU's
command line as libxl starts it (``qemu-system-i386 -xen-domid N ...``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.fake_xenstat import FakeDomain, FakeXenStat, FakeXenStore, FakeXl
from xentui.sources.xen import XenSource, dm_procs
from xentui.sources.xen.guests import XenGuests
from xentui.sources.xen.xl import parse_pci_list

BOOT = 1_700_000_000.0  # the fake dom0's boot time (epoch s)
TCK = dm_procs.CLK_TCK
S = 1_000_000_000
HVM_QEMU = ("/usr/lib/xen/bin/qemu-system-i386 -xen-domid {domid} -chardev socket,id=libxl-cmd,"
            "path=/var/run/xen/qmp-libxl-{domid},server=on,wait=off -mon chardev=libxl-cmd,mode=control -nodefaults "
            "-no-user-config -name hvm1 -vnc 127.0.0.1:0,to=99 -display none -serial pty -device VGA,vgamem_mb=8 "
            "-boot order=cd -machine xenfv -m 1016 -drive file=/root/hvm.img,if=ide,index=0,media=disk,format=raw")
QDISK_DOM0 = "/usr/lib/xen/bin/qemu-system-i386 -xen-domid 0 -xen-attach -name dom0 -nographic -M xenpv -daemonize"


def stat_line(pid: int, comm: str, utime: int, stime: int, start_ticks: int) -> str:
    """/proc/<pid>/stat as the kernel writes it: 52 fields, utime 14, stime 15, starttime 22."""
    fields = ["S", "1"] + ["0"] * 49
    fields[14 - 3], fields[15 - 3], fields[22 - 3] = str(utime), str(stime), str(start_ticks)
    return f"{pid} ({comm}) {' '.join(fields)}\n"


class ProcTree:
    """A /proc of a few processes, in a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, pid: int, cmdline: str, start_s: float, cpu_ticks: int = 0, comm: str = "qemu-system-i38",
            uid: int = 0) -> None:
        d = self.root / str(pid)
        d.mkdir()
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in cmdline.split()) + b"\0")
        self.cpu(pid, cpu_ticks, start_s, comm)
        os.chown(d, uid, uid)

    def cpu(self, pid: int, ticks: int, start_s: float, comm: str = "qemu-system-i38") -> None:
        start = round((start_s - BOOT) * TCK)
        (self.root / str(pid) / "stat").write_text(stat_line(pid, comm, ticks - ticks // 3, ticks // 3, start))


UUIDS = {0: "00000000-0000-0000-0000-000000000000", 5: "5a5a5a5a-0000-4000-8000-000000000005",
         7: "7a7a7a7a-0000-4000-8000-000000000007", 8: "8a8a8a8a-0000-4000-8000-000000000008",
         9: "9a9a9a9a-0000-4000-8000-000000000009"}
STARTED = {5: BOOT + 1000.0, 7: BOOT + 2000.0, 8: BOOT + 2000.5, 9: BOOT + 3000.0}
PCI_LIST_5 = "Vdev Device\n04.0 0000:03:00.1\n05.0 0000:81:10.2\n"  # xl_pci.c: "%02x.%01x %04x:%02x:%02x.%01x\n"


def store() -> FakeXenStore:
    entries = {f"/vm/{UUIDS[d]}/start_time": f"{t:.2f}" for d, t in STARTED.items()}
    entries |= {"/libxl/5/type": "hvm", "/libxl/5/dm-version": "qemu_xen",
                "/local/domain/5/image/device-model-pid": "4005",
                "/libxl/7/type": "hvm", "/libxl/7/dm-version": "qemu_xen",
                "/local/domain/7/image/device-model-domid": "8",
                "/libxl/8/type": "pv", "/libxl/9/type": "pvh", "/libxl/9/dm-version": "qemu_xen",
                "/local/domain/0/backend/pci/5/0/num_devs": "2"}  # pciback's count, which xl pci-list reads
    return FakeXenStore({d: f"/vm/{u}" for d, u in UUIDS.items()}, entries)


@pytest.fixture
def lab(tmp_path):
    proc = ProcTree(tmp_path / "proc")
    proc.root.mkdir()
    sysfs = tmp_path / "sys"
    (sysfs / "0000:81:10.2").mkdir(parents=True)
    (sysfs / "0000:81:10.2" / "physfn").symlink_to(tmp_path)  # an SR-IOV virtual function
    proc.add(4005, HVM_QEMU.format(domid=5), STARTED[5] + 1.5, cpu_ticks=10 * TCK)
    proc.add(3999, HVM_QEMU.format(domid=5), STARTED[5] - 600, cpu_ticks=99 * TCK)  # an earlier domain 5's
    proc.add(4444, "sleep 1000 -xen-domid 5", STARTED[5] + 5)  # not a QEMU
    proc.add(4445, "/tmp/qemu-system-i386 -xen-domid 5", STARTED[5] + 5, cpu_ticks=500 * TCK, uid=65534)  # nobody's
    proc.add(300, QDISK_DOM0, BOOT + 30, cpu_ticks=7 * TCK)  # dom0's backends: in dom0's vCPUs already
    domains = [FakeDomain(0, b"Domain-0", 2), FakeDomain(5, b"hvm1", 2), FakeDomain(7, b"hvm2", 1),
               FakeDomain(8, b"hvm2-dm", 1), FakeDomain(9, b"pvh1", 1)]
    xl = FakeXl(pci_lists={"5": PCI_LIST_5})
    xs = store()
    guests = XenGuests(xs, xl, proc=proc.root, sysfs=sysfs, boot_time=BOOT)
    source = XenSource(stat=FakeXenStat(domains), store=xs, run=xl, cpuinfo=lambda: None, guests=guests)
    yield source, proc
    source.close()


def settled(source: XenSource, timeout_s: float = 20.0) -> dict[str, object]:
    """Ticks until every domain's facts are read (in the guests' own thread); the last tick's domains by name."""
    end = time.monotonic() + timeout_s
    while True:
        domains = {d.name: d for d in source.collect().domains}
        keys = [(d.domid, d.uuid) for d in domains.values()]
        if all((g := source.guests.get(k)) is not None and g.final for k in keys):
            return {d.name: d for d in source.collect().domains}
        assert time.monotonic() < end, "the guests' facts were not read in time"
        time.sleep(0.05)


def test_xl_pci_list_format():
    """xl_pci.c prints ``Vdev Device`` then ``"%02x.%01x %04x:%02x:%02x.%01x\\n"`` per device; nothing for none."""
    assert parse_pci_list(PCI_LIST_5) == ["0000:03:00.1", "0000:81:10.2"]
    assert parse_pci_list("") == []
    assert parse_pci_list("Vdev Device\n04.0 0000:03:00.1\x1b[2J\nzz.9 1:2:3.9\n") == []  # hostile: dropped


def test_types_device_models_and_pci_devices(lab):
    source, _proc = lab
    d = settled(source)
    assert (d["hvm1"].domain_type, d["hvm1"].device_model) == ("hvm", "qemu-xen")
    assert source._xl.asked == [("pci-list", "5")]  # xl is run only where pciback has devices
    assert d["hvm1"].hostdevs == ("0000:03:00.1", "0000:81:10.2 VF")
    assert (d["hvm2"].domain_type, d["hvm2"].device_model) == ("hvm", "stubdom")
    assert (d["hvm2-dm"].domain_type, d["hvm2-dm"].device_model) == ("pv", "none")
    assert (d["pvh1"].domain_type, d["pvh1"].device_model, d["pvh1"].overhead_ns) == ("pvh", "none", None)
    # Domain-0: no /libxl/0/type (libxl did not create it): `xl list -l 0` says pv (the recorded dom0's answer)
    assert (d["Domain-0"].domain_type, d["Domain-0"].device_model, d["Domain-0"].overhead_ns) == ("pv", "none", None)


def test_device_model_cpu_is_the_domains_overhead(lab):
    source, proc = lab
    d = settled(source)
    # only libxl's QEMU started after the domain: not the earlier domain 5's, not a non-QEMU, not nobody's
    assert d["hvm1"].overhead_ns == 10 * S
    proc.cpu(4005, 13 * TCK, STARTED[5] + 1.5)
    assert {x.name: x for x in source.collect().domains}["hvm1"].overhead_ns == 13 * S
    # a stub domain's own CPU, this tick's, is its domain's overhead
    d = {x.name: x for x in source.collect().domains}
    assert d["hvm2"].overhead_ns == d["hvm2-dm"].cpu_ns is not None
    # the pid now names another process (another start time): unknown, never another process's CPU
    proc.cpu(4005, 1 * TCK, STARTED[5] + 50)
    assert {x.name: x for x in source.collect().domains}["hvm1"].overhead_ns is None


def test_a_domid_reused_is_looked_at_again(lab):
    source, _proc = lab
    settled(source)
    lib = source.stat.lib
    lib.domains = [x for x in lib.domains if x.domid != 5]
    source.collect()  # domain 5 gone: its facts forgotten
    new_uuid = "5b5b5b5b-0000-4000-8000-000000000005"
    source.store.vms[5] = f"/vm/{new_uuid}"
    source.store.entries[f"/vm/{new_uuid}/start_time"] = f"{BOOT + 5000:.2f}"
    source.store.entries["/libxl/5/type"] = "pvh"
    source._uuids.clear()
    lib.domains.append(FakeDomain(5, b"pvh5", 1))
    d = settled(source)
    # the old QEMUs of domid 5 started before this domain: not its device model
    assert (d["pvh5"].domain_type, d["pvh5"].device_model, d["pvh5"].overhead_ns) == ("pvh", "none", None)
    assert d["pvh5"].hostdevs == ("0000:03:00.1", "0000:81:10.2 VF")  # xl's answer for domid 5, asked again


def test_outside_text_is_never_taken_as_it_came(tmp_path):
    xs = FakeXenStore({4: "/vm/44444444-0000-4000-8000-000000000004"},
                      {"/libxl/4/type": "hvm\x1b[31m", "/libxl/4/dm-version": "qemu_xen; rm -rf /",
                       "/local/domain/4/image/device-model-pid": "../../etc",
                       "/local/domain/0/backend/pci/4/0/num_devs": "1"})
    guests = XenGuests(xs, FakeXl(pci_lists={"4": "Vdev Device\n04.0 0000:03:00.1 extra\n"}), proc=tmp_path,
                       sysfs=None, boot_time=BOOT)
    guest = guests.read((4, "44444444-0000-4000-8000-000000000004"), {})
    assert guest.facts.domain_type is None and guest.facts.device_model is None and guest.facts.hostdevs == ()
    assert guest.processes == () and not guest.final  # no type known yet: looked at again (a minute at most)


def test_dom0s_type_from_its_kernel_without_an_xl_spawn(tmp_path):
    (tmp_path / "guest_type").write_text("PV\n")
    calls: list[tuple[str, ...]] = []

    def xl(*args: str, timeout: float = 30.0) -> str:
        calls.append(args)
        return FakeXl()(*args, timeout=timeout)

    guests = XenGuests(FakeXenStore({0: "/vm/00000000-0000-0000-0000-000000000000"}, {}), xl, proc=tmp_path,
                       sysfs=None, boot_time=BOOT, dom0_type=tmp_path / "guest_type")
    guest = guests.read((0, UUIDS[0]), {})
    assert (guest.facts.domain_type, guest.facts.device_model, guest.final) == ("pv", "none", True)
    assert calls == []  # no xl at all
    (tmp_path / "guest_type").write_text("\x1b[2J")  # not a type: xl list -l 0 is asked (the recorded dom0: pv)
    assert guests.read((0, UUIDS[0]), {}).facts.domain_type == "pv" and calls == [("list", "-l", "0")]
