"""Every key of the live view, driven with Textual's Pilot on deterministic data."""

from pathlib import Path

import pytest
from textual.actions import parse
from textual.content import Content
from textual.widgets import Input

from tests.recordings import write
from tests.ui.harness import messages, running_app
from tests.ui.screen_read import help_text
from xentui import config
from xentui.recording.player import ReplayPlayer
from xentui.sources.synthetic import SyntheticSource
from xentui.ui import keys
from xentui.ui.dialogs.action_menu import ActionMenu
from xentui.ui.dialogs.columns import ColumnsScreen
from xentui.ui.dialogs.help import HelpScreen
from xentui.ui.dialogs.prompt import PromptScreen

from .harness import snapshots
from .waiting import until


def names(app) -> list[str]:
    table = app.table
    return [table.cell_text(uuid, "name") for uuid in table.order]


@pytest.mark.asyncio
async def test_rows_sorted_by_cpu_and_cursor_stays_on_its_domain(config_path):
    snaps = snapshots()
    async with running_app(size=(120, 40), config_path=config_path, snapshot=snaps[-1]) as (app, pilot):
        busiest = max(snaps[-1].domains, key=lambda v: v.rates.cpu_pct)
        assert names(app)[0] == busiest.name  # the busiest domain on top
        await pilot.press("down", "down")
        chosen = app.table.cursor_domain()
        for snap in snapshots(12, ticks=5)[2:]:  # numbers move, order changes
            app.snapshot = snap
            await pilot.pause()
            assert app.table.cursor_domain() == chosen
        assert app.table.row_count == len(snaps[-1].domains)


