"""A test-only fleet Source for the fleet UI: each host a real Source (libvirt's test driver, or synthetic),
its RawSamples wrapped into HostParts with ``host=`` set on every domain, as a fleet's RawSample.

The tests set a host's health (``down``, ``stale``) by hand; a host not up is not collected, so its rows are
its last good samples (the model marks them stale).  Actions are routed by ``domain.host``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.libvirt_test_driver import domain_xml, node_xml
from xentui.actions import Action, ActionParams
from xentui.model import DomainSample, HostPart, HostSample, HostState, RawSample
from xentui.sources import Source
from xentui.sources.libvirt import LibvirtSource
from xentui.sources.synthetic import SyntheticSource

FLEET_HOST = HostSample(hostname="fleet", hypervisor="FLEET", hypervisor_version="", uri="testfleet://", pcpus=0,
                        mhz=0, mem_total_kib=0, mem_free_kib=0)


@dataclass
class Host:
    name: str
    source: Source
    group: str = ""
    state: HostState = HostState.UP
    reason: str = ""
    prev: RawSample | None = None
    cur: RawSample | None = None
    acted: list[tuple[str, Action]] = field(default_factory=list)

    def collect(self) -> None:
        raw = self.source.collect()
        raw = replace(raw, domains=tuple(replace(d, host=self.name) for d in raw.domains))
        self.prev, self.cur = self.cur, raw

    def part(self) -> HostPart:
        return HostPart(name=self.name, state=self.state, group=self.group, uri=self.source.uri, reason=self.reason,
                        prev=self.prev, cur=self.cur)


class TestFleet(Source):
    """Hosts collected one after the other (a test fleet is small and local)."""

    __test__ = False  # not a pytest class
    CAN_ACT = True

    def __init__(self, hosts: list[Host], readonly: bool = True):
        self.hosts = {h.name: h for h in hosts}
        self.uri = "testfleet://"
        self.readonly = readonly

    def collect(self) -> RawSample:
        for host in self.hosts.values():
            if host.state is HostState.UP:
                host.collect()
        parts = tuple(h.part() for h in self.hosts.values())
        answered = [p.cur for p in parts if p.cur is not None]
        domains = tuple(d for raw in answered for d in raw.domains)
        # The latest host sample's clock: a synthetic fleet's screens are the same on every run.
        latest = max(answered, key=lambda raw: raw.monotonic, default=None)
        return RawSample(monotonic=latest.monotonic if latest else time.monotonic(),
                         wall=latest.wall if latest else time.time(), host=FLEET_HOST, domains=domains, parts=parts)

    def close(self) -> None:
        for host in self.hosts.values():
            host.source.close()

    def current_uuid(self, domain: DomainSample) -> str | None:
        return self.hosts[domain.host].source.current_uuid(replace(domain, host=""))

    def act(self, domain: DomainSample, action: Action, params: ActionParams) -> None:
        host = self.hosts[domain.host]
        host.source.act(replace(domain, host=""), action, params)
        host.acted.append((domain.name, action))


def driver_host(tmp: Path, name: str, domains: list[tuple[str, str]], *, group: str = "", write: bool = False,
                pcpus: tuple[int, int, int] = (1, 2, 2), memory_kib: int = 8 * 1024 * 1024) -> Host:
    """A libvirt test-driver host of ``domains`` (name, uuid), each 2 vCPUs and 256 MiB."""
    xml = [domain_xml(dom, uuid, 524288, f"/img/{dom}.img", f"tap{n}") for n, (dom, uuid) in enumerate(domains)]
    path = tmp / f"{abs(hash(name))}.xml"
    path.write_text(node_xml(xml, *pcpus, memory_kib=memory_kib))
    return Host(name, LibvirtSource(f"test://{path}", readonly=not write), group=group)


def uuid_of(n: int) -> str:
    return f"{n:08x}-1111-4000-8000-000000000000"


def lab_fleet(tmp: Path, write: bool = False) -> TestFleet:
    """Three test-driver hosts: h1 and h2 (group rack-a) and h3 (rack-b); ``shared`` is on h1 and h2 with one
    UUID (as during a migration)."""
    return TestFleet([
        driver_host(tmp, "h1", [("web1", uuid_of(1)), ("shared", uuid_of(9))], group="rack-a", write=write),
        driver_host(tmp, "h2", [("db1", uuid_of(2)), ("shared", uuid_of(9))], group="rack-a", write=write),
        driver_host(tmp, "h3", [("cache1", uuid_of(3)), ("web2", uuid_of(4))], group="rack-b", write=write),
    ], readonly=not write)


def synthetic_fleet(hosts: int, per_host: int) -> TestFleet:
    """``hosts`` synthetic hosts of ``per_host`` domains each (the scale of a real fleet, no I/O)."""
    return TestFleet([Host(f"node{n:02d}", SyntheticSource(count=per_host, pcpus=16), group=f"rack-{n % 4}")
                      for n in range(hosts)])
