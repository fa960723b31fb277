"""What a guest is, as every source names it: its type, its device model, its PCI host devices.

Text read from outside (a domain's XML, xenstore, ``xl pci-list``) becomes one of a few fixed words, or a PCI
address rebuilt from its numbers; anything else is dropped (None), never shown as it came.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from xentui.limits import MAX_HOSTDEVS

TYPES = ("pv", "pvh", "hvm")
# libxl's names (xenstore /libxl/<domid>/dm-version, xl list -l's b_info.device_model_version) -> ours
XEN_DEVICE_MODELS = {"qemu_xen": "qemu-xen", "qemu_xen_traditional": "qemu-xen-traditional", "none": "none"}
DEVICE_MODELS = ("qemu", "qemu-xen", "qemu-xen-traditional", "stubdom", "none")
VF_MARK = " VF"
SYSFS_PCI = Path("/sys/bus/pci/devices")


@dataclass(frozen=True)
class GuestFacts:
    """What a domain is, read once per incarnation (None: unknown)."""

    domain_type: str | None = None
    device_model: str | None = None
    hostdevs: tuple[str, ...] = ()


UNKNOWN = GuestFacts()
_BDF = re.compile(r"([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])")


def pci_address(domain: int, bus: int, slot: int, function: int) -> str | None:
    """``0000:03:00.1``, or None when a number is out of PCI's range."""
    if not (0 <= domain <= 0xFFFF and 0 <= bus <= 0xFF and 0 <= slot <= 0x1F and 0 <= function <= 7):
        return None
    return f"{domain:04x}:{bus:02x}:{slot:02x}.{function}"


def parse_bdf(text: str) -> str | None:
    """A ``DDDD:BB:SS.F`` address rebuilt from its numbers (None: not one)."""
    m = _BDF.fullmatch(text.strip())
    return pci_address(*(int(g, 16) for g in m.groups())) if m else None


def parse_int(text: str | None) -> int | None:
    """libvirt's XML numbers: ``0x03`` or ``3`` (None: neither)."""
    if not text:
        return None
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def is_vf(address: str, sysfs: Path | None) -> bool:
    """Whether this host's sysfs says the device is an SR-IOV virtual function (it has a ``physfn``)."""
    return sysfs is not None and (sysfs / address / "physfn").exists()


def hostdev_list(addresses: Iterable[tuple[str, bool]], sysfs: Path | None = None) -> tuple[str, ...]:
    """(address, known VF) pairs as the model holds them: each once, in order, `` VF`` marked; bounded."""
    out: dict[str, str] = {}
    for address, vf in addresses:
        if len(out) >= MAX_HOSTDEVS:
            break
        if address not in out or vf:
            out[address] = address + VF_MARK if vf or is_vf(address, sysfs) else address
    return tuple(out.values())


def xen_device_model(version: str | None) -> str | None:
    """libxl's device model version in our words (None: unknown or not one of libxl's)."""
    return XEN_DEVICE_MODELS.get((version or "").strip())


def libvirt_type(os_type: str | None, machine: str | None) -> str | None:
    """The domain XML's ``<os><type>``: KVM's and Xen's ``hvm``; libvirt-xen's ``xen``/``linux`` (PV, or PVH
    with machine ``xenpvh``) and ``xenpvh``."""
    kind, machine = (os_type or "").strip().lower(), (machine or "").strip().lower()
    if kind == "hvm":
        return "hvm"
    if kind == "xenpvh" or (kind in ("xen", "linux") and machine == "xenpvh"):
        return "pvh"
    if kind in ("xen", "linux"):
        return "pv"
    return None


def from_outside(domain_type: object, device_model: object, hostdevs: object) -> GuestFacts:
    """Another xentui's figures (its batch JSON), each checked against what this xentui would write."""
    devices = hostdevs if type(hostdevs) is list else []
    pairs = []
    for item in devices[:MAX_HOSTDEVS]:
        text = item if type(item) is str else ""
        vf = text.endswith(VF_MARK)
        if (address := parse_bdf(text[:-len(VF_MARK)] if vf else text)) is not None:
            pairs.append((address, vf))
    return GuestFacts(domain_type if domain_type in TYPES else None,
                      device_model if device_model in DEVICE_MODELS else None, hostdev_list(pairs))
