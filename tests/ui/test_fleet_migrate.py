"""M (evacuate a host) on a fleet of libvirt test-driver hosts: the destination chooser offers only the other
hosts that are up, the typed confirmation names the domains and hosts, a failed migration is one line and the
domain stays, read-only refuses; a migration's figures show in the STATE cell and the detail pane on both
hosts.  (The real migration, on the lab: tests/fleet/test_migration.py.)"""

from __future__ import annotations

import pytest

from tests.ui.fleet_source import TestFleet, lab_fleet, uuid_of
from tests.ui.harness import messages
from tests.ui.test_fleet_actions import running, tag
from tests.ui.waiting import until
from xentui.actions import READ_ONLY, Action, ActionParams
from xentui.model import DomainSample, HostState
from xentui.sources.libvirt import jobs, migration
from xentui.ui.dialogs.confirm import ConfirmScreen
from xentui.ui.migrate import HostChooser

# A real jobStats() of the lab's h4-idle 1.2 s into a live migration at 1 MiB/s (libvirt 9.0, QEMU 7.2).
LAB_JOB_STATS = {"operation": 5, "time_elapsed": 1219, "downtime": 300, "setup_time": 1, "data_total": 34349056,
                 "data_processed": 639836, "data_remaining": 389120, "memory_total": 34349056,
                 "memory_processed": 639836, "memory_remaining": 389120, "memory_bps": 1043233,
                 "memory_constant": 8153, "memory_normal": 138, "memory_normal_bytes": 565248, "memory_dirty_rate": 0,
                 "memory_iteration": 1, "memory_postcopy_requests": 0, "memory_page_size": 4096, "disk_total": 0,
                 "disk_processed": 0, "disk_remaining": 0, "type": 2}


class MigratingFleet(TestFleet):
    """The test fleet, routing a migration as FleetSource does: to the destination host's URI."""

    __test__ = False

    def migration_hosts(self) -> tuple[str, ...]:
        return tuple(n for n, h in self.hosts.items() if h.state is HostState.UP)

    def act(self, domain: DomainSample, action: Action, params: ActionParams) -> None:
        if action is Action.MIGRATE:
            params = {**params, "dest_uri": self.hosts[params["destination"]].source.uri}
        super().act(domain, action, params)


def make_fleet(tmp_path, write: bool = True) -> MigratingFleet:
    """The test fleet of test_fleet_actions (h1: web1, shared; h2: db1, shared; h3: cache1, web2)."""
    return MigratingFleet(list(lab_fleet(tmp_path, write=write).hosts.values()), readonly=not write)


@pytest.fixture
def fleet(tmp_path):
    source = make_fleet(tmp_path)
    yield source
    source.close()


def on_host(fleet: TestFleet, host: str) -> set[str]:
    """The running domains the host's own libvirt lists."""
    conn = fleet.hosts[host].source.conn  # type: ignore[attr-defined]
    return {d.name() for d in conn.listAllDomains() if d.isActive()}


@pytest.mark.asyncio
async def test_m_offers_the_other_hosts_up_then_asks_for_the_destination_name_and_a_failure_is_one_line(fleet):
    async with running(fleet) as (app, pilot):
        fleet.hosts["h2"].state = HostState.DOWN  # a host down is not offered
        await until(pilot, lambda: {h.name for h in app.snapshot.hosts if h.state.live} == {"h1", "h3"}, "h2 down")
        await tag(app, pilot, ("h1", "web1"))
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, HostChooser), "the destination chooser")
        assert app.screen.hosts == ["h3"]  # not h1 (its own), not h2 (down)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the typed confirmation")
        assert app.screen.word == "h3"
        assert app.screen.question.plain == "Live-migrate web1 from h1 to h3?"
        await pilot.press("h", "3", "enter")
        # The test driver has no migration: libvirt's refusal, one line, and web1 stays on h1.
        await until(pilot, lambda: any("migrate web1 to h3 failed:" in m for m in messages(app)), "the failure")
        (line,) = [m for m in messages(app) if "migrate web1 to h3 failed:" in m]
        assert "\n" not in line and line.endswith("(web1 stays where it was)"), line
        assert "web1" in on_host(fleet, "h1") and "web1" not in on_host(fleet, "h3")


