"""Migration without the lab: jobStats figures as JobSample, the guards of a migration, the fleet's routing to a
destination (libvirt hosts only, connected, of this fleet), the figures in a tick on both hosts."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import libvirt
import pytest

from tests.factories import HOST, LibvirtFailure, dom
from tests.libvirt_test_driver import driver_xml
from tests.unit.test_fleet_source import Fake, driver_hosts, opener, until
from xentui.actions import Action, ActionError, offered, perform
from xentui.model import DomainState, HostState, JobSample
from xentui.sources import deadlines
from xentui.sources.fleet import FleetSource, HostSpec
from xentui.sources.libvirt import LibvirtSource, jobs, migration

# A real jobStats() of the lab's h4-idle 1.2 s into a live migration at 1 MiB/s (libvirt 9.0, QEMU 7.2).
LAB = {"operation": 5, "time_elapsed": 1219, "downtime": 300, "setup_time": 1, "data_total": 34349056,
       "data_processed": 639836, "data_remaining": 389120, "memory_total": 34349056, "memory_processed": 639836,
       "memory_remaining": 389120, "memory_bps": 1043233, "memory_constant": 8153, "memory_normal": 138,
       "memory_normal_bytes": 565248, "memory_dirty_rate": 0, "memory_iteration": 1, "memory_postcopy_requests": 0,
       "memory_page_size": 4096, "disk_total": 0, "disk_processed": 0, "disk_remaining": 0, "type": 2}
# The same job just started: libvirt gives zeros and no page size yet.
STARTING = {"operation": 5, "time_elapsed": 200, "data_total": 0, "data_processed": 0, "data_remaining": 0,
            "memory_dirty_rate": 0, "memory_iteration": 0, "type": 2}


def test_job_figures_from_a_real_jobstats():
    job = jobs.job_sample(LAB, "migration out")
    assert job == JobSample("migration out", elapsed_ms=1219, data_processed=639836, data_remaining=389120,
                            data_total=34349056, dirty_rate_bytes_s=0, iteration=1, downtime_ms=300)
    assert job.percent == pytest.approx(100 * (34349056 - 389120) / 34349056)
    early = jobs.job_sample(STARTING, "migration out")
    assert early is not None and early.percent is None and early.dirty_rate_bytes_s is None  # no total, no page size
    assert jobs.job_sample({"type": libvirt.VIR_DOMAIN_JOB_NONE}, "migration out") is None
    assert jobs.job_sample({}, "migration out") is None
    odd = jobs.job_sample({**LAB, "data_total": "34349056", "time_elapsed": -1, "downtime": 2.5}, "m")
    assert odd is not None and odd.data_total is None and odd.elapsed_ms is None and odd.downtime_ms is None


def test_a_migration_is_offered_live_or_paused_and_guarded():
    running = replace(dom(1.0, name="web"), host="h1")
    assert Action.MIGRATE in offered(running)
    assert Action.MIGRATE in offered(replace(running, state=DomainState.PAUSED))
    assert Action.MIGRATE not in offered(replace(running, state=DomainState.SHUTOFF))
    fake = Fake(running.uuid)
    fake.readonly = False
    with pytest.raises(ActionError, match="migrate needs a destination: the name of another host of the fleet"):
        perform(fake, running, Action.MIGRATE, host=HOST, destination="  ")
    with pytest.raises(ActionError, match="web is on h1 already: nothing done"):
        perform(fake, running, Action.MIGRATE, host=HOST, destination="h1")
    with pytest.raises(ActionError, match="migrate is not offered for web while it is shutoff"):
        perform(fake, replace(running, state=DomainState.SHUTOFF), Action.MIGRATE, host=HOST, destination="h2")
    fake.readonly = True
    with pytest.raises(ActionError, match="read-only session"):
        perform(fake, running, Action.MIGRATE, host=HOST, destination="h2")


def test_the_fleet_routes_a_migration_to_a_connected_libvirt_host_only(tmp_path: Path):
    fake = Fake()
    specs = [*driver_hosts(tmp_path, 1, 1, 1), HostSpec("other", "fake://")]
    fleet = FleetSource(specs, name="lab", readonly=False, opener=opener({"other": fake}, readonly=False))
    try:
        until(lambda: len([p for p in fleet.collect().parts if p.state is HostState.UP]) == 4, 20, "all up")
        assert fleet.migration_hosts() == ("h0", "h1", "h2")  # not the fake (not libvirt)
        raw = fleet.collect()
        h0 = next(d for d in raw.domains if d.host == "h0")
        on_fake = next(d for d in raw.domains if d.host == "other")
        for dest, why in (("h9", "no host 'h9' in this fleet"), ("other", "host other is not a connected libvirt")):
            with pytest.raises(ActionError, match=f"^migrate: {why}"):
                fleet.act(h0, Action.MIGRATE, {"destination": dest})
        with pytest.raises(ActionError, match="migrate: host other is not a libvirt host: nothing done"):
            fleet.act(on_fake, Action.MIGRATE, {"destination": "h0"})
        # The test driver cannot migrate: libvirt's refusal in one line, the domain where it was.
        with pytest.raises(ActionError) as refused:
            perform(fleet, h0, Action.MIGRATE, host=HOST, destination="h1")
        line = str(refused.value)
        assert line.startswith(f"host h0: migrate {h0.name} to h1 failed: ") and "\n" not in line, line
        assert line.endswith(f"({h0.name} stays where it was)")
        assert [d.host for d in fleet.collect().domains if d.uuid == h0.uuid] == ["h0"]
        assert not migration.migrating()
    finally:
        fleet.close()


def test_a_running_migrations_figures_show_on_the_source_and_the_destination(tmp_path: Path):
    (tmp_path / "a.xml").write_text(driver_xml(2, host=0))
    (tmp_path / "b.xml").write_text(driver_xml(2, host=0))  # the same domains: as during a migration
    a, b = LibvirtSource(f"test://{tmp_path / 'a.xml'}"), LibvirtSource(f"test://{tmp_path / 'b.xml'}")
    try:
        moving = a.collect().domains[0]
        job = jobs.job_sample(LAB, "migration")
        with migration._lock:
            migration._migrating[moving.uuid] = [b.uri, job]
        try:
            jobs_a = {d.uuid: d.job for d in a.collect().domains}
            jobs_b = {d.uuid: d.job for d in b.collect().domains}
        finally:
            with migration._lock:
                migration._migrating.pop(moving.uuid, None)
        assert jobs_a[moving.uuid] == replace(job, operation="migration out")
        assert jobs_b[moving.uuid] == replace(job, operation="migration in")
        assert all(j is None for u, j in {**jobs_a, **jobs_b}.items() if u != moving.uuid)
        assert all(d.job is None for d in a.collect().domains)  # done: no figures
    finally:
        a.close()
        b.close()


def test_a_big_guest_is_given_the_time_its_memory_needs_before_an_abort():
    small = replace(dom(1.0, name="web"), mem_kib=512 << 10, maxmem_kib=1 << 20)
    assert migration.deadline_for(small) == migration.MIGRATE_DEADLINE_S
    big = replace(small, mem_kib=64 << 20, maxmem_kib=128 << 20)  # 128 GiB at most: 4096 s at 32 MiB/s
    assert migration.deadline_for(big) == (128 << 30) / migration.MIN_RATE_BYTES_S == 4096.0
    assert migration.deadline_for(replace(small, mem_kib=None, maxmem_kib=None)) == migration.MIGRATE_DEADLINE_S


class Moving:
    """A domain migrating until ``abortJob``, which ends the migration (``outcome``: None, done; else what it raises)
    and then returns or raises ``abort_error`` (libvirt refusing an abort that came as the job ended);
    ``abort_ends=False``: the migration does not return after the abort (a hung one); ``abort_hangs``: nor does
    ``abortJob`` (until the test ends)."""

    def __init__(self, outcome: Exception | None, abort_error: Exception | None = None, abort_ends: bool = True,
                 abort_hangs: bool = False):
        self.outcome, self.abort_error, self.abort_ends = outcome, abort_error, abort_ends
        self.abort_hangs = abort_hangs
        self.ended = threading.Event()
        self.aborts = 0

    def lookupByUUIDString(self, _uuid: str) -> Moving:
        return self

    def isPersistent(self) -> int:
        return 0

    def jobStats(self) -> dict:
        return LAB

    def migrateToURI3(self, _uri: str, _params: dict, _flags: int) -> int:
        assert self.ended.wait(10), "never ended"
        if self.outcome is not None:
            raise self.outcome
        return 0

    def abortJob(self) -> int:
        self.aborts += 1
        if self.abort_hangs:
            self.ended.wait(10)
        if self.abort_ends:
            self.ended.set()
        if self.abort_error is not None:
            raise self.abort_error
        return 0


def test_a_migration_that_ends_as_its_deadline_passes_is_done_and_an_aborted_one_says_so(monkeypatch):
    web = dom(1.0, name="web")
    aborted = LibvirtFailure("operation aborted: migration out job: canceled by client",
                             libvirt.VIR_ERR_OPERATION_ABORTED)
    gone = LibvirtFailure("Domain not found: no domain with matching uuid", libvirt.VIR_ERR_NO_DOMAIN)

    def migrate(moving: Moving) -> str | None:
        said = None
        try:
            migration.migrate(moving, web, "qemu+tcp://127.0.0.2/system", "h2", deadline_s=0.2)  # type: ignore[arg-type]
        except ActionError as err:
            said = str(err)
        finally:
            moving.ended.set()
        assert moving.aborts == 1 and not migration.migrating()
        return said

    # Done as the abort came: libvirt refuses it (the domain has left), or takes it too late to matter.
    assert migrate(Moving(None, abort_error=gone)) is None
    assert migrate(Moving(None)) is None
    head = "migrate web to h2: not done within 0.2 s; "
    assert migrate(Moving(aborted)) == head + "aborted (the domain stays where it was)"
    unreachable = LibvirtFailure("unable to connect", libvirt.VIR_ERR_SYSTEM_ERROR)
    no_job = LibvirtFailure("no job", libvirt.VIR_ERR_OPERATION_INVALID)
    assert migrate(Moving(unreachable, abort_error=no_job)) \
        == head + "abort refused: no job; the migration then failed: unable to connect (the domain stays where it was)"
    monkeypatch.setattr(migration, "ABORT_GRACE_S", 0.2)
    assert migrate(Moving(None, abort_ends=False)) == \
        head + "aborted, but the migration has not returned (the domain may still move)"
    monkeypatch.setattr(deadlines, "QUICK_S", 0.2)
    assert migrate(Moving(None, abort_hangs=True)) == head + "abort the migration: no answer within 0.2 s, but the " \
                                                             "migration has not returned (the domain may still move)"
