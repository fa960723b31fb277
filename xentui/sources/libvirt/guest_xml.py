"""A domain's XML as :class:`~xentui.sources.guest.GuestFacts`: ``<os><type>``, ``<emulator>``, PCI host devices."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from xentui.sources.guest import GuestFacts, hostdev_list, libvirt_type, parse_int, pci_address

QEMU_DRIVERS = ("kvm", "qemu", "hvf")  # <domain type=...> run by QEMU: its device model is QEMU itself


def guest_facts(root: ET.Element, sysfs: Path | None = None) -> GuestFacts:
    """Type, device model and PCI host devices of one ``<domain>`` element; ``sysfs``: this host's PCI devices,
    to mark SR-IOV virtual functions (None: a remote host's, not looked at)."""
    os_type = root.find("./os/type")
    kind = libvirt_type(os_type.text if os_type is not None else None,
                        os_type.get("machine") if os_type is not None else None)
    return GuestFacts(kind, _device_model(root.get("type", ""), kind, root.findtext("./devices/emulator")),
                      hostdev_list(_hostdevs(root), sysfs))


def _device_model(driver: str, kind: str | None, emulator: str | None) -> str | None:
    if driver in QEMU_DRIVERS:
        return "qemu"
    if driver == "xen":  # libvirt's libxl driver: QEMU for HVM only (qemu-dm: the traditional one)
        if kind in ("pv", "pvh"):
            return "none"
        if kind == "hvm":
            return "qemu-xen-traditional" if emulator and "qemu-dm" in emulator else "qemu-xen"
    return None  # the test driver and others: no device model of their own


def _hostdevs(root: ET.Element) -> list[tuple[str, bool]]:
    """(address, is a VF) of ``<hostdev mode='subsystem' type='pci'>`` and ``<interface type='hostdev'>`` (an
    SR-IOV virtual function: what libvirt's hostdev interfaces are for)."""
    found = []
    sources = [(h, False) for h in root.findall("./devices/hostdev") if h.get("type") == "pci"
               and h.get("mode", "subsystem") == "subsystem"]
    sources += [(i, True) for i in root.findall("./devices/interface") if i.get("type") == "hostdev"]
    for element, vf in sources:
        address = element.find("./source/address")
        if address is None or address.get("type", "pci") != "pci":
            continue
        numbers = [parse_int(address.get(k)) for k in ("domain", "bus", "slot", "function")]
        numbers[0] = 0 if numbers[0] is None else numbers[0]  # libvirt's default PCI domain
        if None not in numbers and (text := pci_address(*numbers)) is not None:  # type: ignore[arg-type]
            found.append((text, vf))
    return found
