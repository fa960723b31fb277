"""libvirt's test driver for tests and benches: a host of N domains, and a count of the round trips made.

The test driver (``test:///abs/path.xml``) runs inside the client: no libvirtd, no guests, and every
call answers at once, so it is the libvirt source's contract host in CI.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import libvirt

# The libvirt calls that go to the daemon during a tick (what a "call per tick" counts).
ROUND_TRIPS = {
    libvirt.virConnect: ("getAllDomainStats", "listAllDomains", "getMemoryStats", "getInfo", "getFreeMemory"),
    libvirt.virDomain: ("info", "vcpus", "XMLDesc", "interfaceStats", "blockStats", "controlInfo"),
}


def domain_xml(name: str, uuid: str, memory_kib: int, disk: str, nic: str) -> str:
    """One running test-driver domain: 2 vCPUs, 256 MiB now, a virtio disk and a NIC (XML-escaped arguments)."""
    return f"""  <domain type='test'>
    <name>{name}</name>
    <uuid>{uuid}</uuid>
    <memory unit='KiB'>{memory_kib}</memory>
    <currentMemory unit='KiB'>262144</currentMemory>
    <vcpu>2</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='file' device='disk'><source file='{disk}'/><target dev='vda' bus='virtio'/></disk>
      <interface type='network'><source network='default'/><target dev='{nic}'/></interface>
    </devices>
  </domain>"""


def node_xml(domains: list[str], sockets: int, cores: int, threads: int, memory_kib: int) -> str:
    """The test driver's host of ``domains`` (one NUMA node)."""
    return (f"<node>\n  <cpu><nodes>1</nodes><sockets>{sockets}</sockets><cores>{cores}</cores>"
            f"<threads>{threads}</threads><active>{sockets * cores * threads}</active><mhz>2400</mhz>"
            f"<model>x86_64</model></cpu>\n  <memory>{memory_kib}</memory>\n" + "\n".join(domains) + "\n</node>\n")


def driver_xml(count: int, host: int = 0) -> str:
    """A host of ``count`` running domains (2 vCPUs, a disk, a NIC each) for ``test:///path.xml``; ``host``
    ends each UUID, so that the hosts of a fleet have UUIDs of their own."""
    domains = [domain_xml(f"dom{i:04d}", f"{i:08x}-0000-4000-8000-{host:012x}", 262144 + i, f"/img/dom{i}.img",
                          f"tap{i}") for i in range(count)]
    return node_xml(domains, sockets=2, cores=8, threads=2, memory_kib=268435456)


class RoundTrips:
    """How many tick round trips libvirt was asked for since the count began."""

    def __init__(self) -> None:
        self.count = 0


@contextlib.contextmanager
def counting_round_trips() -> Iterator[RoundTrips]:
    """Count the calls of :data:`ROUND_TRIPS` made by anyone in the process while inside (a wrapping fake:
    the product classes carry no counter)."""
    counted = RoundTrips()
    saved: list[tuple[type, str, Any]] = []

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            counted.count += 1
            return method(*args, **kwargs)

        return call

    for cls, names in ROUND_TRIPS.items():
        for name in names:
            saved.append((cls, name, vars(cls)[name]))
            setattr(cls, name, wrap(vars(cls)[name]))
    try:
        yield counted
    finally:
        for cls, name, method in saved:
            setattr(cls, name, method)
