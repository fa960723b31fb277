"""Replay in the live view: header says so, keys move the recording, actions are off, history follows."""

from __future__ import annotations

import time

import pytest

from tests.recordings import write
from tests.ui.harness import messages, running_app
from tests.ui.waiting import until
from xentui import config
from xentui.recording.player import ReplayPlayer
from xentui.sources.synthetic import SyntheticSource


def recording(path, ticks: int = 40, domains: int = 4):
    source = SyntheticSource(count=domains)
    return write(path, [source.collect() for _ in range(ticks)], source.uri)


@pytest.fixture
def player(tmp_path, monkeypatch) -> ReplayPlayer:
    """A 40-tick recording of 4 synthetic domains, ready to play."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return ReplayPlayer.open(recording(tmp_path / "r.xtrec.gz"))


def replaying(player: ReplayPlayer, size: tuple[int, int], **opts):
    """The app playing ``player`` under Pilot (its replay loop running, as in ``xentui --replay``)."""
    return running_app(player.source, player=player, size=size, poll=True, **opts)


async def settled(pilot, app) -> None:
    """Until the replay loop (a worker thread makes the snapshots) shows the current position."""
    await until(pilot, lambda: app.snapshot is not None and app.snapshot.seq == app.replaying.index + 1,
                "the replay showing its position")
    await pilot.pause()


def header_text(app) -> str:
    return app.query_one("#host").text


@pytest.mark.asyncio
async def test_replay_keys(player):
    src = player
    async with replaying(player, (140, 40)) as (app, pilot):
        await settled(pilot, app)
        assert "REPLAY" in header_text(app) and "actions off" in header_text(app)
        await pilot.press("space")  # pause
        await settled(pilot, app)
        assert not src.playing
        at = src.index
        await pilot.press("full_stop", "full_stop")
        await settled(pilot, app)
        assert src.index == at + 2 and app.snapshot.seq == at + 3
        await pilot.press("comma")
        await settled(pilot, app)
        assert src.index == at + 1
        await pilot.press("right_square_bracket")
        await settled(pilot, app)
        assert src.index == at + 11 and not src.playing
        await pilot.press("left_square_bracket")
        await settled(pilot, app)
        assert src.index == at + 1
        assert len(app.history.times()) == src.index + 1  # history as it was at that point
        await pilot.press("plus", "plus")
        await settled(pilot, app)
        assert src.speed == 4.0
        await pilot.press("minus")
        await settled(pilot, app)
        assert src.speed == 2.0
        await pilot.press("end")
        await settled(pilot, app)
        assert src.at_end and "END" in header_text(app)
        await pilot.press("home")
        await settled(pilot, app)
        assert src.index == 0
        at = src.index
        await pilot.press("x", "k", "p", "full_stop")  # actions: none fires, no dialog opens ...
        await until(pilot, lambda: src.index == at + 1, "the step pressed after them")  # ... keys handled
        await settled(pilot, app)
        assert app.screen is app.screen_stack[0]


@pytest.mark.asyncio
async def test_replay_plays_at_the_recorded_pace_times_speed(player):
    src = player
    src.speed = 64.0  # 1 s ticks -> ~16 ms
    async with replaying(player, (120, 30)) as (app, pilot):
        start, began = src.index, time.monotonic()
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.seq > start + 6, "six ticks shown")
        took = time.monotonic() - began
        assert 5 / 64 <= took < 3.0, f"six 1 s ticks at 64x took {took:.2f} s"  # never faster; far from 6 s


@pytest.mark.asyncio
async def test_cpu_sparkline_column_follows_the_history(player):
    async with replaying(player, (160, 40)) as (app, pilot):
        await pilot.press("space")
        await settled(pilot, app)
        for _ in range(12):
            await pilot.press("full_stop")
            await settled(pilot, app)
        assert "cpu_hist" in app.table.shown
        web = next(v for v in app.snapshot.domains if v.name == "web")  # ~97 % of its one vCPU
        idle = next(v for v in app.snapshot.domains if v.name == "cache")  # ~3 % of each of 3 vCPUs
        spark = app.table.cell_text(web.uuid, "cpu_hist")
        assert len(spark) == 12 and set(spark) <= {"▇", "█"}
        assert app.table.cell_text(idle.uuid, "cpu_hist") == "▁" * 12
        await pilot.press("home")  # seek: the history is the recording's up to there (one tick, no rates)
        await settled(pilot, app)
        assert app.table.cell_text(web.uuid, "cpu_hist").strip() == ""


@pytest.mark.asyncio
async def test_chart_screens_draw_the_history_while_shown(player):
    from xentui.ui.views.charts import Chart, DomainChartsScreen, HostChartsScreen

    src = player
    async with replaying(player, (160, 48)) as (app, pilot):
        await pilot.press("space", *["full_stop"] * 20)
        await settled(pilot, app)
        await pilot.press("h")
        await settled(pilot, app)
        assert isinstance(app.screen, DomainChartsScreen)
        await pilot.pause()
        charts = list(app.screen.query(Chart))
        assert len(charts) == 6
        text = "\n".join(str(c.render()) for c in charts)
        assert "CPU % per vCPU" in text and "Memory (MiB)" in text and "Network" in text and "Disk" in text
        assert "LLC occupancy: none" in text and "Memory bandwidth: none" in text  # the title says why
        title = str(app.screen.query_one("#charts-title").render())
        assert "last 22 updates" in title
        screen = app.screen
        calls = []
        screen.show = lambda snap: calls.append(snap)  # redrawn while shown ...
        await pilot.press("full_stop")
        await settled(pilot, app)
        assert len(calls) == 1
        await pilot.press("escape", "H")
        await settled(pilot, app)
        assert isinstance(app.screen, HostChartsScreen)
        await pilot.press("full_stop")
        await settled(pilot, app)
        assert len(calls) == 1  # ... and not once it is closed
        assert src.index == 23


@pytest.mark.asyncio
async def test_demo_standing_in_for_a_failed_connection_says_so(player):
    player.demo = True
    player.fallback = "cannot connect to 'qemu:///system': Failed to connect socket"
    async with replaying(player, (120, 30)) as (app, pilot):
        await settled(pilot, app)
        text = header_text(app)
        assert "REPLAY" in text and "demo: recorded from real lab guests" in text
        assert "the bundled demo, not this host: cannot connect to 'qemu:///system'" in text


@pytest.mark.asyncio
async def test_record_while_watching_writes_each_frame_shown(tmp_path, monkeypatch):
    """--record FILE: the live view's feed taps a Recorder; after quitting, the file replays every frame shown."""
    from xentui.recording.reader import load
    from xentui.recording.writer import Recorder

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    path = tmp_path / "watched.xtrec.gz"
    source = SyntheticSource(count=3)
    recorder = Recorder(path, source.uri, 0.2)
    async with running_app(source, size=(120, 30), notifications=True, poll=True, settings=config.Settings(delay=0.2),
                           recorder=recorder) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.seq >= 5, "five frames shown")
        assert any("recording to" in m for m in messages(app))
        await pilot.press("q")
    shown = app.snapshot.seq
    recorder.close()
    recording = load(path)
    assert shown <= len(recording) <= shown + 1  # + the collection in flight at the quit
    assert [d.name for d in recording.sample(shown - 1).domains] == [v.name for v in app.snapshot.domains]


