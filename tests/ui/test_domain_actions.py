"""Domain actions from keys, the menu and the palette, on libvirt's test driver (real libvirt code)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import libvirt
import pytest

from tests.libvirt_test_driver import driver_xml
from tests.ui.harness import messages, running_app
from tests.ui.waiting import until
from xentui import config
from xentui.sources.libvirt import LibvirtSource
from xentui.ui.dialogs.action_menu import ActionMenu
from xentui.ui.dialogs.confirm import ConfirmScreen
from xentui.ui.dialogs.prompt import PromptScreen

STATE = {libvirt.VIR_DOMAIN_RUNNING: "running", libvirt.VIR_DOMAIN_PAUSED: "paused",
         libvirt.VIR_DOMAIN_SHUTOFF: "shutoff"}


@pytest.fixture
def host_xml(tmp_path) -> Path:
    path = tmp_path / "host.xml"
    path.write_text(driver_xml(3))
    return path


def state(app, name: str) -> str:
    return STATE.get(app.source.conn.lookupByName(name).info()[0], "other")


@contextlib.asynccontextmanager
async def running(host_xml: Path, tmp_path, write: bool = True):
    """The app polling the test driver's host, its first snapshot shown: (app, pilot)."""
    source = LibvirtSource(f"test://{host_xml}", readonly=not write)
    settings = config.Settings(delay=0.2, sort="name", reverse=False)
    async with running_app(source, size=(120, 30), settings=settings, config_path=tmp_path / "c.toml", poll=True,
                           prime=0.0) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.table.row_count == 3, "first snapshot")
        yield app, pilot


def shown_state(app, name: str) -> str:
    return next(v.sample.state.value for v in app.snapshot.domains if v.name == name)


@pytest.mark.asyncio
async def test_pause_and_resume_need_no_confirmation_and_report_the_time(host_xml, tmp_path):
    async with running(host_xml, tmp_path) as (app, pilot):
        await pilot.press("p")
        await until(pilot, lambda: state(app, "dom0000") == "paused", "paused in libvirt")
        await until(pilot, lambda: shown_state(app, "dom0000") == "paused", "paused on screen")
        assert any(m.startswith("pause dom0000: done in") and m.endswith(" ms") for m in messages(app))
        await pilot.press("p")  # the same key resumes a paused domain
        await until(pilot, lambda: state(app, "dom0000") == "running", "resumed")


@pytest.mark.asyncio
async def test_shutdown_asks_yes_no_and_no_does_nothing(host_xml, tmp_path):
    async with running(host_xml, tmp_path) as (app, pilot):
        await pilot.press("o")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await until(pilot, lambda: "shutdown: cancelled, nothing done" in messages(app), "cancelled")
        assert state(app, "dom0000") == "running"
        await pilot.press("o", "y")
        await until(pilot, lambda: state(app, "dom0000") == "shutoff", "shut off")
        await until(pilot, lambda: shown_state(app, "dom0000") == "shutoff", "shown shut off")
        await pilot.press("g")  # start the defined domain again
        await until(pilot, lambda: state(app, "dom0000") == "running", "started")


@pytest.mark.asyncio
async def test_destroy_wants_the_name_typed(host_xml, tmp_path):
    async with running(host_xml, tmp_path) as (app, pilot):
        await pilot.press("down", "k")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(*"dom0000", "enter")  # the wrong name: refused
        await until(pilot, lambda: "destroy: cancelled, nothing done" in messages(app), "cancelled")
        assert state(app, "dom0001") == "running" and state(app, "dom0000") == "running"
        await pilot.press("k", *"dom0001", "enter")
        await until(pilot, lambda: state(app, "dom0001") == "shutoff", "destroyed")


@pytest.mark.asyncio
async def test_tagged_domains_are_acted_on_together(host_xml, tmp_path):
    async with running(host_xml, tmp_path) as (app, pilot):
        await pilot.press("space", "space")  # tags dom0000 and dom0001 (Space moves down)
        assert app.table.cell_text(app.table.order[0], "name") == "dom0000"
        assert [v.name for v in app.targets()] == ["dom0000", "dom0001"]
        await pilot.press("p")
        await until(pilot, lambda: state(app, "dom0000") == state(app, "dom0001") == "paused", "both paused")
        assert state(app, "dom0002") == "running"
        await pilot.press("u", "k")  # untagged: the selected one only, and its name is asked
        assert isinstance(app.screen, ConfirmScreen) and app.screen.word == "dom0002"
        await pilot.press("escape")


@pytest.mark.asyncio
async def test_balloon_prompt_checks_the_size(host_xml, tmp_path):
    async with running(host_xml, tmp_path) as (app, pilot):
        await pilot.press("m")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"lots", "enter")
        await until(pilot, lambda: any("write e.g. 512M" in m for m in messages(app)), "the size refused")
        await pilot.press("m", *"200M", "enter")
        await until(pilot, lambda: app.source.conn.lookupByName("dom0000").info()[2] == 200 * 1024, "ballooned")


@pytest.mark.asyncio
async def test_menu_offers_only_what_fits_the_state(host_xml, tmp_path):
    async with running(host_xml, tmp_path) as (app, pilot):
        await pilot.press("x")
        menu = app.screen
        assert isinstance(menu, ActionMenu)
        assert [a.value for a in menu.actions] == ["pause", "shutdown", "reboot", "destroy", "balloon"]
        await pilot.press("p")  # the menu's keys work too
        await until(pilot, lambda: state(app, "dom0000") == "paused", "paused from the menu")
        await until(pilot, lambda: shown_state(app, "dom0000") == "paused", "shown paused")
        await pilot.press("x")
        assert [a.value for a in app.screen.actions] == ["resume", "destroy", "balloon"]


@pytest.mark.asyncio
async def test_read_only_session_explains_how_to_act(host_xml, tmp_path):
    async with running(host_xml, tmp_path, write=False) as (app, pilot):
        for key in "pokmge":
            await pilot.press(key)
        await until(pilot, lambda: sum("--write" in m for m in messages(app)) == 6, "six refusals")
        assert not isinstance(app.screen, ConfirmScreen | PromptScreen)
        assert state(app, "dom0000") == "running"


@pytest.mark.asyncio
async def test_actions_are_in_the_command_palette(host_xml, tmp_path):
    async with running(host_xml, tmp_path) as (app, pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Domain: pause", "Domain: destroy (force off)", "Domain: start"} <= set(titles)
        pause = next(c for c in app.get_system_commands(app.screen) if c.title == "Domain: pause")
        pause.callback()
        await until(pilot, lambda: state(app, "dom0000") == "paused", "paused from the palette")


@pytest.mark.asyncio
async def test_keys_typed_into_a_dialog_before_it_has_focus_never_act(host_xml, tmp_path):
    """`/` then "pd" at once (a paste, a fast typist): `p` must not pause the selected domain."""
    async with running(host_xml, tmp_path) as (app, pilot):
        await pilot.press("slash", "p", "k", "d", "escape")
        acting = [w for w in app.workers if w.group == "actions"]  # a `p` that acted started one, at once
        if acting:  # (an empty list would wait for every worker: the poller never ends)
            await app.workers.wait_for_complete(acting)
        assert not isinstance(app.screen, ConfirmScreen)
        assert not any(m.startswith(("pause", "resume")) for m in messages(app))
        await pilot.press("p")  # now it pauses: had the first `p` acted, this one would resume
        await until(pilot, lambda: state(app, "dom0000") == "paused", "paused by the second p")
        assert [m for m in messages(app) if m.startswith(("pause", "resume"))][-1].startswith("pause dom0000")
