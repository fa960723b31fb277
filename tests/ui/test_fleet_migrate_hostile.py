"""M (evacuate a host) with a hostile domain name on a hostile host, to another hostile host: the destination
chooser, the typed confirmation and libvirt's refusal read literally (visible forms, no markup, no click action,
no raw control byte), the name is typed as it reads, and nothing else happens."""

from __future__ import annotations

import pytest
from textual import events
from textual.app import App
from textual.widgets import Input, Label, OptionList

from tests import hostile
from tests.ui.fleet_source import driver_host, uuid_of
from tests.ui.harness import messages, running_app
from tests.ui.screen_read import lines, shows_harmlessly
from tests.ui.test_fleet_migrate import MigratingFleet, on_host
from tests.ui.test_hostile_names import click_along, dialog, newest_toast
from tests.ui.waiting import until
from xentui import config
from xentui.text import visible
from xentui.ui.dialogs.confirm import ConfirmScreen
from xentui.ui.migrate import HostChooser

# What a test-driver XML can carry (no ESC): markup with a click action, a carriage return, a bidi override.
NAME = "[ @click=app.screenshot('x.svg')]w\rEVIL\u202e1"
SOURCE_HOST = "[b]h1\x9b31m\u202e"  # host names come from a fleet file or Prometheus labels: anything
DEST_HOST = hostile.HOSTNAME  # OSC title, markup, bidi override
SETTINGS = config.Settings(delay=0.3, sort="name", reverse=False)


@pytest.fixture
def fleet(tmp_path):
    source = MigratingFleet([driver_host(tmp_path, SOURCE_HOST, [(hostile._ref(NAME), uuid_of(1))], write=True),
                             driver_host(tmp_path, DEST_HOST, [("db1", uuid_of(2))], write=True)], readonly=False)
    yield source
    source.close()


@pytest.fixture
def screenshots(monkeypatch) -> list[str]:
    asked: list[str] = []
    monkeypatch.setattr(App, "action_screenshot", lambda self, *a, **k: asked.append(repr(a)))
    return asked


@pytest.mark.asyncio
async def test_the_chooser_and_the_typed_confirmation_read_hostile_names_literally(fleet, screenshots):
    async with running_app(fleet, size=(160, 40), notifications=True, settings=SETTINGS, poll=True,
                           prime=0.0) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.table.row_count == 2, "the fleet's rows")
        app.table.cursor = app.table.order.index(f"{SOURCE_HOST}/{uuid_of(1)}")
        await until(pilot, lambda: app.selected() is not None and app.selected().name == NAME, "the domain selected")
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, HostChooser), "the destination chooser")
        assert app.screen.hosts == [DEST_HOST]
        await shows_harmlessly(pilot, app, NAME, SOURCE_HOST, DEST_HOST, within=dialog(app), what="the chooser")
        options = lines(app, app.screen.query_one(OptionList))
        assert any(visible(DEST_HOST) in line for line in options), options  # its visible form, whole
        await click_along(pilot, app, app.screen.query_one(Label))  # (a click on the option would pick it)
        assert isinstance(app.screen, HostChooser) and not screenshots, screenshots
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the typed confirmation")
        assert app.screen.word == DEST_HOST
        await shows_harmlessly(pilot, app, NAME, SOURCE_HOST, DEST_HOST, within=dialog(app),
                               what="the typed confirmation")
        for label in app.screen.query(Label):
            await click_along(pilot, app, label)
        assert isinstance(app.screen, ConfirmScreen) and not screenshots, screenshots
        # Pasted as it reads (Pilot types ASCII only): ␛ and ⟨U+202E⟩ are what the screen shows.
        app.screen.query_one(Input).post_message(events.Paste(visible(DEST_HOST)))
        await until(pilot, lambda: app.screen.query_one(Input).value == visible(DEST_HOST), "the name typed")
        await pilot.press("enter")
        # The test driver has no migration: libvirt's refusal, one line with the names, and the domain stays.
        await until(pilot, lambda: any("failed:" in m for m in messages(app)), "the refusal")
        (line,) = [m for m in messages(app) if "failed:" in m]
        assert "\n" not in line and line.endswith(f"({visible(NAME)} stays where it was)"), line
        await shows_harmlessly(pilot, app, f"migrate {NAME}", within=lambda: newest_toast(app), what="the refusal")
        assert NAME in on_host(fleet, SOURCE_HOST) and NAME not in on_host(fleet, DEST_HOST)
        assert app.is_running and not screenshots, screenshots
