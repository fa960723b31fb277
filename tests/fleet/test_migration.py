"""Evacuate a host on the real lab: h4's idle guest live-migrated to h2 through FleetSource.act (the guards of
xentui.actions.perform), its progress seen on both hosts while it runs, then moved back; a migration libvirt
refuses is one line and the guest stays.  (Run under `flock /tmp/xentui-lab.lock`.)"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import libvirt
import pytest

from tests.factories import wait_for
from tests.fleet import lab
from tests.fleet.lab import hosts, procs
from tests.fleet.test_fleet_live import ticks
from tests.integration.conftest import wait_writing_ram
from xentui.actions import Action, ActionError, perform
from xentui.lab import guest_xml
from xentui.model import DomainView, HostState, Snapshot
from xentui.sources import deadlines
from xentui.sources.fleet import FleetSource, HostSpec
from xentui.sources.libvirt import migration

MIGRATE_S = 120.0


@pytest.fixture
def fleet(fleet_lab: lab.FleetLab) -> Iterator[FleetSource]:
    """h2 and h4 over TCP, writable; ``h4-again``: h4 under a second name (a host that cannot take h4's guests)."""
    h2, h4 = fleet_lab.host("h2"), fleet_lab.host("h4")
    source = FleetSource([HostSpec("h2", h2.uri), HostSpec("h4", h4.uri), HostSpec("h4-again", h4.uri)],
                         name="lab", readonly=False, wait_s=2.0)
    try:
        yield source
    finally:
        source.close()


@pytest.fixture
def guest(fleet_lab: lab.FleetLab) -> Iterator[str]:
    """h4's idle guest, put back on h4 after the test, failed or not (the lab as it was)."""
    h4 = fleet_lab.host("h4")
    name = h4.guests[0]
    yield name
    if name not in hosts.running_guests(h4.spec):
        procs.run("virsh", "-c", fleet_lab.host("h2").uri, "migrate", "--live", "--p2p", name, h4.uri,
                  timeout=MIGRATE_S, check=False)


def watch(source: FleetSource, until: Callable[[Snapshot], bool], what: str, seconds: float = 60.0,
          seen: list[Snapshot] | None = None) -> Snapshot:
    """Collect every 0.3 s (a migration of the idle guest lasts a few) until ``until(snapshot)``."""
    return ticks(source, until, what, seconds, every=0.3, seen=seen)[1]


def all_up(shot: Snapshot) -> bool:
    return len(shot.hosts) == 3 and all(h.state is HostState.UP for h in shot.hosts)


def on(shot: Snapshot, guest: str) -> list[str]:
    """The hosts listing ``guest`` running (h4-again is h4 again: left out)."""
    return sorted(d.host for d in shot.domains if d.name == guest and d.host != "h4-again")


def the(shot: Snapshot, host: str, guest: str) -> DomainView:
    (view,) = [d for d in shot.domains if d.host == host and d.name == guest]
    return view


def ready(source: FleetSource, guest: str) -> tuple[Snapshot, str]:
    """Every host up; the snapshot and the guest's UUID (on h4)."""
    shot = watch(source, all_up, "every host up")
    return shot, the(shot, "h4", guest).uuid


def migrate(source: FleetSource, shot: Snapshot, host: str, guest: str, dest: str) -> float:
    view = the(shot, host, guest)
    host_sample = next(h.host for h in shot.hosts if h.name == host)
    assert host_sample is not None
    return perform(source, view.sample, Action.MIGRATE, host=host_sample, destination=dest)


def test_h4s_guest_moves_to_h2_live_with_its_progress_on_both_hosts_and_back(
        fleet_lab: lab.FleetLab, fleet: FleetSource, guest: str) -> None:
    h4 = fleet_lab.host("h4")
    shot, uuid = ready(fleet, guest)
    assert set(fleet.migration_hosts()) == {"h2", "h4", "h4-again"}
    # 1 MiB/s: the guest's ~1 MiB of written memory takes a few seconds, long enough to watch.
    procs.run("virsh", "-c", h4.uri, "migrate-setspeed", guest, "1")
    seen: list[Snapshot] = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        moving = pool.submit(migrate, fleet, shot, "h4", guest, "h2")
        watch(fleet, lambda s: moving.done(), "the migration returns", MIGRATE_S, seen)
        took = moving.result()
    shot = watch(fleet, lambda s: on(s, guest) == ["h2"], "the guest on h2 alone", seen=seen)
    after = the(shot, "h2", guest)
    assert after.uuid == uuid and after.sample.job is None and after.sample.state.value == "running"
    assert guest not in hosts.running_guests(h4.spec) and guest in hosts.running_guests(fleet_lab.host("h2").spec)
    jobs = [(d.host, d.sample.job) for s in seen for d in s.domains
            if d.uuid == uuid and d.sample.job is not None and d.host != "h4-again"]  # h4 again: h4's figures
    assert {(h, j.operation) for h, j in jobs} <= {("h4", "migration out"), ("h2", "migration in")}, jobs
    assert any(h == "h4" for h, _j in jobs), f"h4 never showed the job ({took:.1f} s): {jobs}"
    figures = [j for _h, j in jobs if j.data_total]  # either host: the destination shows the source's figures
    assert figures, f"no job figures while it ran ({took:.1f} s): {jobs}"
    assert all(j.data_processed is not None and j.data_remaining is not None and j.iteration is not None
               and j.elapsed_ms is not None and j.percent is not None for j in figures), figures
    assert max(j.data_processed or 0 for j in figures) > 0 and max(j.iteration or 0 for j in figures) >= 1
    # Back to h4 through the fleet as well: the lab as it was.
    shot = watch(fleet, lambda s: all_up(s) and on(s, guest) == ["h2"], "h2 up with the guest")
    migrate(fleet, shot, "h2", guest, "h4")
    wait_for(lambda: guest in hosts.running_guests(h4.spec), "the guest back on h4", MIGRATE_S)
    shot = watch(fleet, lambda s: on(s, guest) == ["h4"], "the guest back on h4 in the fleet")
    assert the(shot, "h4", guest).uuid == uuid


def test_a_migration_libvirt_refuses_is_one_line_and_the_guest_stays(
        fleet_lab: lab.FleetLab, fleet: FleetSource, guest: str) -> None:
    h4 = fleet_lab.host("h4")
    shot, uuid = ready(fleet, guest)
    with pytest.raises(ActionError) as refused:
        migrate(fleet, shot, "h4", guest, "h4-again")  # the same libvirtd under another name: libvirt refuses
    line = str(refused.value)
    assert "\n" not in line and line.startswith(f"host h4: migrate {guest} to h4-again failed: "), line
    assert "same host" in line and "stays where it was" in line, line
    with pytest.raises(ActionError, match=f"{guest} is on h4 already: nothing done"):
        migrate(fleet, shot, "h4", guest, "h4")
    with pytest.raises(ActionError, match="no host 'h9' in this fleet: nothing done"):
        migrate(fleet, shot, "h4", guest, "h9")
    assert guest in hosts.running_guests(h4.spec)
    assert guest not in hosts.running_guests(fleet_lab.host("h2").spec)
    shot = watch(fleet, lambda s: all_up(s) and on(s, guest) == ["h4"], "the guest still on h4 alone")
    assert the(shot, "h4", guest).uuid == uuid and the(shot, "h4", guest).sample.job is None


def test_a_migration_past_its_deadline_is_aborted_and_the_guest_stays(
        fleet_lab: lab.FleetLab, fleet: FleetSource, tmp_path) -> None:
    """A guest writing all of its 128 MiB forever, at 1 MiB/s: its migration never converges, so the abort at the
    deadline is certain once the guest runs its loop (in its BIOS, its RAM is mostly zeros: it moved in 0.5 s).
    The idle guest's ~0.6 MiB of pages that are not zero move in about 1 s at that speed: a 0.5 s deadline raced
    their end, and libvirt then refused the abort of a domain that had left."""
    h4, h2 = fleet_lab.host("h4"), fleet_lab.host("h2")
    name = "h4-dirty"
    xml = tmp_path / f"{name}.xml"
    xml.write_text(guest_xml(name, "dirty", memory_mib=128, virt_type=fleet_lab.virt_type,
                             image=fleet_lab.shared_dir / "dirty.img"))
    for uri in (h2.uri, h4.uri):  # one left by a run that was killed
        procs.run("virsh", "-c", uri, "destroy", name, check=False)
    conn = libvirt.open(h4.uri)
    try:
        procs.run("virsh", "-c", h4.uri, "create", str(xml), timeout=60)
        shot = watch(fleet, lambda s: all_up(s) and on(s, name) == ["h4"], "the dirty guest on h4")
        dom = conn.lookupByName(name)
        wait_writing_ram(dom)
        view = the(shot, "h4", name)
        procs.run("virsh", "-c", h4.uri, "migrate-setspeed", name, "1")
        started = time.monotonic()
        with pytest.raises(ActionError) as aborted:
            migration.migrate(conn, replace(view.sample, host=""), h2.uri, "h2", deadline_s=0.5)
        assert time.monotonic() - started < 0.5 + deadlines.QUICK_S + migration.ABORT_GRACE_S
        line = str(aborted.value)
        assert "\n" not in line and line == f"migrate {name} to h2: not done within 0.5 s; aborted (the domain " \
                                            "stays where it was)", line
        assert name in hosts.running_guests(h4.spec) and name not in hosts.running_guests(h2.spec)
        shot = watch(fleet, lambda s: all_up(s) and on(s, name) == ["h4"], "the guest still on h4 alone")
        assert the(shot, "h4", name).sample.job is None and not migration.migrating()
    finally:
        conn.close()
        for uri in (h2.uri, h4.uri):
            procs.run("virsh", "-c", uri, "destroy", name, check=False)


def defined(uri: str, name: str) -> str:
    """``persistent``, ``transient`` or ``none``: what the host's libvirt holds of the domain."""
    listed = procs.run("virsh", "-c", uri, "list", "--all", "--name", "--persistent").stdout.split()
    if name in listed:
        return "persistent"
    return "transient" if name in procs.run("virsh", "-c", uri, "list", "--name").stdout.split() else "none"


def test_a_persistent_guest_moves_with_its_definition_and_leaves_no_copy_to_start(
        fleet_lab: lab.FleetLab, fleet: FleetSource, tmp_path) -> None:
    """A definition left on the old host (shut off, START offered) would be a second machine on the shared disk."""
    h2, h4 = fleet_lab.host("h2"), fleet_lab.host("h4")
    name = "h4-kept"
    xml = tmp_path / f"{name}.xml"
    xml.write_text(guest_xml(name, "idle", virt_type=fleet_lab.virt_type, image=fleet_lab.shared_dir / "idle.img"))
    try:
        procs.run("virsh", "-c", h4.uri, "define", str(xml))
        procs.run("virsh", "-c", h4.uri, "start", name, timeout=60)
        shot = watch(fleet, lambda s: all_up(s) and on(s, name) == ["h4"], "the persistent guest on h4")
        migrate(fleet, shot, "h4", name, "h2")
        assert (defined(h2.uri, name), defined(h4.uri, name)) == ("persistent", "none")
        shot = watch(fleet, lambda s: all_up(s) and on(s, name) == ["h2"], "the guest on h2 alone, no copy on h4")
        assert the(shot, "h2", name).sample.state.value == "running"
    finally:
        for uri in (h2.uri, h4.uri):
            procs.run("virsh", "-c", uri, "destroy", name, check=False)
            procs.run("virsh", "-c", uri, "undefine", name, check=False)
