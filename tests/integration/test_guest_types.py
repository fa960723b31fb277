"""Guest type and device model of real KVM guests under the real libvirtd: hvm, served by QEMU; the lab's
guests have no PCI host device, so the PCI column is not shown (and JSON says 0 devices)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

from xentui.model import build_snapshot
from xentui.ui import frame

from .conftest import URI


def test_kvm_guests_are_hvm_run_by_qemu_and_have_no_pci_device(guests, source):
    dom = guests.start("idle", settle=False)
    root = ET.fromstring(dom.XMLDesc(0))
    assert root.findtext("./os/type") == "hvm" and root.find("./devices/hostdev") is None  # libvirt's own answer
    first = source.collect()
    second = source.collect()
    mine = next(d for d in second.domains if d.name == dom.name())
    assert (mine.domain_type, mine.device_model, mine.hostdevs) == ("hvm", "qemu", ())
    assert all(d.hostdevs == () for d in second.domains)
    assert "pci" not in frame.conditional(build_snapshot(first, second))  # no device: no PCI column
    out = subprocess.run([sys.executable, "-m", "xentui", "-c", URI, "-b", "-i", "1", "-d", "0.5", "--format",
                          "json"], capture_output=True, text=True, timeout=120, check=True).stdout
    record = next(d for d in json.loads(out)["domains"] if d["name"] == dom.name())
    assert (record["domain_type"], record["device_model"], record["pci_devices"], record["hostdevs"]) == \
        ("hvm", "qemu", 0, [])
