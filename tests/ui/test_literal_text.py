"""Hostile names, messages and typed text stay literal and harmless on every screen (the one door)."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import replace

import pytest
from rich.cells import cell_len
from textual import events
from textual.widgets import Input, Label

from tests.ui.harness import RecordingApp, messages, running_app
from tests.ui.waiting import until
from xentui import config
from xentui.actions import ActionError
from xentui.model import build_snapshot
from xentui.sources import SourceError
from xentui.sources.synthetic import SyntheticSource
from xentui.text import one_line, visible
from xentui.ui.app import XentuiApp
from xentui.ui.dialogs.action_menu import ActionMenu
from xentui.ui.dialogs.confirm import ConfirmScreen
from xentui.ui.literal import literal, markup
from xentui.ui.textual_workarounds import screen_bytes

CLICK = "[ @click=app.screenshot('o.svg')]web01"  # fits the NAME column (40)
OSC = "web02\x1b]0;owned\x07"
# Index in the synthetic host -> name (0, 1, 3: running; 4: paused).
NAMES = {0: CLICK, 1: OSC, 2: "\x1b]52;c;b3duZWQ=\x07web03", 3: "web04\u009b31m", 4: "web05\u202egpj.exe",
         5: "\rweb06", 6: "[$level-crit]web07[/", 7: '=HYPERLINK("http://x")', 8: "日本語の仮想マシン", 9: "[b"}
HOST = "host\x1b[2J[b]x"
ERROR = "libvirt: internal error\n  \x1b]0;owned\x07 [b]not bold[/b]\r\n"
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class HostileSource(SyntheticSource):
    """The synthetic host with hostile names; every action fails with a hostile libvirt message."""

    def collect(self):
        raw = super().collect()
        domains = tuple(replace(d, name=NAMES.get(i, d.name)) for i, d in enumerate(raw.domains))
        return replace(raw, host=replace(raw.host, hostname=HOST), domains=domains)

    def act(self, domain, action, params) -> None:
        raise ActionError(f"{action.value} {domain.name}: {ERROR}")


def hostile_app(tmp_path, write: bool = False) -> XentuiApp:
    source = HostileSource(count=12, readonly=not write)
    settings = config.Settings(sort="name", reverse=False)
    return RecordingApp(source, settings, config_path=tmp_path / "c.toml", poll=False)


def show(app: XentuiApp) -> None:
    prev = app.source.collect()
    snapshot = build_snapshot(prev, app.source.collect(), 2)
    app.snapshot = replace(snapshot, errors=(ERROR,), notices=("xenstore says\x1b[5m hi\u202e",))


def select(app: XentuiApp, name: str) -> None:
    uuid = next(v.uuid for v in app.snapshot.domains if v.name == name)
    app.table._move_to(app.table.order.index(uuid))


@contextlib.asynccontextmanager
async def hostile(tmp_path, write: bool = False, size=(120, 40), selected: str | None = None):
    """The app on the hostile host, its snapshot shown, ``selected`` under the cursor: (app, pilot)."""
    source = HostileSource(count=12, readonly=not write)
    settings = config.Settings(sort="name", reverse=False)
    async with running_app(source, size=size, settings=settings, config_path=tmp_path / "c.toml") as (app, pilot):
        show(app)
        await pilot.pause()
        if selected is not None:
            select(app, selected)
        yield app, pilot


def shown(app: XentuiApp) -> str:
    """The screen as the terminal gets it: only Textual's own CSI sequences and line breaks as controls."""
    out = screen_bytes(app)
    text = CSI.sub("", out)
    bad = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c != "\n"})
    assert not bad, f"control or format characters reach the terminal: {bad}"
    return text


def visible_names(app: XentuiApp, text: str, names) -> None:
    for name in names:
        assert visible(name) in text, f"{visible(name)!r} not shown"


def test_markup_values_never_become_tags():
    content = markup("[b]$name[/b] $other", name="[ @click=app.quit]x[/] [$v] [/", other="$name\x1b")
    assert content.plain == "[ @click=app.quit]x[/] [$v] [/ $name␛"
    assert [span.style for span in content.spans] == ["b"]
    assert literal("[b]x\u202e").plain == "[b]x⟨U+202E⟩" and not literal("[b]x").spans


@pytest.mark.asyncio
async def test_every_view_shows_hostile_names_literally(tmp_path):
    async with hostile(tmp_path, size=(160, 50)) as (app, pilot):
        text = shown(app)
        visible_names(app, text, [HOST, *NAMES.values()])
        assert one_line(ERROR) in text and "[b]not bold[/b]" in text  # one line, tags as text
        rows = [line for line in text.splitlines() if line.startswith((" 日本語", " ␍web06"))]
        assert len(rows) == 2 and len({cell_len(row[:row.index("--b---")]) for row in rows}) == 1  # aligned
        for key in "vnb":
            await pilot.press(key)  # the detail pane: vCPU, NIC and disk lines of the selected domain
        select(app, OSC)
        await pilot.pause()
        assert f"{visible(OSC)}\n" in app.query_one("#detail").render().plain + "\n"
        for keys, names in ((["enter"], [OSC]), (["1"], [HOST, *NAMES.values()]), (["h"], [OSC]), (["H"], [HOST]),
                            (["f1"], []), (["c"], []), (["x"], [OSC])):
            await pilot.press(*keys)
            await pilot.pause()
            visible_names(app, shown(app), names)
            await pilot.press("escape")
            await pilot.pause()
        assert app.screen is app.screen_stack[0]


