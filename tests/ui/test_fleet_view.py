"""The fleet in the live view: HOST and GROUP columns, rows keyed by host/UUID, sort, filter and tags across
hosts, the fleet header's sums, a down host's rows, the host list and a host opened alone."""

from __future__ import annotations

import pytest

from tests.ui.fleet_source import lab_fleet, synthetic_fleet, uuid_of
from tests.ui.harness import collected, messages, running_app, snapshots
from tests.ui.waiting import until
from xentui import config
from xentui.model import HostState
from xentui.ui.fleet import fleet_sums
from xentui.ui.views.hosts import HostsScreen
from xentui.ui.views.pcpu import PcpuScreen
from xentui.ui.views.vcpu import VcpuScreen

SETTINGS = config.Settings(delay=0.2, sort="name", reverse=False)


def header(app) -> str:
    return app.query_one("#host").text


def rows(app) -> list[tuple[str, str]]:
    """(HOST cell, NAME cell) of every row, in table order."""
    table = app.table
    return [(table.cell_text(k, "host"), table.cell_text(k, "name")) for k in table.order]


@pytest.fixture
def fleet(tmp_path):
    source = lab_fleet(tmp_path)
    yield source
    source.close()


@pytest.mark.asyncio
async def test_host_and_group_columns_and_one_row_per_host_of_a_shared_uuid(fleet):
    async with running_app(fleet, size=(160, 40), snapshot=collected(fleet)[-1], settings=SETTINGS) as (
            app, pilot):
        table = app.table
        assert table.shown[:3] == ("name", "host", "group")
        assert f"h1/{uuid_of(9)}" in table.order and f"h2/{uuid_of(9)}" in table.order  # one UUID, two rows
        assert rows(app) == [("h3", "cache1"), ("h2", "db1"), ("h1", "shared"), ("h2", "shared"), ("h1", "web1"),
                             ("h3", "web2")]
        assert table.cell_text(f"h3/{uuid_of(3)}", "group") == "rack-b"
        await pilot.click("DomainTable", offset=(15, 0))  # the HOST header: sort by host
        await until(pilot, lambda: app.view.sort == "host", "sorted by HOST")
        assert [h for h, _n in rows(app)] == ["h1", "h1", "h2", "h2", "h3", "h3"]


@pytest.mark.asyncio
async def test_the_filter_matches_host_and_group_too(fleet):
    async with running_app(fleet, size=(160, 40), snapshot=collected(fleet)[-1], settings=SETTINGS) as (
            app, pilot):
        app.view = app.view.filtered("rack-b")
        await until(pilot, lambda: app.table.row_count == 2, "the group's rows only")
        assert {h for h, _n in rows(app)} == {"h3"}
        app.view = app.view.filtered("^h2$")
        await until(pilot, lambda: app.table.row_count == 2, "the host's rows only")
        assert rows(app) == [("h2", "db1"), ("h2", "shared")]
        app.view = app.view.filtered("web")
        await until(pilot, lambda: app.table.row_count == 2, "names still match")


@pytest.mark.asyncio
async def test_tags_span_hosts_and_survive_a_reorder(fleet):
    shots = collected(fleet, ticks=3)
    async with running_app(fleet, size=(160, 40), snapshot=shots[1], settings=SETTINGS) as (app, pilot):
        await pilot.press("down", "down", "space", "space")  # both "shared": h1's and h2's
        assert app.table.tagged == {f"h1/{uuid_of(9)}", f"h2/{uuid_of(9)}"}
        app.view = app.view.clicked("host")
        app.snapshot = shots[2]
        await pilot.pause()
        assert {(v.host, v.name) for v in app.targets()} == {("h1", "shared"), ("h2", "shared")}


