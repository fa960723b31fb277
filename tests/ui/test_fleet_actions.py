"""Actions across a fleet of libvirt test-driver hosts: a tagged set spanning hosts says so in its confirmation,
each domain is acted on through its own host, and a host opened alone keeps every guard of one host."""

from __future__ import annotations

import contextlib

import libvirt
import pytest

from tests.ui.fleet_source import TestFleet, lab_fleet
from tests.ui.harness import messages, running_app
from tests.ui.waiting import until
from xentui import config
from xentui.actions import READ_ONLY
from xentui.ui.dialogs.confirm import ConfirmScreen

STATE = {libvirt.VIR_DOMAIN_RUNNING: "running", libvirt.VIR_DOMAIN_PAUSED: "paused",
         libvirt.VIR_DOMAIN_SHUTOFF: "shutoff"}
SETTINGS = config.Settings(delay=0.2, sort="name", reverse=False)


def state(fleet: TestFleet, host: str, name: str) -> str:
    """The domain's state as the host's own libvirt says it."""
    return STATE.get(fleet.hosts[host].source.conn.lookupByName(name).info()[0], "other")


@contextlib.asynccontextmanager
async def running(fleet: TestFleet):
    async with running_app(fleet, size=(160, 40), settings=SETTINGS, poll=True, prime=0.0) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.table.row_count == 6, "the fleet's rows")
        yield app, pilot


async def tag(app, pilot, *wanted: tuple[str, str]) -> None:
    """Tag the rows of (host, name) ``wanted``."""
    for n, key in enumerate(list(app.table.order)):
        view = app.table.views[key]
        if (view.host, view.name) in wanted:
            app.table.cursor = n
            await pilot.press("space")
    assert {(v.host, v.name) for v in app.targets()} == set(wanted)


@pytest.fixture
def fleet(tmp_path):
    source = lab_fleet(tmp_path, write=True)
    yield source
    source.close()


@pytest.mark.asyncio
async def test_a_tagged_set_spanning_hosts_says_so_and_each_host_acts_on_its_own(fleet):
    async with running(fleet) as (app, pilot):
        await tag(app, pilot, ("h1", "web1"), ("h2", "db1"), ("h2", "shared"), ("h3", "web2"))
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert app.screen.question.plain == "Shut down (ACPI) 4 domains on 3 hosts: h1, h2, h3 (db1, shared, web1, " \
                                            "web2)?"
        await pilot.press("y")
        await until(pilot, lambda: all(state(fleet, h, n) == "shutoff" for h, n in
                                       (("h1", "web1"), ("h2", "db1"), ("h2", "shared"), ("h3", "web2"))),
                    "each shut off on its own host")
        assert state(fleet, "h1", "shared") == "running"  # the same UUID on h1: untouched
        assert sorted((n, a.value) for n, a in fleet.hosts["h2"].acted) == [("db1", "shutdown"), ("shared", "shutdown")]
        assert [(n, a.value) for n, a in fleet.hosts["h1"].acted] == [("web1", "shutdown")]
        await until(pilot, lambda: any(m.startswith("shutdown web2 on h3: done in") for m in messages(app)),
                    "the result names the host")


@pytest.mark.asyncio
async def test_destroy_across_hosts_asks_for_the_count(fleet):
    async with running(fleet) as (app, pilot):
        await tag(app, pilot, ("h1", "shared"), ("h2", "shared"))
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the typed confirmation")
        assert app.screen.word == "2"
        assert "2 domains on 2 hosts: h1, h2 (shared, shared)" in app.screen.question.plain
        await pilot.press("2", "enter")
        await until(pilot, lambda: state(fleet, "h1", "shared") == state(fleet, "h2", "shared") == "shutoff",
                    "both destroyed, each on its host")
        assert state(fleet, "h1", "web1") == "running"


@pytest.mark.asyncio
async def test_a_host_opened_alone_keeps_the_guards_of_one_host(fleet):
    async with running(fleet) as (app, pilot):
        assert app.fleet.enter("h2")
        await until(pilot, lambda: app.table.row_count == 2, "h2 alone")
        shared = next(n for n, k in enumerate(app.table.order) if app.table.views[k].name == "shared")
        app.table.cursor = shared
        await pilot.press("p")  # pause: no question asked
        await until(pilot, lambda: state(fleet, "h2", "shared") == "paused", "h2's shared paused")
        assert state(fleet, "h1", "shared") == "running"
        await pilot.press("g")  # start: not offered for a paused domain
        await until(pilot, lambda: any("start is not offered for shared" in m for m in messages(app)),
                    "the state guard")
        await pilot.press("escape")
        await until(pilot, lambda: app.fleet.focus is None and app.table.row_count == 6, "the fleet again")


