"""The live feed prepares each snapshot's frame in the poller's thread (xentui/ui/controllers/connection.py): the
history has the tick and the table shows the rows prepared there, in the same order the loop would compute."""

from __future__ import annotations

import threading

import pytest

from tests.ui.fleet_source import synthetic_fleet
from tests.ui.harness import running_app
from tests.ui.waiting import until
from xentui import config
from xentui.model import Snapshot
from xentui.ui import columns as cols
from xentui.ui import frame
from xentui.ui.state import ViewState


@pytest.mark.asyncio
async def test_the_live_feed_prepares_each_frame_in_the_pollers_thread(monkeypatch):
    source = synthetic_fleet(8, 25)
    threads: list[str] = []
    prepared: dict[int, frame.Rows] = {}  # by the snapshot's seq: the rows computed in the poller's thread
    original = frame.prepare

    def prepare(snapshot: Snapshot, view: ViewState, ctx: cols.Context) -> None:
        threads.append(threading.current_thread().name)
        original(snapshot, view, ctx)
        prepared[snapshot.seq] = frame.rows(snapshot, view, ctx)  # what it just computed (memoised)

    monkeypatch.setattr(frame, "prepare", prepare)
    settings = config.Settings(delay=0.2, sort="cpu_pct", reverse=True)
    async with running_app(source, size=(160, 40), settings=settings, poll=True) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.seq >= 3, "three ticks shown")
        # the very rows computed there: a loop that computed them again (another key) would show its own list
        await until(pilot, lambda: (rows := prepared.get(app.snapshot.seq)) is not None
                    and app.table.order is rows.keys, "the table shows the prepared rows")
        shot = app.snapshot
        assert app.history.last_seq >= shot.seq  # the history took the tick before it was shown
        assert [app.table.views[k] for k in app.table.order] == app.view.visible(shot.domains, app.context)
        assert threads and all(name != threading.main_thread().name for name in threads)
        assert app.table.row_count == 200
        app.view = app.view.filtered("node03")  # a view changed since: computed on the loop, as before
        await until(pilot, lambda: app.table.row_count == 25, "the filter applied at once")
    source.close()