@pytest.mark.asyncio
async def test_vanished_domain_goes_and_new_one_comes(config_path):
    async with running_app(size=(120, 40), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        app.snapshot = snapshots(count=11)[-1]
        await pilot.pause()
        assert app.table.row_count == 11
        app.snapshot = snapshots(count=13)[-1]
        await pilot.pause()
        assert app.table.row_count == 13


@pytest.mark.asyncio
async def test_sort_keys_s_greater_less_and_invert(config_path):
    async with running_app(size=(160, 40), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        shown = app.table.shown
        start = shown.index("cpu_pct")
        await pilot.press("s")
        assert app.settings.sort == shown[start + 1]
        await pilot.press("greater_than_sign")
        assert app.settings.sort == shown[start + 2]
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign")
        assert app.settings.sort == shown[start - 1]
        await pilot.press("f6")
        assert app.settings.sort == "cpu_pct"
        chosen = app.table.cursor_domain()
        before = names(app)
        await pilot.press("i")
        assert app.table.cursor_domain() == chosen  # the cursor keeps its domain through a re-sort
        assert app.settings.reverse is False
        assert names(app)[-1] == before[0]  # inverted
        await until(pilot, lambda: config.load(app.config_path)[0].reverse is False, "reverse=false persisted")


@pytest.mark.asyncio
async def test_click_on_header_sorts_by_that_column(config_path):
    async with running_app(size=(120, 40), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        await pilot.click("DomainTable", offset=(2, 0))  # the NAME header
        assert app.settings.sort == "name" and app.settings.reverse is False
        assert names(app) == sorted(names(app), key=str.lower)
        await pilot.click("DomainTable", offset=(2, 0))
        assert app.settings.reverse is True


@pytest.mark.asyncio
async def test_filter_substring_regex_bad_regex_and_escape(config_path):
    async with running_app(size=(120, 40), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        await pilot.press("slash")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"web", "enter")
        assert set(names(app)) == {"web", "web-1"}
        await pilot.press("slash", *["backspace"] * 3, *"^d[bn]", "enter")
        assert set(names(app)) == {"db", "dns", "db-1"}
        await pilot.press("slash", *["backspace"] * 6, *"ci-(", "enter")  # not a regex: plain text
        assert names(app) == [] and app.view.filter_text == "ci-("
        await pilot.press("escape")  # first Esc clears the filter
        assert app.table.row_count == 12 and app.is_running


@pytest.mark.asyncio
async def test_cpu_mode_toggle(config_path):
    snaps = snapshots()
    async with running_app(size=(120, 40), config_path=config_path, snapshot=snaps[-1]) as (app, pilot):
        top = max(snaps[-1].domains, key=lambda v: v.rates.cpu_pct)
        cell = lambda: app.table.cell_text(top.uuid, "cpu_pct")  # noqa: E731
        assert cell() == f"{top.rates.cpu_pct:.1f}"
        await pilot.press("t")
        assert cell() == f"{top.rates.cpu_host_pct:.1f}" and app.settings.cpu_mode == "host"
        assert "% of the whole host" in str(app.query_one("#host").render())


@pytest.mark.asyncio
async def test_delay_prompt_good_and_bad(config_path):
    async with running_app(size=(120, 40), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        await pilot.press("d", *["backspace"] * 5, *"1.5", "enter")
        assert app.poller.delay == 1.5 and app.settings.delay == 1.5
        await pilot.press("D", *["backspace"] * 5, *"0.01", "enter")
        assert app.poller.delay == 1.5  # refused, with a notification
        assert any("0.2 to 3600" in m for m in messages(app))


@pytest.mark.asyncio
async def test_pause_freezes_the_table(config_path):
    async with running_app(size=(120, 40), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        await pilot.press("z")
        assert app.paused
        app.snapshot = snapshots(count=5)[-1]
        await pilot.pause()
        assert app.table.row_count == 12  # frozen
        await pilot.press("z")
        assert app.table.row_count == 5


@pytest.mark.asyncio
async def test_detail_lines_n_b_v_and_header_r(config_path):
    async with running_app(size=(120, 40), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        detail = app.query_one("#detail")
        assert not detail.display or detail.has_class("-hidden")
        await pilot.press("v")
        assert "VCPUs(sec):" in str(detail.render())
        await pilot.press("n", "b")
        text = str(detail.render())
        assert "Net0 RX:" in text and "VBD vda" in text
        await pilot.press("v", "n", "b")
        assert detail.has_class("-hidden")
        await pilot.press("r")
        assert app.table.show_header is False
        await pilot.press("R")
        assert app.table.show_header is True


def rows_of(active) -> set[tuple[str, str]]:
    """(key as shown, its help) of every keymap binding the screen has active."""
    return {(keys.display(k), b.binding.tooltip) for k, b in active.items()
            if b.binding.id in keys.BY_ID and b.binding.tooltip}


async def help_matches_active_bindings(app, pilot, key: str = "f1") -> set[tuple[str, str]]:
    active = dict(app.screen.active_bindings)
    await pilot.press(key)
    assert isinstance(app.screen, HelpScreen)
    lines = [line.strip() for line in help_text(app).splitlines()]
    wanted = rows_of(active)
    for shown, what in wanted:  # every active key is on the line of its help text
        line = next((line for line in lines if line.endswith(what)), None)
        assert line is not None and shown in line[: -len(what)].split(), (shown, what)
    listed = {line[: -len(what)].strip() for line in lines for what in {w for _k, w in wanted} if line.endswith(what)}
    assert all(set(keys_shown.split()) <= {k for k, _w in wanted} for keys_shown in listed)  # nothing inactive
    await pilot.press("escape")
    return wanted


@pytest.mark.asyncio
async def test_help_lists_every_active_key(config_path):
    async with running_app(size=(120, 50), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        wanted = await help_matches_active_bindings(app, pilot)
        assert ("q", keys.QUIT_HELP) in wanted and ("Esc", keys.QUIT_HELP) in wanted
        assert not any(what.startswith("replay:") for _k, what in wanted)  # live: no replay keys
        await help_matches_active_bindings(app, pilot, "question_mark")


@pytest.mark.asyncio
async def test_help_in_a_replay_lists_the_replay_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    source = SyntheticSource(count=3)
    recording = write(tmp_path / "r.xtrec.gz", [source.collect() for _ in range(5)], source.uri)
    player = ReplayPlayer.open(recording)
    async with running_app(player.source, player=player, size=(120, 50), poll=False) as (app, pilot):
        wanted = await help_matches_active_bindings(app, pilot)
        assert ("Space", "replay: play / pause") in wanted and ("Home", "replay: first / last tick") in wanted
        assert not any(what == "pause / resume the domain" for _k, what in wanted)  # actions are off


@pytest.mark.asyncio
async def test_keys_rebound_by_id_in_the_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    settings = config.Settings(keys=(("help", "f5"), ("nope", "x"), ("quit", "ctrl+shift+wat")))
    async with running_app(size=(120, 50), settings=settings, snapshot=snapshots()[-1]) as (app, pilot):
        assert any("[keys] 'nope': no such key binding" in m for m in messages(app))
        assert any("[keys] quit = 'ctrl+shift+wat'" in m and "is not a key" in m for m in messages(app))
        await pilot.press("f1")
        assert not isinstance(app.screen, HelpScreen)  # rebound
        await help_matches_active_bindings(app, pilot, "f5")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "q still quits (its entry was refused)")


async def every_binding_fires(app, pilot, mode: str) -> int:
    """Each key of each keymap id on in ``mode`` runs that id's action (recorded, not run); the presses."""
    fired: list[str] = []

    async def record(action: str, default_namespace=None, namespaces=None) -> bool:
        _target, name, params = parse(action)
        if not (default_namespace or app).check_action(name, params):
            return False  # off (e.g. a replay key in the live view): the next binding on the key is tried
        fired.append(action)
        return True

    app.run_action = record
    on = [k for k in keys.KEYMAP if mode in k.modes]
    presses = 0
    for k in on:
        for key in keys.keys_of(k.id, app.keymap):
            owners = {o.binding.action for o in on if key in keys.keys_of(o.id, app.keymap)}
            fired.clear()
            await pilot.press(key)
            presses += 1
            await until(pilot, lambda: fired, f"{key} ({k.id}) ran nothing in the {mode} view")
            assert fired == [k.binding.action] if len(owners) == 1 else fired[0] in owners, (k.id, key, fired)
    return presses


async def replaying(tmp_path, keymap: dict[str, str]):
    source = SyntheticSource(count=3)
    player = ReplayPlayer.open(write(tmp_path / "r.xtrec.gz", [source.collect() for _ in range(3)], source.uri))
    return running_app(player.source, player=player, size=(120, 50), poll=False,
                       settings=config.Settings(keys=tuple(keymap.items())))


REBOUND = [{"replay_toggle": "P"}, {"tag": "T"}, {"quit": "t"},  # each shares its old or new key with other ids
           {"delay": "+", "untag": "-", "help": "F5", "repaint": "ctrl+Q", "detail_vcpus": "plus_sign"}]


@pytest.mark.asyncio
@pytest.mark.parametrize("keymap", REBOUND, ids=lambda km: ",".join(km))
async def test_rebinding_one_id_keeps_every_other_binding(tmp_path, monkeypatch, keymap):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    settings = config.Settings(keys=tuple(keymap.items()))
    async with running_app(size=(120, 50), settings=settings, snapshot=snapshots()[-1]) as (app, pilot):
        refused = [m for m in messages(app) if m.startswith("[keys]")]
        assert set(app.keymap) | {m.split()[1] for m in refused} == set(keymap)  # each applied or refused
        assert await every_binding_fires(app, pilot, "live") > 40
    async with await replaying(tmp_path, keymap) as (app, pilot):
        assert await every_binding_fires(app, pilot, "replay") > 30


@pytest.mark.asyncio
async def test_a_key_already_another_ids_is_refused_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    settings = config.Settings(keys=(("quit", "t"), ("sort", "shift+s")))
    async with running_app(size=(120, 50), settings=settings, snapshot=snapshots()[-1]) as (app, pilot):
        assert app.keymap == {}
        assert ("[keys] quit = 't': t is already cpu_mode's key, so quit keeps q, Q "
                "(rebind cpu_mode too, or choose a free key)") in messages(app)
        assert any(m.startswith("[keys] sort = 'shift+s'") and 'write "S"' in m for m in messages(app))
        await pilot.press("t")
        await until(pilot, lambda: app.view.cpu_mode == "host", "t still toggles the CPU mode")


@pytest.mark.asyncio
async def test_the_menu_key_and_the_attach_hint_follow_the_keymap(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    settings = config.Settings(keys=(("menu", "y"), ("cache_monitor", "ctrl+a"), ("cpu_mode", "C")))
    source = SyntheticSource(count=4, cache=True)  # the fourth domain: not attached
    async with running_app(source, size=(200, 50), settings=settings, poll=True) as (app, pilot):
        unattached = "build"  # i % 4 == 3
        await until(pilot, lambda: app.snapshot is not None and unattached in names(app), "first data")
        assert app.table.cell_text(app.table.order[names(app).index(unattached)], "llc") == "press Ctrl+A"
        header = app.query_one("#host").text
        assert "not attached: press Ctrl+A to attach" in header and "(C toggles)" in header
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ActionMenu), "the menu on its rebound key")
        await pilot.press("y")  # the same key closes it
        await until(pilot, lambda: not isinstance(app.screen, ActionMenu), "the menu closed by its own key")
        await pilot.press("x")
        assert not isinstance(app.screen, ActionMenu)  # the old key is free


def test_the_readme_key_table_names_every_help_key():
    """The README's key table cannot drift: each key the help lists is in it (as `key` or a plain name)."""
    table = (Path(__file__).parents[2] / "README.md").read_text().split("| key | does |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    cells = {cell.strip("` ,") for line in rows for cell in line.split("|")[1].split()}
    live = [k for k in keys.APP_KEYS + keys.TABLE_KEYS if k.binding.tooltip and k.id != "repaint"]
    missing = {keys.display(key) for k in live for key in keys.keys_of(k.id)} - cells
    assert not missing, f"README key table lacks {sorted(missing)}"


@pytest.mark.asyncio
async def test_choose_columns_and_persist(config_path):
    async with running_app(size=(160, 40), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        assert "mem_pct" in app.table.shown
        await pilot.press("c")
        assert isinstance(app.screen, ColumnsScreen)
        # MEM(%): after STATE, CPU(%), CPU HISTORY, CPU(sec), MEM
        await pilot.press("down", "down", "down", "down", "down", "space")
        await pilot.press("enter")
        assert "mem_pct" not in app.table.shown
        await until(pilot, lambda: "mem_pct" not in config.load(app.config_path)[0].columns, "columns persisted")


@pytest.mark.asyncio
async def test_narrow_terminal_drops_columns_by_priority(config_path):
    async with running_app(size=(80, 24), config_path=config_path, snapshot=snapshots()[-1]) as (app, _pilot):
        shown = app.table.shown
        assert shown[:3] == ("name", "state", "cpu_pct") and "mem" in shown
        width = sum(app.table.widths[k] + 2 for k in shown)
        assert width <= 78


@pytest.mark.asyncio
async def test_quit_keys(config_path):
    for key in ("q", "Q", "escape"):
        async with running_app(size=(80, 24), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
            await pilot.press(key)
            await pilot.pause()
            assert not app.is_running


@pytest.mark.asyncio
async def test_a_prompt_never_prefills_what_could_not_be_typed(config_path):
    """A prefill from outside (the scheduler view offers a cpupool's name) is shown raw by Input: an escape
    sequence or a bidi override there is dropped, plain text kept."""
    async with running_app(size=(120, 40), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        for value, shown in (("Pool-0", "Pool-0"), ("rt\x1b]0;owned\x07", ""), ("pool\u202egnp", "")):
            await app.push_screen(PromptScreen(Content("pool:"), value))  # mounted: its Input holds the prefill
            assert app.screen.query_one(Input).value == shown
            await pilot.press("escape")