@pytest.mark.asyncio
async def test_tags_on_other_hosts_wait_hidden_while_a_host_is_open(fleet):
    """Opening h2 alone: h1's tagged domain is neither shown nor acted on there; back in the fleet, it is tagged
    again (it was dropped for good before)."""
    async with running(fleet) as (app, pilot):
        await tag(app, pilot, ("h1", "web1"), ("h2", "db1"))
        assert app.fleet.enter("h2")
        await until(pilot, lambda: app.table.row_count == 2, "h2 alone")
        assert [(v.host, v.name) for v in app.targets()] == [("h2", "db1")]  # only what the screen shows
        assert app.fleet.enter("h1")  # from host to host: h1's tag is back, h2's hidden
        await until(pilot, lambda: app.fleet.focus == "h1" and app.table.row_count == 2, "h1 alone")
        assert [(v.host, v.name) for v in app.targets()] == [("h1", "web1")]
        await pilot.press("escape")
        await until(pilot, lambda: app.fleet.focus is None and app.table.row_count == 6, "the fleet again")
        assert {(v.host, v.name) for v in app.targets()} == {("h1", "web1"), ("h2", "db1")}
        assert app.fleet.enter("h3")
        app.fleet.focus = "gone"  # as when the open host leaves the fleet: back to it, the tags with it
        await until(pilot, lambda: app.fleet.focus is None and app.table.row_count == 6, "the fleet after it left")
        assert {(v.host, v.name) for v in app.targets()} == {("h1", "web1"), ("h2", "db1")}
        assert not app.fleet.hidden_tags  # nothing left to come back at a later, unrelated Esc


@pytest.mark.asyncio
async def test_a_read_only_fleet_says_how_to_act(tmp_path):
    fleet = lab_fleet(tmp_path, write=False)
    try:
        async with running(fleet) as (app, pilot):
            await tag(app, pilot, ("h1", "web1"), ("h3", "web2"))
            await pilot.press("o")
            await until(pilot, lambda: READ_ONLY in messages(app), "the read-only line")
            assert not isinstance(app.screen, ConfirmScreen)
    finally:
        fleet.close()


@pytest.mark.asyncio
async def test_host_charts_of_a_host_opened_alone_are_its_own(fleet, monkeypatch):
    """H in h2 opened alone charts h2's own network and disk, not the whole fleet's."""
    from xentui.ui.views.charts import Chart, HostChartsScreen

    drawn: dict[str, list[tuple[str, list[float]]]] = {}
    draw = Chart.draw

    def recorded(self, title, times, series, *args, **kwargs):
        drawn[title.split(" (")[0]] = [(label, list(values)) for label, values in series]
        return draw(self, title, times, series, *args, **kwargs)

    monkeypatch.setattr(Chart, "draw", recorded)
    async with running(fleet) as (app, pilot):
        await until(pilot, lambda: len(app.history.times()) >= 2, "two ticks of history")
        assert app.fleet.enter("h2")
        await until(pilot, lambda: app.table.row_count == 2, "h2 alone")
        await pilot.press("H")
        await until(pilot, lambda: isinstance(app.screen, HostChartsScreen) and "Network, all domains" in drawn,
                    "the host charts")
        own, whole = app.history.hosts["h2"]["net_rx_bytes_s"].values(), app.history.host["net_rx_bytes_s"].values()
        rx = dict(drawn["Network, all domains"])["rx"]
        known = [v for v in rx if v == v]  # NaN: the first tick has no rate
        assert known == [v for v in own[:len(rx)] if v == v] and known[-1] > 0  # the ticks so far, then more came
        assert rx[-1] < whole[len(rx) - 1]  # h1 and h3 receive too: the fleet's is more

        class WithoutH2(dict):  # as for a host that joined this tick: no series of its own yet (the poller's
            def __setitem__(self, key, value):  # thread adds ticks meanwhile: h2 is never added back)
                if key != "h2":
                    super().__setitem__(key, value)

        app.history.hosts = WithoutH2((k, v) for k, v in app.history.hosts.items() if k != "h2")
        drawn.clear()
        app.screen.show(app.snapshot)
        assert dict(drawn["Network, all domains"])["rx"] == []  # empty, never the fleet's under h2's name
