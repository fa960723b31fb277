"""Every screen and dialog on hosts whose names are hostile (issue 14): libvirt's test driver, with write
access, and a crafted recording.  Each screen must read each name literally, send no control byte from
it to the terminal, carry no click action or link from it, and keep running."""

from __future__ import annotations

import contextlib
from pathlib import Path

import libvirt
import pytest
from textual import events
from textual.app import App
from textual.widgets import Input, Label

from tests import hostile
from tests.ui.harness import messages, running_app
from tests.ui.screen_read import lines, probe, rows, shows_harmlessly
from tests.ui.waiting import until
from xentui import config
from xentui.recording.player import ReplayPlayer
from xentui.sources.libvirt import LibvirtSource
from xentui.ui.app import XentuiApp
from xentui.ui.dialogs.action_menu import ActionMenu
from xentui.ui.dialogs.columns import ColumnsScreen
from xentui.ui.dialogs.confirm import ConfirmScreen
from xentui.ui.dialogs.help import HelpScreen
from xentui.ui.dialogs.prompt import PromptScreen
from xentui.ui.views.charts import ChartsScreen
from xentui.ui.views.pcpu import PcpuScreen
from xentui.ui.views.vcpu import VcpuScreen

SIZE = (120, 40)
PASTED = "\x1b]0;PWNED\x07\x9b31m\u202e"  # into the filter prompt


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> list[str]:
    """Runs in an empty directory with its own home; returns the screenshots anything asked for."""
    for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "cfg"), ("XDG_DOWNLOAD_DIR", "downloads")):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.chdir(tmp_path)
    asked: list[str] = []
    monkeypatch.setattr(App, "action_screenshot", lambda self, *a, **k: asked.append(repr(a)))
    return asked


def written(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if p.is_file() and p.name not in ("host.xml", "c.toml", "r.xtrec.gz"))


@contextlib.asynccontextmanager
async def running(source, tmp_path: Path, size: tuple[int, int] = SIZE, player: ReplayPlayer | None = None):
    settings = config.Settings(delay=0.5, sort="name", reverse=False)
    async with running_app(source, size=size, notifications=True, settings=settings, config_path=tmp_path / "c.toml",
                           prime=0.0, poll=True, player=player) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.table.row_count >= 10, "the first snapshot")
        yield app, pilot


async def select(pilot, app: XentuiApp, name: str) -> None:
    """Move the cursor to the domain of that name, with the keys."""
    order = app.table.order
    step = order.index(next(v.uuid for v in app.snapshot.domains if v.name == name))
    step -= order.index(app.table.cursor_domain())
    await pilot.press(*["down" if step > 0 else "up"] * abs(step))
    await until(pilot, lambda: app.selected() is not None and app.selected().name == name, f"{name!r} selected")


async def opened(pilot, app: XentuiApp, kind: type, *keys: str) -> None:
    await pilot.press(*keys)
    await until(pilot, lambda: isinstance(app.screen, kind), f"{kind.__name__} open after {keys}")


async def closed(pilot, app: XentuiApp, key: str = "escape") -> None:
    await pilot.press(key)
    await until(pilot, lambda: len(app.screen_stack) == 1, f"back on the table after {key}")


async def click_along(pilot, app: XentuiApp, widget, y: int = 0) -> None:
    """A click on each piece of differently styled text in a widget's row: a name's hidden [@click=...]
    would be one of them."""
    x = 0
    for seg in rows(app, widget)[y]:
        await pilot.click(widget, offset=(x, y))
        x += seg.cell_length


async def click_the_name_in_the_table(pilot, app: XentuiApp) -> None:
    table = app.table
    await click_along(pilot, app, table, table.order.index(table.cursor_domain()) + table.header_lines)


def dialog(app: XentuiApp):
    """The box of the dialog on top."""
    return next(w for w in app.screen.children if w.id not in ("textual-toastrack", "textual-tooltip"))


def newest_toast(app: XentuiApp):
    """The notification shown last, once there is one."""
    return app.screen.query("Toast").last() if app.screen.query("Toast") else None


async def main_views(pilot, app: XentuiApp, name: str) -> None:
    """The table and the detail pane (n, b, v, l) with ``name`` selected."""
    await shows_harmlessly(pilot, app, name, within=app.table, what="the table")
    for key in "nbvl":
        await pilot.press(key)
        await shows_harmlessly(pilot, app, name, within=app.query_one("#detail"), what=f"the detail pane ({key})")
        await pilot.press(key)


