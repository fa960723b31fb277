"""libvirt: a domain's type, device model and PCI host devices from its XML, read once per incarnation; on
libvirt's test driver (a domain with hostdevs in its XML) and on the XML of KVM and libvirt-xen domains."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt

from tests.libvirt_test_driver import driver_xml
from xentui.sources.libvirt import LibvirtSource
from xentui.sources.libvirt.fallback import XML_PER_PASS, Fallback
from xentui.sources.libvirt.guest_xml import guest_facts
from xentui.sources.placement import PlacementCache

DATA = Path(__file__).parent.parent / "data"
HOSTDEV_DOMAIN = """<domain type='test'>
  <name>xt-pci</name>
  <uuid>6b6e1a61-5b0c-4a4e-9d9e-0000000000aa</uuid>
  <memory>65536</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>
    <interface type='hostdev' managed='yes'>
      <source><address type='pci' domain='0x0000' bus='0x04' slot='0x10' function='0x2'/></source>
    </interface>
  </devices>
</domain>
"""


def host_with(tmp_path: Path) -> str:
    (tmp_path / "pci.xml").write_text(HOSTDEV_DOMAIN)
    (tmp_path / "node.xml").write_text(f"<node><domain file='{tmp_path / 'pci.xml'}'/></node>")
    return f"test://{tmp_path / 'node.xml'}"


def test_a_test_driver_domain_with_hostdevs(tmp_path, monkeypatch):
    calls = []
    xml_desc = libvirt.virDomain.XMLDesc
    monkeypatch.setattr(libvirt.virDomain, "XMLDesc", lambda dom, flags=0: calls.append(dom.name()) or
                        xml_desc(dom, flags))
    source = LibvirtSource(host_with(tmp_path))
    try:
        for _ in range(3):
            (dom,) = source.collect().domains
            # a USB hostdev is not PCI: left out
            assert dom.hostdevs == ("0000:03:00.1", "0000:04:10.2 VF")  # interface type='hostdev': an SR-IOV VF
            assert (dom.domain_type, dom.device_model) == ("hvm", None)  # the test driver runs no QEMU
        assert calls == ["xt-pci"]  # once for this incarnation, not per tick
    finally:
        source.close()


def batch(uri: str, kind: str) -> str:
    return subprocess.run([sys.executable, "-m", "xentui", "-c", uri, "-b", "-i", "1", "-d", "0.2", "--format", kind],
                          capture_output=True, text=True, timeout=60, check=True).stdout


def test_batch_json_and_csv_carry_them(tmp_path):
    uri = host_with(tmp_path)
    out = batch(uri, "json")
    (dom,) = json.loads(out)["domains"]
    assert (dom["domain_type"], dom["device_model"], dom["pci_devices"]) == ("hvm", None, 2)
    assert dom["hostdevs"] == ["0000:03:00.1", "0000:04:10.2 VF"]
    header, row = batch(uri, "csv").splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert (cells["domain_type"], cells["device_model"], cells["pci_devices"]) == ("hvm", "", "2")


def facts(xml: str, sysfs: Path | None = None):
    return guest_facts(ET.fromstring(xml), sysfs)


def test_kvm_and_libvirt_xen_types():
    kvm = ("<domain type='kvm'><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>"
           "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>")
    assert facts(kvm) == facts(kvm.replace("'kvm'", "'qemu'"))
    assert (facts(kvm).domain_type, facts(kvm).device_model) == ("hvm", "qemu")
    # libvirt-xen's PV domain, as the Xen lab's libvirtd wrote it (<type machine='xenpv'>linux</type>)
    pv = facts((DATA / "virsh-dumpxml-domu.txt").read_text())
    assert (pv.domain_type, pv.device_model, pv.hostdevs) == ("pv", "none", ())
    pvh = "<domain type='xen'><os><type arch='x86_64' machine='xenpvh'>xenpvh</type></os></domain>"
    assert (facts(pvh).domain_type, facts(pvh).device_model) == ("pvh", "none")
    hvm = ("<domain type='xen'><os><type arch='x86_64' machine='xenfv'>hvm</type></os><devices>"
           "<emulator>/usr/lib/xen/bin/qemu-system-i386</emulator></devices></domain>")
    assert (facts(hvm).domain_type, facts(hvm).device_model) == ("hvm", "qemu-xen")
    assert facts(hvm.replace("qemu-system-i386", "qemu-dm")).device_model == "qemu-xen-traditional"
    assert facts("<domain type='kvm'><os><type>exe\u202e</type></os></domain>").domain_type is None
    bad = ("<domain type='kvm'><devices><hostdev mode='subsystem' type='pci'><source><address bus='0x1ff' "
           "slot='0' function='0'/></source></hostdev><hostdev mode='subsystem' type='pci'><source><address "
           "bus='3' slot='0' function='1'/></source></hostdev></devices></domain>")
    assert facts(bad).hostdevs == ("0000:03:00.1",)  # no PCI bus 0x1ff: left out; the domain defaults to 0


def test_a_vf_known_from_this_hosts_sysfs(tmp_path):
    (tmp_path / "0000:03:00.1").mkdir()
    (tmp_path / "0000:03:00.1" / "physfn").symlink_to(tmp_path)
    hostdevs = facts(HOSTDEV_DOMAIN.replace("type='test'", "type='kvm'"), tmp_path).hostdevs
    assert hostdevs == ("0000:03:00.1 VF", "0000:04:10.2 VF")


def test_a_big_host_reads_its_domains_xml_a_few_at_a_tick(tmp_path):
    """When the bulk call has every group (KVM), XML is read only for the guest's facts: at most XML_PER_PASS new
    domains a tick, so a host of hundreds never has its first tick held up (or its rows made stale) by XMLDesc."""
    (tmp_path / "host.xml").write_text(driver_xml(100))
    conn = libvirt.openReadOnly(f"test://{tmp_path / 'host.xml'}")
    try:
        records = [(dom, {"state.state": libvirt.VIR_DOMAIN_RUNNING}) for dom in conn.listAllDomains(0)]
        fallback = Fallback("test:///", PlacementCache())  # nothing missing from the bulk answer: KVM's case
        seen = []
        for _ in range(3):
            filled, errors, stale = fallback.fill_all(records)
            assert len(filled) == 100 and not errors and not stale
            seen.append(len(fallback.devices))
        assert seen == [XML_PER_PASS, 100, 100]
        assert all(d.guest.domain_type == "hvm" for d in fallback.devices.values())
    finally:
        conn.close()