@pytest.mark.asyncio
async def test_the_header_sums_the_live_hosts_and_names_the_down_one(fleet):
    collected(fleet)  # every host answered twice
    fleet.hosts["h2"].state = HostState.DOWN
    fleet.hosts["h2"].reason = "connection refused"
    shot = collected(fleet, ticks=1)[-1]
    live = [p for p in fleet.collect().parts if p.state is HostState.UP]
    running = [d for p in live for d in p.cur.domains if d.active]
    vcpus, pcpus = sum(d.vcpus_current for d in running), sum(p.cur.host.pcpus for p in live)
    async with running_app(fleet, size=(160, 40), snapshot=shot, settings=SETTINGS) as (app, _pilot):
        text = header(app).splitlines()
        assert text[0].startswith("fleet  3 hosts: 2 up, 1 down")
        assert text[1].startswith(f"CPU: {vcpus} vCPUs on {pcpus} pCPUs ({100 * vcpus / pcpus:.0f}%)")
        assert "committed over 2 live hosts" in text[1]
        mem, total = sum(d.mem_kib for d in running), sum(p.cur.host.mem_total_kib for p in live)
        sums = fleet_sums(shot)
        assert (sums.mem_kib, sums.mem_total_kib) == (mem, total)
        assert "DOWN h2 (rack-a): connection refused" in text
        stale = {app.table.cell_text(k, "state") for k in app.table.order if k.startswith("h2/")}
        assert stale == {"stale"}  # its last rows, marked
        fresh = {app.table.cell_text(k, "state") for k in app.table.order if not k.startswith("h2/")}
        assert "stale" not in fresh


@pytest.mark.asyncio
async def test_the_host_list_opens_a_host_alone_and_esc_returns(fleet):
    async with running_app(fleet, size=(160, 40), settings=SETTINGS, poll=True, prime=0.0) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.table.row_count == 6, "the fleet's rows")
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, HostsScreen), "the host list")
        await pilot.press("down", "enter")  # h1, h2, h3 (all up: by name): h2
        await until(pilot, lambda: app.fleet.focus == "h2" and app.table.row_count == 2, "h2 alone")
        assert "host" not in app.table.shown and not app.snapshot.fleet
        assert {app.table.views[k].name for k in app.table.order} == {"db1", "shared"}
        assert app.snapshot.host.uri == fleet.hosts["h2"].source.uri  # its own facts, in its own header
        assert "host h2 of a fleet of 3 hosts (Esc: back to the fleet)" in header(app)
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, PcpuScreen), "h2's pCPU view")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, PcpuScreen), "back from the pCPU view")
        await pilot.press("escape")
        await until(pilot, lambda: app.fleet.focus is None and app.table.row_count == 6, "the fleet again")
        assert app.table.shown[:3] == ("name", "host", "group") and app.is_running


@pytest.mark.asyncio
async def test_enter_on_a_domain_opens_its_host_then_its_vcpus(fleet):
    async with running_app(fleet, size=(160, 40), settings=SETTINGS, poll=True, prime=0.0) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.table.row_count == 6, "the fleet's rows")
        await pilot.press("down")  # db1 on h2
        await pilot.press("enter")
        await until(pilot, lambda: app.fleet.focus == "h2", "db1's host opened")
        assert app.selected().name == "db1"  # the cursor kept on it
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, VcpuScreen), "db1's vCPU view")
        await until(pilot, lambda: app.screen.view is not None and app.screen.view.name == "db1", "db1's vCPUs")
        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.fleet.focus is None, "the fleet again")


@pytest.mark.asyncio
async def test_a_host_that_never_answered_cannot_be_opened_and_says_why(fleet):
    fleet.hosts["h3"].state = HostState.DOWN
    fleet.hosts["h3"].reason = "no route to host"
    async with running_app(fleet, size=(160, 40), snapshot=collected(fleet)[-1], settings=SETTINGS) as (
            app, _pilot):
        assert "DOWN h3 (rack-b): no route to host" in header(app)
        assert not app.fleet.enter("h3")
        assert "host h3 has not answered yet (no route to host): nothing to show" in messages(app)
        assert app.fleet.focus is None and app.table.row_count == 4


