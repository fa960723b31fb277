"""xentui watching the lab's hosts as one fleet: every guest under its own HOST (over TCP and over SSH), a dead
libvirtd marks only its own rows while the others keep their cadence, and a live migration shows as it happens.
(Run under `flock /tmp/xentui-lab.lock`.)"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from tests.factories import wait_for
from tests.fleet import lab
from tests.fleet.lab import hosts, procs
from xentui.model import HostState, RawSample, Snapshot, build_snapshot
from xentui.sources.fleet import FleetSource, HostSpec


@pytest.fixture
def fleet(fleet_lab: lab.FleetLab) -> Iterator[FleetSource]:
    """h2 and h4 over TCP, h3 over SSH (its sshd, its key, its known_hosts)."""
    specs = [HostSpec(h.name, fleet_lab.ssh_uri if h.name == fleet_lab.ssh_host else h.uri, group=f"g-{h.name}")
             for h in fleet_lab.hosts]
    source = FleetSource(specs, name="lab", wait_s=2.0)
    try:
        yield source
    finally:
        source.close()


def ticks(source: FleetSource, until, what: str, seconds: float = 90.0, *, every: float = 1.0,
          seen: list[Snapshot] | None = None) -> tuple[RawSample, Snapshot]:
    """Collect every ``every`` s (1: as the poller would) until ``until(snapshot)``; each one kept in ``seen``."""
    deadline = time.monotonic() + seconds
    prev = None
    while True:
        started = time.monotonic()
        raw = source.collect()
        shot = build_snapshot(prev, raw)
        if seen is not None:
            seen.append(shot)
        if until(shot):
            return raw, shot
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s; hosts: " + ", ".join(
            f"{h.name} {h.state.value} {h.reason}" for h in shot.hosts)
        prev = raw
        time.sleep(max(0.0, every - (time.monotonic() - started)))


def all_up(shot: Snapshot) -> bool:
    return bool(shot.hosts) and all(h.state is HostState.UP for h in shot.hosts)


def test_every_hosts_guests_appear_under_their_own_host(fleet_lab: lab.FleetLab, fleet: FleetSource) -> None:
    _, shot = ticks(fleet, all_up, "every host up")
    found = {(d.host, d.name) for d in shot.domains}
    for h in fleet_lab.hosts:
        assert {(h.name, g) for g in h.guests} <= found, f"{h.name}: {sorted(found)}"
        view = next(v for v in shot.hosts if v.name == h.name)
        assert view.host is not None and view.host.hostname == h.hostname and view.group == f"g-{h.name}"
    lab_guests = {g for h in fleet_lab.hosts for g in h.guests}
    assert len([d for d in shot.domains if d.name in lab_guests]) == len(lab_guests)  # each guest once


def test_a_dead_libvirtd_marks_only_its_rows_and_the_others_keep_their_cadence(
        fleet_lab: lab.FleetLab, fleet: FleetSource) -> None:
    h4 = fleet_lab.host("h4")
    ticks(fleet, all_up, "every host up")
    hosts.kill_libvirtd(h4.spec)
    try:
        raw, shot = ticks(fleet, lambda s: any(h.name == "h4" and h.state is not HostState.UP for h in s.hosts),
                          "h4 seen down")
        stamps: dict[str, list[float]] = {"h2": [], "h3": []}
        tick_times = []
        for _ in range(5):  # five more ticks with h4 gone, 1 s apart
            started = time.monotonic()
            prev, raw = raw, fleet.collect()
            tick_times.append(time.monotonic() - started)
            shot = build_snapshot(prev, raw)
            for part in raw.parts:
                if part.name in stamps:
                    assert part.state is HostState.UP, f"{part.name}: {part.state} {part.reason}"
                    assert part.cur is not None
                    stamps[part.name].append(part.cur.monotonic)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        sick = next(h for h in shot.hosts if h.name == "h4")
        assert sick.state in (HostState.DOWN, HostState.STALE) and sick.reason
        for d in shot.domains:
            assert bool(d.sample.stale) == (d.host == "h4"), (d.host, d.name, d.sample.stale)
        for name, seen in stamps.items():  # a new sample of each live host every tick, ~1 s apart
            gaps = [b - a for a, b in itertools.pairwise(seen)]
            assert all(0.5 < g < 2.5 for g in gaps), f"{name}: {gaps}"
        assert max(tick_times) < fleet.wait_s + 1.0, tick_times  # the dead host never holds a tick longer
    finally:
        hosts.start_libvirtd(h4.spec)
    ticks(fleet, all_up, "h4 back")


def test_a_live_migration_shows_as_it_happens(fleet_lab: lab.FleetLab, fleet: FleetSource) -> None:
    h4, h2 = fleet_lab.host("h4"), fleet_lab.host("h2")
    guest = h4.guests[0]
    _, shot = ticks(fleet, all_up, "every host up")
    (before,) = [d for d in shot.domains if d.name == guest]
    assert before.host == "h4"
    procs.run("virsh", "-c", h4.uri, "migrate", "--live", guest, h2.uri, timeout=120)
    try:
        _, shot = ticks(fleet, lambda s: [d.host for d in s.domains if d.name == guest] == ["h2"], "on h2 alone")
        (after,) = [d for d in shot.domains if d.name == guest]
        assert after.uuid == before.uuid and after.key == f"h2/{before.uuid}"
    finally:
        procs.run("virsh", "-c", h2.uri, "migrate", "--live", guest, h4.uri, timeout=120)
    wait_for(lambda: guest in hosts.running_guests(h4.spec), "the guest back on h4")
    ticks(fleet, lambda s: [d.host for d in s.domains if d.name == guest] == ["h4"], "back on h4")