@pytest.mark.asyncio
async def test_a_click_on_a_hostile_name_runs_nothing(tmp_path, monkeypatch):
    """On main before the door, each of these clicks ran app.screenshot('o.svg') (as root, in a read-only session)."""
    app = hostile_app(tmp_path)
    ran: list[str] = []
    monkeypatch.setattr(app, "action_screenshot", lambda *a, **k: ran.append("screenshot"))
    async with app.run_test(size=(120, 40)) as pilot:
        show(app)
        await pilot.pause()
        select(app, CLICK)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ActionMenu), "the action menu")
        title = app.screen.query_one(Label)
        assert visible(CLICK) in title.render().plain
        for x in range(title.size.width):
            await pilot.click(title, offset=(x, 0))
        await pilot.pause()
        assert ran == []


@pytest.mark.asyncio
async def test_typed_markup_and_pasted_controls_are_text(tmp_path):
    async with hostile(tmp_path) as (app, pilot):
        await pilot.press("slash", *"[b", "enter")  # used to end the app with a MarkupError
        await pilot.pause()
        assert app.view.filter_text == "[b" and "filter: [b" in shown(app)
        shown_names = [v.name for v in app.view.visible(app.snapshot.domains, app.context)]
        assert shown_names == ["[b"]  # filters on the raw name
        assert any("'[b' is not a regular expression" in m for m in messages(app))
        await pilot.press("slash")
        prompt = app.screen.query_one(Input)
        prompt.value = ""
        prompt.post_message(events.Paste("web\x1b]0;owned\x07"))
        await pilot.pause()
        assert prompt.value == ""  # refused whole: a prompt never echoes a control character
        await pilot.press("escape")


@pytest.mark.asyncio
async def test_destroy_asks_for_the_name_as_shown_and_reports_a_hostile_error_as_one_line(tmp_path):
    async with hostile(tmp_path, write=True, selected=OSC) as (app, pilot):
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the destroy confirmation")
        text = shown(app)
        assert f"Destroy (force off) {visible(OSC)}?" in text and "type it as shown" in text
        app.screen.query_one(Input).value = "web02"  # what the name imitates: refused
        await pilot.press("enter")
        await until(pilot, lambda: any("cancelled" in m for m in messages(app)), "cancelled")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the destroy confirmation again")
        app.screen.query_one(Input).value = visible(OSC)
        await pilot.press("enter")
        await until(pilot, lambda: any("internal error" in m for m in messages(app)), "the error")
        error = next(m for m in messages(app) if "internal error" in m)
        assert error == f"destroy {visible(OSC)}: libvirt: internal error␊  ␛]0;owned␇ [b]not bold[/b]"
        assert "[b]not bold[/b]" in shown(app)  # the toast: markup shown as text


@pytest.mark.asyncio
async def test_yes_no_balloon_and_pin_dialogs_show_the_name_literally(tmp_path):
    async with hostile(tmp_path, write=True, selected=CLICK) as (app, pilot):
        for key, says in (("o", f"Shut down (ACPI) {visible(CLICK)}?"), ("m", f"Balloon memory for {visible(CLICK)}")):
            await pilot.press(key)
            await pilot.pause()
            assert says in shown(app)
            await pilot.press("escape")
        await pilot.press("enter", "p")  # the vCPU view, then pin: the prompt names the domain
        await pilot.pause()
        assert f"of {visible(CLICK)} to pCPUs:" in shown(app)


class LosingSource(HostileSource):
    """Answers twice, then fails with a hostile, multi-line libvirt message."""

    calls = 0

    def collect(self):
        self.calls += 1
        if self.calls > 2:
            raise SourceError(ERROR)
        return super().collect()


@pytest.mark.asyncio
async def test_a_lost_connection_says_the_hostile_message_on_one_line(tmp_path):
    async with running_app(LosingSource(count=12), settings=config.Settings(delay=0.2), config_path=tmp_path / "c.toml",
                           prime=0.0, poll=True) as (app, pilot):
        await until(pilot, lambda: app.lost is not None and app.snapshot is not None, "the connection lost")
        await pilot.pause()
        text = shown(app)
        assert "connection lost: libvirt: internal error␊  ␛]0;owned␇ [b]not bold[/b]; retrying in" in text
        assert "STALE" in text


@pytest.mark.asyncio
async def test_a_megabyte_message_is_cut_before_it_reaches_the_screen(tmp_path):
    """A recording's or a hypervisor's words may be megabytes long: a notification keeps the first 400."""
    from xentui.ui.app import NOTIFY_MAX

    async with hostile(tmp_path) as (app, pilot):
        app.notify("tick 9: " + "x" * 1_000_000, title="y" * 10_000)
        await pilot.pause()
        (note,) = [n for n in app._notifications if n.message.startswith("tick 9")]
        assert len(note.message) == NOTIFY_MAX + 1 and note.message.endswith("x…")
        assert len(note.title) == NOTIFY_MAX
