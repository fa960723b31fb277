"""Alerts in the live view (issue 19): the header's alert line, the firing rows' marks, the alerts view (`!`),
the bell on a new crit (never on a replay's jump), a fleet's hosts, hostile names."""

from __future__ import annotations

import dataclasses
import os

import pytest

from tests import hostile
from tests.factories import wait_for
from tests.recordings import write
from tests.ui.alert_support import FromTick, alert_on, board_over, named
from tests.ui.fleet_source import synthetic_fleet
from tests.ui.harness import collected, messages, running_app, snapshots
from tests.ui.screen_read import lines, row_of, shows_harmlessly
from tests.ui.test_keys import every_binding_fires, help_matches_active_bindings
from tests.ui.waiting import until
from xentui import config
from xentui.alerts import AlertEngine
from xentui.alerts.board import Alert, AlertBoard, Severity
from xentui.alerts.hooks import HookRunner
from xentui.alerts.rules import parse_rule
from xentui.model import build_snapshot
from xentui.recording.player import ReplayPlayer
from xentui.sources.synthetic import SyntheticSource
from xentui.ui.views.alerts import LISTED, AlertsScreen

SIZE = (140, 40)


def header(app) -> str:
    return app.query_one("#host").text


async def shown(pilot, app, board: AlertBoard, snapshot) -> None:
    """``board`` reaches the app with its snapshot, as the feed gives them."""
    app.alerts.take(board)
    app.snapshot = snapshot
    await pilot.pause()


@pytest.mark.asyncio
async def test_header_line_says_counts_and_the_newest_and_nothing_when_none(config_path):
    snap = snapshots()[-1]
    async with running_app(size=SIZE, config_path=config_path, snapshot=snap) as (app, pilot):
        before = header(app)
        assert "ALERTS" not in before
        await shown(pilot, app, board_over(snap), snap)
        text = header(app).splitlines()
        assert text[1].startswith(" ALERTS  1 crit, 1 warn  newest: cpu-hot build since "), text
        assert "(2m 05s)" in text[1] and text[1].endswith("(!: the alerts)")
        assert text[0] == before.splitlines()[0] and text[2:] == before.splitlines()[1:]  # one line more, only
        await shown(pilot, app, AlertBoard(problems=("rule 'x': when: unknown figure 'cpu'",)), snap)
        assert header(app).splitlines()[1] == " ALERTS  0 crit, 0 warn  1 rule problem  (!: the alerts)"
        await shown(pilot, app, AlertBoard(resolved=board_over(snap).resolved), snap)
        assert header(app) == before  # only resolved: no line


@pytest.mark.asyncio
async def test_firing_rows_marked_with_a_bang_and_the_level_colour(config_path):
    snap = snapshots()[-1]
    async with running_app(size=SIZE, config_path=config_path, snapshot=snap) as (app, pilot):
        plain = row_of(app, "build")
        await shown(pilot, app, board_over(snap), snap)
        app.table.action_move(1000)  # the cursor off the marked rows: their level colours are drawn
        await pilot.pause()
        crit, warn, quiet = row_of(app, "build"), row_of(app, "db"), row_of(app, "web")
        assert plain.text.startswith(" build") and crit.text.startswith("!build") and warn.text.startswith("!db")
        assert quiet.text.startswith(" web")  # resolved: no mark
        styles = {n: next(s.style for s in strip if n in s.text) for n, strip in (("build", crit), ("db", warn))}
        theme = app.current_theme.variables
        assert styles["build"].color.name == theme["level-crit"].lower() and styles["build"].bold
        assert styles["db"].color.name == theme["level-warn"].lower()


@pytest.mark.asyncio
async def test_no_color_and_high_contrast_themes_keep_the_mark(config_path):
    snap = snapshots()[-1]
    for theme in ("no-color", "high-contrast"):
        async with running_app(size=SIZE, config_path=config_path, snapshot=snap) as (app, pilot):
            app.theme = theme
            await shown(pilot, app, board_over(snap), snap)
            assert row_of(app, "build").text.startswith("!build"), theme
            assert "ALERTS  1 crit" in header(app)