@pytest.mark.asyncio
async def test_a_set_spanning_hosts_says_so_and_a_wrong_name_does_nothing(fleet):
    async with running(fleet) as (app, pilot):
        await tag(app, pilot, ("h1", "web1"), ("h2", "db1"))
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, HostChooser), "the destination chooser")
        assert app.screen.hosts == ["h3"]  # neither of the domains' own hosts
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the typed confirmation")
        assert app.screen.question.plain == ("Live-migrate 2 domains on 2 hosts: h1, h2 (db1, web1) from h1, h2 to h3 "
                                             "one after the other?")
        await pilot.press("h", "1", "enter")  # not the destination's name
        await until(pilot, lambda: "migrate: cancelled, nothing done" in messages(app), "cancelled")
        assert not fleet.hosts["h1"].acted and not fleet.hosts["h2"].acted


@pytest.mark.asyncio
async def test_a_host_opened_alone_offers_the_fleets_other_hosts(fleet):
    async with running(fleet) as (app, pilot):
        assert app.fleet.enter("h1")
        await until(pilot, lambda: not app.snapshot.fleet and app.table.row_count == 2, "h1 alone")
        await tag(app, pilot, ("h1", "web1"))
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, HostChooser), "the destination chooser")
        assert app.screen.hosts == ["h2", "h3"]


@pytest.mark.asyncio
async def test_read_only_refuses_and_no_host_to_go_to_is_one_line(tmp_path):
    fleet = make_fleet(tmp_path, write=False)
    try:
        async with running(fleet) as (app, pilot):
            await tag(app, pilot, ("h1", "web1"))
            await pilot.press("M")
            await until(pilot, lambda: READ_ONLY in messages(app), "the read-only line")
            assert not isinstance(app.screen, HostChooser)
            fleet.readonly = False
            fleet.hosts["h2"].state = fleet.hosts["h3"].state = HostState.DOWN
            await until(pilot, lambda: {h.name for h in app.snapshot.hosts if h.state.live} == {"h1"}, "h1 alone up")
            await pilot.press("M")
            await until(pilot, lambda: any(m.startswith("migrate: no other libvirt host of the fleet is up")
                                           for m in messages(app)), "no destination")
            assert not isinstance(app.screen, HostChooser)
    finally:
        fleet.close()


@pytest.mark.asyncio
async def test_a_migrations_figures_show_on_both_hosts(fleet):
    h2_uri = fleet.hosts["h2"].source.uri
    job = jobs.job_sample(LAB_JOB_STATS, "migration")
    assert job is not None and job.percent == pytest.approx(98.87, abs=0.01)
    # ``shared`` (one UUID on h1 and h2) as this process's migration from h1 to h2 would show it.
    with migration._lock:
        migration._migrating[uuid_of(9)] = [h2_uri, job]
    try:
        async with running(fleet) as (app, pilot):
            table = app.table
            out_key, in_key = f"h1/{uuid_of(9)}", f"h2/{uuid_of(9)}"
            await until(pilot, lambda: table.cell_text(out_key, "state") == "→ 99%"
                        and table.cell_text(in_key, "state") == "← 99%", "both rows' STATE")
            assert table.cell_text(f"h1/{uuid_of(1)}", "state") == "-----r"  # the others as before
            figures = ("99% done, 624.8KiB sent, 380.0KiB left, dirtied 0B/s, iteration 1, downtime 300 ms, "
                       "1.2 s")
            for key, operation in ((in_key, "migration in"), (out_key, "migration out")):
                table.cursor = table.order.index(key)  # the selected row (no tag: Space moves down)
                await until(pilot, lambda o=operation: f"{o}, {figures}" in str(app.query_one("#detail").render()),
                            f"the detail pane's line ({operation})")
    finally:
        with migration._lock:
            migration._migrating.pop(uuid_of(9), None)