@pytest.mark.asyncio
async def test_hostile_host_names_groups_and_reasons_are_shown_literally(tmp_path):
    from tests.ui.fleet_source import TestFleet, driver_host

    evil = "[b]h[/b]\x1b[2J"
    source = TestFleet([driver_host(tmp_path, evil, [("web", uuid_of(1))], group="[@click=app.quit]g"),
                        driver_host(tmp_path, "ok", [("db", uuid_of(2))])])
    collected(source)
    source.hosts["ok"].state = HostState.STALE
    source.hosts["ok"].reason = "[red]late[/red]\nsecond line $host"
    try:
        async with running_app(source, size=(160, 40), snapshot=collected(source, ticks=1)[-1],
                               settings=SETTINGS) as (app, pilot):
            key = f"{evil}/{uuid_of(1)}"
            assert app.table.cell_text(key, "host") == "[b]h[/b]␛[2J"
            assert app.table.cell_text(key, "group") == "[@click=app.quit]g"
            assert "STALE ok: [red]late[/red]" in header(app)
            assert "second line $host" in header(app) and "\n" not in header(app).splitlines()[3]
            await pilot.press("f")
            await until(pilot, lambda: isinstance(app.screen, HostsScreen), "the host list")
            await pilot.press("down", "enter")  # the stale host first, then the hostile one
            await until(pilot, lambda: app.fleet.focus == evil, "the hostile host opened")
            assert app.is_running
    finally:
        source.close()


@pytest.mark.asyncio
async def test_forty_hosts_sort_across_the_fleet_and_list_the_sick_first():
    source = synthetic_fleet(40, 50)
    collected(source)
    for name in ("node07", "node31"):
        source.hosts[name].state = HostState.DOWN
        source.hosts[name].reason = "timed out after 2 s"
    shot = collected(source, ticks=1)[-1]
    settings = config.Settings(sort="cpu_pct", reverse=True)
    async with running_app(source, size=(160, 50), snapshot=shot, settings=settings) as (app, pilot):
        assert app.table.row_count == 2000
        cpu = [v.rates.cpu_pct for k in app.table.order if (v := app.table.views[k]).rates.cpu_pct is not None]
        assert cpu == sorted(cpu, reverse=True)
        assert len({app.table.views[k].host for k in app.table.order[:50]}) > 1  # the top spans hosts
        assert "fleet  40 hosts: 38 up, 2 down" in header(app)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, HostsScreen), "the host list")
        listing = app.screen.query_one("#hosts-list")
        await until(pilot, lambda: listing.option_count == 40, "every host listed")
        first = [str(listing.get_option_at_index(i).prompt) for i in range(3)]
        assert first[0].startswith("down       node07") and first[1].startswith("down       node31")
        assert "timed out after 2 s" in first[0] and first[2].startswith("up         node00")


@pytest.mark.asyncio
async def test_help_and_the_column_chooser_name_the_fleet_keys_and_columns_in_a_fleet_only(fleet):
    from textual.widgets import SelectionList

    from xentui.ui.dialogs.columns import ColumnsScreen
    from xentui.ui.dialogs.help import HelpScreen

    async with running_app(fleet, size=(160, 50), snapshot=collected(fleet)[-1], settings=SETTINGS) as (
            app, pilot):
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        assert any(keys_ == "f F" and text.startswith("the fleet's hosts") for keys_, text in app.screen.rows)
        await pilot.press("escape", "c")
        await until(pilot, lambda: isinstance(app.screen, ColumnsScreen), "the column chooser")
        picked = app.screen.query_one(SelectionList)
        assert [picked.get_option_at_index(i).value for i in range(2)] == ["host", "group"]
    async with running_app(size=(160, 50), snapshot=snapshots()[-1]) as (app, pilot):  # one host
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        assert not any(text.startswith("the fleet's hosts") for _keys, text in app.screen.rows)
        await pilot.press("escape", "f")
        await pilot.pause()
        assert not isinstance(app.screen, HostsScreen) and "host" not in app.table.shown


