"""What a fleet of libvirt hosts costs per tick: one bounded call a tick for a host with bulk statistics (its
memory read in the same call), each member's collection timed, and the benchmark's own real hosts kept apart
from the fleet lab's (names, addresses, state, processes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import dom, raw
from tests.fleet.lab import layout, many
from tests.fleet.lab.procs import LabError
from xentui.model import RawSample
from xentui.sources import deadlines
from xentui.sources.base import Source
from xentui.sources.fleet import FleetSource, HostSpec
from xentui.sources.libvirt import LibvirtSource


def test_the_hosts_memory_comes_in_the_statistics_call(monkeypatch: pytest.MonkeyPatch) -> None:
    source = LibvirtSource("test:///default")  # not this machine's: its memory is libvirt's to say
    try:
        source.collect()  # learns what the driver leaves out
        started: list[str] = []
        real_start = deadlines.start

        def noted(fn: Callable[[], Any], what: str = "libvirt call") -> deadlines.Call[Any]:
            started.append(what)
            return real_start(fn, what)

        monkeypatch.setattr(deadlines, "start", noted)
        got = source.collect()
        in_the_tick = list(started)
        total, free, _available = source._memory.read(source.conn)
    finally:
        source.close()
    # the statistics (with the memory), then the test driver's per-domain pass: no call of its own for memory
    assert in_the_tick == ["libvirt statistics", "per-domain statistics"]
    assert got.host.mem_total_kib == total and 0 < got.host.mem_free_kib <= total and free <= total


class Slow(Source):
    """A host whose collection takes ``seconds`` (its work, measured; not a wait for a condition)."""

    def __init__(self, seconds: float) -> None:
        self.uri = "fake://"
        self.seconds = seconds

    def collect(self) -> RawSample:
        time.sleep(self.seconds)
        return raw(time.monotonic(), dom(1.0, name="slow"))

    def close(self) -> None:
        pass


def test_each_members_collection_is_timed_in_its_own_thread() -> None:
    fleet = FleetSource([HostSpec("slow", "fake://"), HostSpec("quick", "fake://")], wait_s=5.0,
                        opener=lambda spec: Slow(0.3 if spec.name == "slow" else 0.0))
    try:
        fleet.collect()
        took = {m.name: m.took_s for m in fleet.members}
    finally:
        fleet.close()
    assert took["slow"] >= 0.3 > took["quick"]


def test_bench_hosts_are_apart_from_the_fleet_labs() -> None:
    hosts = many.specs(20)
    assert [h.address for h in hosts] == [f"127.0.0.{n}" for n in range(5, 25)]
    assert [h.uri for h in hosts][:2] == ["qemu+tcp://127.0.0.5/system", "qemu+tcp://127.0.0.6/system"]
    assert hosts[0].hostname == "xtb-b05" and hosts[0].holder_name == "xtb-b05-ns"
    assert hosts[0].daemon("libvirtd") == "xtb-libvirtd" and hosts[0].dir == many.ROOT / "b05"
    assert [len(h.guests) for h in hosts[:4]] == [1, 2, 3, 1]
    assert hosts[2].guest_names() == ("b07-idle", "b07-idle2", "b07-idle3")
    assert all(h.images == many.IMAGES != layout.SHARED_IN_HOST for h in hosts)
    lab_addresses = {h.address for h in layout.HOSTS}
    assert not lab_addresses & {h.address for h in hosts}
    for wrong in (0, many.MAX_HOSTS + 1):
        with pytest.raises(LabError, match="possible"):
            many.specs(wrong)


def test_the_fleet_labs_hosts_are_as_they_were() -> None:
    h2 = layout.host("h2")
    assert (h2.hostname, h2.holder_name, h2.daemon("libvirtd"), h2.daemon("virtlogd")) == (
        "xtlab-h2", "xtlab-h2-ns", layout.LIBVIRTD, layout.VIRTLOGD)
    assert h2.guest_names() == ("h2-busy", "h2-idle") and h2.dir == layout.STATE / "h2"
    assert (h2.shared, h2.images) == (layout.SHARED, layout.SHARED_IN_HOST)