@pytest.mark.asyncio
async def test_the_view_lists_firing_resolved_and_problems_and_enter_selects_the_domain(config_path):
    snap = snapshots()[-1]
    async with running_app(size=SIZE, config_path=config_path, snapshot=snap) as (app, pilot):
        await pilot.press("exclamation_mark")
        assert not isinstance(app.screen, AlertsScreen)  # no rule: the key is off
        app.alerts.engine = FromTick("nobody", at=10**9)  # rules configured (none fires here)
        await shown(pilot, app, board_over(snap, problems=("rule 'bad': for: \"soon\" is not a duration",)), snap)
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen), "the alerts view open")
        text = "\n".join(lines(app))
        assert "2 firing, 1 resolved lately, 1 rule refused" in text
        rows = [line for line in text.splitlines() if "firing" in line or "resolved " in line]
        assert "CRIT" in rows[1] and "cpu-hot" in rows[1] and "build" in rows[1] and "2m 05s" in rows[1]
        build = named(snap, "build")
        assert f"cpu_pct={build.rates.cpu_pct:.1f} vcpus={build.sample.vcpus_current}" in rows[1]
        assert "WARN" in rows[2] and "steal" in rows[2] and "1h 02m" in rows[2] and "steal_pct=23.5" in rows[2]
        assert "resolved" in rows[3] and "mem-high" in rows[3] and "10m 00s" in rows[3]  # it held 10 minutes
        assert "rule refused: rule 'bad': for: \"soon\" is not a duration" in text
        detail = app.screen.query_one("#alerts-detail")
        assert lines(app, detail)[0].strip().startswith("cpu-hot (crit) on domain build: firing since ")
        await pilot.press("down", "down")
        await until(pilot, lambda: "resolved" in lines(app, detail)[0], "the resolved alert's detail")
        assert lines(app, detail)[0].strip().endswith("resolved 11:01:42, held 10m 00s from 10:51:42")
        assert lines(app, detail)[1].strip() == "values: mem_pct=96.0"
        await pilot.press("up", "up")
        await pilot.press("down", "enter")  # the warn on db
        await until(pilot, lambda: app.selected() is not None and app.selected().name == "db", "db selected")
        assert not isinstance(app.screen, AlertsScreen)
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen), "the alerts view open again")
        await pilot.press("exclamation_mark")  # its own key closes it
        await until(pilot, lambda: not isinstance(app.screen, AlertsScreen), "the view closed by !")
        app.view = app.view.filtered("^web")
        await pilot.pause()
        await pilot.press("exclamation_mark", "down", "enter")  # db is filtered out
        await until(pilot, lambda: any("db is not in the table now" in m for m in messages(app)), "said why not")


