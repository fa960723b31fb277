"""The live connection: consumes the Poller's feed and tells the App what to show.

Snapshots go to ``app.snapshot``; :class:`~xentui.feed.Lost` sets ``app.lost`` (the header's alert,
the data shown is kept) and :class:`~xentui.feed.Back` clears it with a notification.  Back-off and
reconnection are the Poller's (xentui/poller.py).  Lifecycle events, when the source offers them,
wake the Poller for an immediate collection.  Each snapshot is prepared in the Poller's worker thread before it
is set (:meth:`Connection.prepare`): the event loop's frame is then the diff and the paint.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from textual.app import ScreenStackError
from textual.css.query import NoMatches

from xentui.feed import Back, Lost
from xentui.poller import Poller
from xentui.text import first_line
from xentui.ui import frame
from xentui.ui.widgets.host_header import live_mode_line

if TYPE_CHECKING:
    from textual.content import Content

    from xentui.alerts.board import AlertBoard
    from xentui.model import Snapshot
    from xentui.recording.writer import Recorder
    from xentui.ui.app import XentuiApp


SLOW_AFTER_S = 3.0  # a collection running this long is said in the header, each second, until one is quicker


class Connection:
    """Runs the live feed for ``app`` (its ``run`` is the App's poller worker); with a ``recorder``, each
    sample is also written to it (a failed write stops the recording and says so; the view goes on)."""

    def __init__(self, app: XentuiApp, poller: Poller, recorder: Recorder | None = None):
        self.app = app
        self.poller = poller
        self._said: str | None = None  # the alert the header showed at the last look
        if recorder is not None:
            from xentui.recording.writer import recording_tap  # a recording's modules load only for one

            poller.tap = recording_tap(recorder, lambda problem: app.warn_from_thread(problem, timeout=30))

    async def run(self) -> None:
        await self.subscribe()
        app = self.app
        app.set_interval(1.0, self._say_when_slow)
        async for event in self.poller.events():
            if isinstance(event, Lost):
                app.lost = (f"connection lost: {event.reason.strip()}; retrying in {event.retry_in or 0:.0f} s "
                            "(the data shown is from before)")
                app.show_header()
            elif isinstance(event, Back):
                app.notify(f"connection back after {event.after_s:.0f} s")
                app.lost = None
            else:
                app.alerts.take(await self.poller.call(functools.partial(self.prepare, event)))
                app.snapshot = event

    def prepare(self, snapshot: Snapshot) -> AlertBoard | None:
        """In the poller's thread, before ``snapshot`` is shown: the history takes it, and what its frame will ask
        for (the rows in the view's order, the NAME width, the fleet's figures) is computed, so that the event
        loop only diffs and paints the lines on screen (the loop computes what was not prepared, as before).
        Returns the alerts' board of ``snapshot`` (None: no alert rules)."""
        app = self.app
        app.history.add(snapshot)  # the loop's add of the same tick is then a no-op (History skips a seen seq)
        if not app.paused and app.fleet.focus is None:
            frame.prepare(snapshot, app.view, replace(app.context, groups=frame.groups_of(snapshot)))
        return app.alerts.evaluate(snapshot)

    async def subscribe(self) -> None:
        """libvirt lifecycle events make state changes show at once; without them, polling alone."""
        source = self.poller.source
        try:
            reason = await self.poller.call(lambda: source.subscribe(self.domain_event))
        except Exception as err:  # events are a bonus: never fatal
            reason = first_line(err)
        self.app.events = reason is None
        if reason is not None and source.HAS_EVENTS:
            self.app.notify(f"no lifecycle events ({reason}): changes show at the next update", timeout=6)

    def domain_event(self, _uuid: str) -> None:
        self.poller.wake()  # from libvirt's events thread (Poller.wake is safe from any)

    def mode_line(self) -> Content:
        app = self.app
        return live_mode_line(readonly=app.source.readonly, delay=self.poller.delay, events=app.events,
                              paused=app.paused, stale=app.lost is not None, filter_text=app.view.filter_text)

    def alert(self) -> str | None:
        """What the header says first: the connection is lost, or the source is slow to answer (the data shown
        is from before).  A frozen view (z) does not say it is slow: its header stays with its table."""
        if self.app.lost is not None:
            return self.app.lost
        waited, took, shown = self.poller.collecting_for, self.poller.last_took, self.app.snapshot
        if self.app.paused or shown is None:
            return None
        if waited >= SLOW_AFTER_S:
            since = time.strftime("%H:%M:%S", time.localtime(shown.wall))
            return f"the source has not answered for {waited:.0f} s: the data shown is from {since}"
        if took >= SLOW_AFTER_S:  # kept until a quicker answer: the line does not come and go with each slow one
            return f"the source is slow: its last figures took {took:.0f} s to come"
        return None

    def _say_when_slow(self) -> None:
        """Each second: a collection running long is said in the header with its age, and unsaid once it is
        over (nothing is repainted while the alert stays what it was, nor while the view is frozen)."""
        alert = self.alert()
        if alert != self._said and not self.app.paused:
            self._said = alert
            with contextlib.suppress(NoMatches, ScreenStackError):  # the app is closing
                self.app.show_header()