@pytest.mark.asyncio
async def test_a_recording_that_fails_stops_with_one_notification_and_the_view_goes_on(tmp_path, monkeypatch):
    """--record FILE on a disk that fills: one notification, the recording stops, the ticks keep coming."""
    import errno

    from xentui.recording.writer import Recorder

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    source = SyntheticSource(count=3)
    recorder = Recorder(tmp_path / "full.xtrec.gz", source.uri, 0.2)
    writes, write = [], recorder._write  # the tick lines, after the header

    def fill(line):
        writes.append(line)
        if len(writes) >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        write(line)

    monkeypatch.setattr(recorder, "_write", fill)
    async with running_app(source, size=(120, 30), notifications=True, poll=True, settings=config.Settings(delay=0.2),
                           recorder=recorder) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.seq >= 5, "five frames shown")
        stopped = [m for m in messages(app) if "stopped" in m]
        assert stopped == ["recording to " + str(recorder.path) + " stopped: No space left on device (1 ticks kept)"]
        assert len(writes) == 2  # no write after the failure
        await pilot.press("q")


@pytest.mark.asyncio
async def test_a_seek_while_a_tick_is_decoded_rebuilds_the_history_for_the_new_position(player):
    """The seek is pressed while the player decodes the next tick: that tick is still shown in order, then the
    history is rebuilt for the new position; its times never go backwards."""
    import threading

    src = player
    src.speed = 64.0
    decoding, release, snapshot = threading.Event(), threading.Event(), src.snapshot

    def slow_snapshot(index):
        if index == 10 and not release.is_set():
            decoding.set()
            release.wait(10)
        return snapshot(index)

    src.snapshot = slow_snapshot
    async with replaying(player, (120, 30)) as (app, pilot):
        await until(pilot, decoding.is_set, "the player decoding tick 11")
        await pilot.press("home")  # to the first tick, while tick 11 is being made
        release.set()
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.seq < 10, "the first ticks shown")
        times = app.history.times()
        assert len(times) == app.snapshot.seq and times == sorted(set(times)), times


@pytest.mark.asyncio
async def test_a_damaged_tick_met_while_rebuilding_the_history_is_said_and_pauses(tmp_path, monkeypatch):
    import gzip

    import xentui.recording.reader as reader_mod

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setattr(reader_mod, "EAGER_DOMAIN_TICKS", 10)  # large: ticks decoded when shown
    path = recording(tmp_path / "big.xtrec.gz", ticks=30, domains=2)
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    lines[4] = lines[4].replace(b'"f":', b'"f":-', 1)  # tick 4: a negative free memory
    path.write_bytes(gzip.compress(b"".join(lines)))
    player = ReplayPlayer.open(path)
    player.index = 20  # shown first: the history before it is rebuilt, through the damaged tick
    async with replaying(player, (120, 30), notifications=True) as (app, pilot):
        await until(pilot, lambda: any("tick 4" in m for m in messages(app)), "the damage said")
        await until(pilot, lambda: app.snapshot is not None, "the tick shown")
        assert not player.playing and app.snapshot.seq == 21