def test_the_fleet_header_bounds_the_hosts_messages_and_its_sick_lines():
    from dataclasses import replace

    from textual.content import Content

    from xentui.model import HostView
    from xentui.ui.widgets.fleet_header import MAX_MESSAGES, MAX_SICK, fleet_lines

    sick = tuple(HostView(f"s{n:02d}", HostState.DOWN, reason=f"refused {n}") for n in range(MAX_SICK + 4))
    shot = replace(collected(synthetic_fleet(2, 2))[-1], notices=tuple(f"s00: note {n}" for n in range(7)))
    shot = replace(shot, hosts=shot.hosts + sick)
    text = [line.plain for line in fleet_lines(shot, mode_line=Content(""))]
    assert [t for t in text if t.startswith("DOWN ")] == [f"DOWN s{n:02d}: refused {n}" for n in range(MAX_SICK)]
    assert "… 4 more hosts not up (f: every host)" in text
    assert [t for t in text if t.startswith("s00: note")] == [f"s00: note {n}" for n in range(MAX_MESSAGES)]
    assert f"… {7 - MAX_MESSAGES} more notices (open a host to see its own)" in text


@pytest.mark.asyncio
async def test_opening_a_host_and_coming_back_while_frozen_redraws_once(fleet):
    async with running_app(fleet, size=(160, 40), snapshot=collected(fleet)[-1], settings=SETTINGS) as (
            app, pilot):
        await pilot.press("z")
        await until(pilot, lambda: app.paused, "frozen")
        assert app.fleet.enter("h3")
        await until(pilot, lambda: app.table.row_count == 2 and "host" not in app.table.shown, "h3 alone, frozen")
        await pilot.press("escape")
        await until(pilot, lambda: app.table.row_count == 6 and app.fleet.focus is None, "the fleet, frozen")
        assert app.paused and app.is_running


def test_the_fleet_header_says_unknown_where_no_live_host_reports_its_size():
    from dataclasses import replace

    from xentui.ui.fleet import FleetSums
    from xentui.ui.widgets.fleet_header import committed_line

    unsized = FleetSums(hosts=200, by_state={}, live=200, vcpus=0, pcpus=0, busy_pcpus=None, mem_kib=0,
                        mem_total_kib=0, unsized=200)  # Prometheus targets without node_exporter
    assert committed_line(unsized) == "CPU: -   Mem: -   200 live hosts: none reports its pCPUs or memory"
    cpu_only = replace(unsized, vcpus=6, pcpus=8, busy_pcpus=1.5, unsized=1, cpu_sized=1, live=2)
    assert committed_line(cpu_only) == ("CPU: 6 vCPUs on 8 pCPUs (75%), 1.5 busy   Mem: -   committed over 2 live "
                                        "hosts (1 of unknown size left out)")
    sized = replace(cpu_only, mem_kib=1024, mem_total_kib=4096, unsized=0, mem_sized=1, live=1)
    assert committed_line(sized) == ("CPU: 6 vCPUs on 8 pCPUs (75%), 1.5 busy   Mem: 1.0MiB of 4.0MiB (25%)   "
                                     "committed over 1 live host")


@pytest.mark.asyncio
async def test_the_host_column_is_as_wide_as_the_fleets_host_names_within_a_bound():
    from tests.ui.fleet_source import Host, TestFleet
    from xentui.sources.synthetic import SyntheticSource
    from xentui.ui import columns as cols
    from xentui.ui import frame

    long = "h" * 50 + "\x1b[31m"  # a hostile name: bounded, its escape made visible, never cut to look like another
    fleet = TestFleet([Host(name, SyntheticSource(count=1, pcpus=4))
                       for name in ("127.0.0.1:9177", "127.0.0.1:45", long)])
    shot = collected(fleet)[-1]
    assert frame.hosts_width(shot) == cols.MAX_HOST_WIDTH
    targets = TestFleet([Host(n, SyntheticSource(count=1, pcpus=4)) for n in ("127.0.0.1:9177", "127.0.0.1:45")])
    shot_short = collected(targets)[-1]
    assert frame.hosts_width(shot_short) == len("127.0.0.1:9177")
    async with running_app(targets, size=(200, 30), snapshot=shot_short, settings=SETTINGS) as (app, pilot):
        await until(pilot, lambda: app.table.row_count == 2, "both hosts' rows")
        assert sorted(host for host, _name in rows(app)) == ["127.0.0.1:45", "127.0.0.1:9177"]  # whole, not cut
        assert app.table.widths["host"] == len("127.0.0.1:9177")