async def domain_views(pilot, app: XentuiApp, name: str) -> None:
    """The full-screen views of the selected domain: vCPUs (Enter) and its charts (h)."""
    await opened(pilot, app, VcpuScreen, "enter")
    await shows_harmlessly(pilot, app, name, within=app.screen.query_one("#vcpu-title"), what="the vCPU view")
    await closed(pilot, app)
    await opened(pilot, app, ChartsScreen, "h")
    await shows_harmlessly(pilot, app, name, within=app.screen.query_one("#charts-title"),
                           what="the domain's charts")
    await closed(pilot, app)


async def host_views(pilot, app: XentuiApp, placed: bool = False) -> None:
    """The screens that show no one domain: help, columns, pCPUs (names as domain/vCPU), the host's charts."""
    for kind, key, what in ((HelpScreen, "question_mark", "help"), (ColumnsScreen, "c", "the column picker"),
                            (PcpuScreen, "1", "the pCPU view"), (ChartsScreen, "H", "the host's charts")):
        await opened(pilot, app, kind, key)
        await shows_harmlessly(pilot, app, what=what)
        if kind is PcpuScreen and placed:  # names as domain/vCPU, as many as a line holds
            shown = "\n".join(lines(app, app.screen.query_one("#pcpu-lines")))
            assert any(f"{probe(n)[:8]}" in shown for n in hostile.NAMES.values()), shown
        await closed(pilot, app)


async def filters(pilot, app: XentuiApp) -> None:
    """`/` with markup typed, then with escapes pasted: the prompt, the filtered table and the notice read
    literally, and a paste cannot put a control character on screen."""
    await opened(pilot, app, PromptScreen, "slash")
    await pilot.press(*"[b")
    await shows_harmlessly(pilot, app, "[b", within=dialog(app), what="the filter prompt with [b typed")
    await pilot.press("enter")
    await until(pilot, lambda: len(app.screen_stack) == 1, "the filter applied")
    await shows_harmlessly(pilot, app, "'[b' is not a regular expression", within=lambda: newest_toast(app),
                           what="the notice that [b is matched as text")
    await shows_harmlessly(pilot, app, "[b", within=app.table, what="the table filtered by [b")
    await opened(pilot, app, PromptScreen, "slash")
    app.screen.query_one(Input).post_message(events.Paste(PASTED))
    await pilot.pause()
    await shows_harmlessly(pilot, app, within=dialog(app), what="the filter prompt after escapes were pasted")
    await pilot.press("enter")
    await until(pilot, lambda: len(app.screen_stack) == 1, "the filter applied")
    await shows_harmlessly(pilot, app, what="the table after the paste")
    await pilot.press("escape")  # clears the filter
    await until(pilot, lambda: not app.view.filter_text, "the filter cleared")


async def nothing_happened(pilot, app: XentuiApp, tmp_path: Path, screenshots: list[str]) -> None:
    await pilot.pause()
    assert app.is_running and app.return_code is None, "the app stopped"
    assert not screenshots and not written(tmp_path), f"a click on a name did something: {screenshots}"


async def views_and_menu_of(pilot, app: XentuiApp, name: str, tmp_path: Path, screenshots: list[str]) -> None:
    """Select the domain; its table row, detail pane, vCPU view, charts and action menu, clicked along."""
    await select(pilot, app, name)
    await main_views(pilot, app, name)
    await domain_views(pilot, app, name)
    await opened(pilot, app, ActionMenu, "x")
    await shows_harmlessly(pilot, app, name, within=dialog(app), what="the action menu")
    await click_along(pilot, app, app.screen.query_one(Label))
    await nothing_happened(pilot, app, tmp_path, screenshots)
    assert isinstance(app.screen, ActionMenu)
    await closed(pilot, app)


@pytest.fixture
def test_host(tmp_path) -> LibvirtSource:
    xml = hostile.write_test_host(tmp_path / "host.xml")
    return LibvirtSource(f"test://{xml}", readonly=False, conn=hostile.open_with_renames(xml))


async def test_the_screens_of_a_hostile_host_read_literally(test_host, tmp_path, sandbox):
    async with running(test_host, tmp_path) as (app, pilot):
        names = [n for c, n in hostile.NAMES.items() if c not in hostile.REFUSED_CLASSES]
        await shows_harmlessly(pilot, app, *names, within=app.table, what="the table")
        await host_views(pilot, app)
        await filters(pilot, app)
        await click_the_name_in_the_table(pilot, app)
        await nothing_happened(pilot, app, tmp_path, sandbox)