@pytest.mark.asyncio
async def test_the_key_is_in_the_keymap_and_the_help_once_rules_exist(config_path):
    async with running_app(size=(120, 50), config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        app.alerts.engine = FromTick("nobody", at=10**9)
        wanted = await help_matches_active_bindings(app, pilot)
        assert any(key == "!" and what.startswith("alerts:") for key, what in wanted)
        assert await every_binding_fires(app, pilot, "alerts") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(("bell", "severity", "rings"), [(True, Severity.CRIT, 1), (False, Severity.CRIT, 0),
                                                         (True, Severity.WARN, 0)])
async def test_bell_on_a_new_crit_from_the_live_feed(config_path, bell, severity, rings):
    """The engine runs in the poller's thread (Connection.prepare); the bell rings once, when the alert fires."""
    async with running_app(SyntheticSource(count=6), size=SIZE, config_path=config_path, poll=True,
                           prime=0.0) as (app, pilot):
        rung: list[int] = []
        app.bell = lambda: rung.append(app.snapshot.seq if app.snapshot else 0)
        engine = FromTick("build", at=0, severity=severity)
        app.alerts.engine, app.alerts.bell = engine, bell
        await until(pilot, lambda: len(engine.evaluated) >= 3 and app.alerts.board.firing, "three ticks evaluated")
        assert len(rung) == rings
        assert row_of(app, "build").text.startswith("!build")


@pytest.mark.asyncio
async def test_replay_rings_when_played_through_never_on_a_jump(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    source = SyntheticSource(count=4)
    player = ReplayPlayer.open(write(tmp_path / "r.xtrec.gz", [source.collect() for _ in range(30)], source.uri))
    player.playing = False
    async with running_app(player.source, player=player, size=SIZE, poll=True) as (app, pilot):
        rung: list[int] = []
        app.bell = lambda: rung.append(player.index)
        engine = FromTick("build", at=6)
        app.alerts.engine = engine

        async def at(index: int) -> None:
            await until(pilot, lambda: app.snapshot is not None and app.snapshot.seq == index + 1
                        and index + 1 in engine.evaluated, f"tick {index} shown")

        player.seek(0)
        await at(0)
        player.seek(5)  # a jump onto the tick where it fires (seq 6): not news
        await at(5)
        assert app.alerts.board.firing and app.alerts.board.fired_now and rung == []
        assert row_of(app, "build").text.startswith("!build")
        player.seek(20)  # forward: the engine restarted on the ticks before, still firing, no bell
        await at(20)
        assert app.alerts.board.firing and rung == []
        player.seek(1)  # back before it fired: resolved by the restart
        await at(1)
        assert not app.alerts.board.firing
        for index in range(2, 8):  # played through, one tick after the other: the bell, once
            player.step(1)
            await at(index)
        assert rung == [5]


@pytest.mark.asyncio
async def test_fleet_subjects_carry_their_host_and_the_view_shows_host(config_path):
    fleet = synthetic_fleet(3, 4)
    collected(fleet)
    snap = collected(fleet, ticks=1)[-1]
    views = [v for v in snap.domains if v.name == "build"]
    assert len({v.host for v in views}) == 3  # one build per host
    board = AlertBoard(firing=(alert_on(views[1], "cpu-hot", Severity.CRIT, snap.wall - 5, snap.wall),))
    async with running_app(fleet, size=SIZE, config_path=config_path, snapshot=snap) as (app, pilot):
        app.alerts.engine = FromTick("nobody", at=10**9)
        await shown(pilot, app, board, snap)
        assert f"newest: cpu-hot {views[1].host}/build since" in header(app)
        marked = [k for k in app.table.order if app.table.render_line(
            app.table.order.index(k) + app.table.header_lines).text.startswith("!")]
        assert marked == [views[1].key]  # only that host's build
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen), "the alerts view open")
        text = "\n".join(lines(app))
        heading = next(line for line in text.splitlines() if "SUBJECT" in line).split()
        row = next(line for line in text.splitlines() if "CRIT" in line).split()
        assert heading[3:5] == ["HOST", "SUBJECT"] and row[3:5] == [views[1].host, "build"]
        assert f"cpu-hot (crit) on domain build on host {views[1].host}: firing since" in text


@pytest.mark.asyncio
async def test_hostile_names_stay_literal_in_the_header_and_the_view(config_path):
    names = [hostile.NAMES[k] for k in ("markup-click", "markup-link", "csi-colour", "osc-title", "newline")]
    source = SyntheticSource(count=len(names))
    raws = [source.collect() for _ in range(2)]
    raws = [dataclasses.replace(r, domains=tuple(dataclasses.replace(d, name=n) for d, n in zip(r.domains, names,
                                                                                                strict=True)))
            for r in raws]
    snap = build_snapshot(raws[0], raws[1], 2)
    now = snap.wall
    rules = ["[red]r[/red]", "\x1b]0;T\x07", "[@click=app.quit]", "a\nb", "[/"]
    alerts = tuple(alert_on(named(snap, n), rule, Severity.CRIT, now - 60, now - 1, ((n, "[b]crashed\x1b[0m"),))
                   for n, rule in zip(names, rules, strict=True))
    board = AlertBoard(firing=alerts, fired_now=alerts, problems=("rule '[b]x': \x1b[2J",))
    async with running_app(source, size=SIZE, config_path=config_path, snapshot=snap) as (app, pilot):
        app.alerts.engine = FromTick("nobody", at=10**9)
        await shown(pilot, app, board, snap)
        await shows_harmlessly(pilot, app, names[0], "[red]r[/red]", within=app.query_one("#host"),
                               what="the header's alert line")
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen), "the alerts view open")
        await shows_harmlessly(pilot, app, "[red]r[/red]", "[/", "rule '[b]x': \x1b[2J", what="the alerts view")
        for n, (name, rule) in enumerate(zip(names, rules, strict=True)):  # each highlighted: its detail, whole
            await shows_harmlessly(pilot, app, name, rule, f"{name}=[b]crashed\x1b[0m",
                                   within=app.screen.query_one("#alerts-detail"), what=f"the detail of alert {n}")
            await pilot.press("down")
        assert app.is_running


@pytest.mark.asyncio
async def test_the_view_lists_a_bounded_number(config_path):
    snap = snapshots()[-1]
    many = tuple(alert_on(named(snap, "build"), f"rule-{n}", Severity.WARN, snap.wall - n, snap.wall)
                 for n in range(LISTED + 100))
    async with running_app(size=SIZE, config_path=config_path, snapshot=snap) as (app, pilot):
        app.alerts.engine = FromTick("nobody", at=10**9)
        await shown(pilot, app, AlertBoard(firing=many), snap)
        assert header(app).splitlines()[1].startswith(f" ALERTS  0 crit, {LISTED + 100} warn  newest: rule-0 build")
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen), "the alerts view open")
        options = app.screen.query_one("#alerts-list")
        assert options.option_count == LISTED + 1
        assert "… 100 more not listed" in str(options.get_option_at_index(LISTED).prompt)


RULES = ({"name": "busy", "when": "cpu_pct > 200", "for": "0s", "severity": "crit", "exec": "/bin/true"},
         {"name": "bad", "when": "cpu_pct >", "for": "1s", "severity": "warn"})


@pytest.mark.asyncio
async def test_the_configured_rules_fire_in_the_live_view(config_path):
    """[[alert]] tables reach the live view: the engine (xentui.alerts) runs on each tick, a refused rule is
    told at start and counted in the header; no rules: no engine."""
    settings = config.Settings(alert=RULES, alerts=(("bell", False),))
    async with running_app(SyntheticSource(count=6), size=SIZE, config_path=config_path, poll=True, prime=0.0,
                           settings=settings) as (app, pilot):
        rung: list[int] = []
        app.bell = lambda: rung.append(1)
        await until(pilot, lambda: "newest: busy build" in header(app), "the rule fired")
        assert "1 rule problem" in header(app) and rung == []  # bell = false
        assert any("alert 'bad':" in m for m in messages(app))
        assert app.alerts.engine is not None and app.alerts.engine.hooks is not None  # exec: live only
        assert row_of(app, "build").text.startswith("!build")
    async with running_app(size=SIZE, config_path=config_path, snapshot=snapshots()[-1]) as (app, pilot):
        assert app.alerts.engine is None and not app.alerts.on


@pytest.mark.asyncio
async def test_a_replay_evaluates_the_rules_without_hooks(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    source = SyntheticSource(count=4)
    player = ReplayPlayer.open(write(tmp_path / "r.xtrec.gz", [source.collect() for _ in range(5)], source.uri))
    async with running_app(player.source, player=player, size=SIZE, poll=True,
                           settings=config.Settings(alert=RULES[:1])) as (app, pilot):
        await until(pilot, lambda: "newest: busy build" in header(app), "the rule fired in the replay")
        assert app.alerts.engine is not None and app.alerts.engine.hooks is None


@pytest.mark.asyncio
async def test_quitting_the_app_kills_the_hooks_under_way(config_path, tmp_path):
    pidfile = tmp_path / "hook.pid"
    rule = parse_rule({"name": "slow", "when": "stale", "exec": ["/bin/sh", "-c", f"echo $$ > {pidfile}; sleep 60"]}, 1)
    fired = Alert(rule="slow", severity=Severity.WARN, host="", domain_key="h/u", subject="web", since=1.0,
                  fired_at=1.0)
    async with running_app(SyntheticSource(count=2), size=SIZE, config_path=config_path) as (app, pilot):
        runner = HookRunner(tmp_path / "hooks.log", timeout_s=120)
        app.alerts.engine = AlertEngine((rule,), hooks=runner)
        runner.run(rule, fired)
        await until(pilot, lambda: pidfile.exists() and pidfile.read_text().strip().isdigit(), "the hook runs")
        pgid = int(pidfile.read_text())

    def group_gone() -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        return False
    wait_for(group_gone, "the hook's process group gone once the app quit", timeout=10)