@pytest.mark.parametrize("cls", hostile.XML_CLASSES)
async def test_every_dialog_reads_a_running_hostile_name_literally_and_clicks_on_it_do_nothing(
        cls, test_host, tmp_path, sandbox):
    name = hostile.NAMES[cls]
    async with running(test_host, tmp_path) as (app, pilot):
        await views_and_menu_of(pilot, app, name, tmp_path, sandbox)
        for key, what in (("o", "shut down"), ("e", "reboot"), ("k", "destroy")):
            await opened(pilot, app, ConfirmScreen, key)
            await shows_harmlessly(pilot, app, name, within=dialog(app), what=f"the {what} confirmation")
            await click_along(pilot, app, app.screen.query_one(Label))
            await closed(pilot, app)
        await opened(pilot, app, PromptScreen, "m")
        await shows_harmlessly(pilot, app, name, within=dialog(app), what="the balloon prompt")
        await closed(pilot, app)
        await opened(pilot, app, VcpuScreen, "enter")
        await opened(pilot, app, PromptScreen, "p")
        await shows_harmlessly(pilot, app, name, within=dialog(app), what="the pin prompt")
        await pilot.press("escape")
        await closed(pilot, app)
        await pilot.press("p")  # pause: no question, a notification with the name
        await shows_harmlessly(pilot, app, name, within=lambda: newest_toast(app), what="the pause notification")
        await click_the_name_in_the_table(pilot, app)
        await nothing_happened(pilot, app, tmp_path, sandbox)


async def test_names_only_a_rename_can_give_read_literally_on_a_shut_off_domain(test_host, tmp_path, sandbox):
    running_name = hostile.NAMES["markup-click"]
    async with running(test_host, tmp_path) as (app, pilot):
        for cls in hostile.RENAMED_CLASSES:
            await views_and_menu_of(pilot, app, hostile.NAMES[cls], tmp_path, sandbox)
            told = len(messages(app))
            await pilot.press("g")  # the test driver cannot start it: libvirt's error quotes the name
            await until(pilot, lambda told=told: len(messages(app)) > told, "the refusal to start it")
            await shows_harmlessly(pilot, app, what="libvirt's refusal to start it")
        await select(pilot, app, running_name)
        await pilot.press("space")  # tag it and a shut-off one: shutdown skips the latter, by name
        await select(pilot, app, hostile.NAMES["osc-title"])
        await pilot.press("space")
        await opened(pilot, app, ConfirmScreen, "o")
        await shows_harmlessly(pilot, app, running_name, within=dialog(app), what="the tagged domains' confirmation")
        await pilot.press("n")
        await shows_harmlessly(pilot, app, hostile.NAMES["osc-title"], what="the skip notice")
        await nothing_happened(pilot, app, tmp_path, sandbox)


async def test_destroy_takes_a_markup_name_typed_as_it_reads(test_host, tmp_path, sandbox):
    async with running(test_host, tmp_path) as (app, pilot):
        await select(pilot, app, "[b")
        await opened(pilot, app, ConfirmScreen, "k")
        await pilot.press(*"[b", "enter")
        await until(pilot, lambda: test_host.conn.lookupByName("[b").info()[0] == libvirt.VIR_DOMAIN_SHUTOFF,
                    "[b destroyed")
        await shows_harmlessly(pilot, app, "[b", within=lambda: newest_toast(app), what="the destroy notice")


@pytest.fixture
def recording(tmp_path) -> ReplayPlayer:
    return ReplayPlayer.open(hostile.write_recording(tmp_path / "r.xtrec.gz", ticks=40))


async def test_a_crafted_recording_replays_every_hostile_name_harmlessly(recording, tmp_path, sandbox):
    # the replay's header is long
    async with running(recording.source, tmp_path, size=(160, 40), player=recording) as (app, pilot):
        await pilot.press("space")  # pause the replay: the frames hold still
        header = app.query_one("#host")
        await shows_harmlessly(pilot, app, hostile.HOSTNAME, "libvirt says", within=header, what="the header")
        await shows_harmlessly(pilot, app, *hostile.NAMES.values(), within=app.table, what="the recording's table")
        await click_along(pilot, app, header)
        for cls in (*hostile.RENAMED_CLASSES, *hostile.REFUSED_CLASSES):  # the test driver cannot run these
            name = hostile.NAMES[cls]
            await select(pilot, app, name)
            await main_views(pilot, app, name)
            await domain_views(pilot, app, name)
        await pilot.press("b")
        await shows_harmlessly(pilot, app, hostile.DISK, within=app.query_one("#detail"), what="the recorded disk")
        await pilot.press("b")
        await host_views(pilot, app, placed=True)  # the recording knows where each vCPU ran
        await filters(pilot, app)
        await pilot.press("x", "k", "p")  # a recording cannot be acted on: no dialog opens
        await pilot.pause()
        assert len(app.screen_stack) == 1
        for key in ("full_stop", "comma", "right_square_bracket", "left_square_bracket", "end", "home",
                    "plus", "minus", "space", "space"):
            await pilot.press(key)
            await shows_harmlessly(pilot, app, hostile.HOSTNAME, within=header, what=f"the replay after {key}")
        await nothing_happened(pilot, app, tmp_path, sandbox)
