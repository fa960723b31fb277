"""Replay in the live view: the ReplayPlayer's feed instead of the poller's, moved by the replay keys.

The player (xentui/recording/player.py) makes each snapshot in a worker thread (rates from recorded
times) and paces them by the recorded interval divided by the speed; stepping or seeking never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from textual.content import Content
from textual.css.query import NoMatches

from xentui.feed import Lost
from xentui.model import Snapshot
from xentui.sources import SourceError
from xentui.text import one_line
from xentui.ui.literal import markup

if TYPE_CHECKING:
    from xentui.recording.player import ReplayPlayer
    from xentui.ui.app import XentuiApp

REFILL_TICKS = 600  # after a seek, history is rebuilt from at most this many ticks before the new position ...
REFILL_DOMAIN_TICKS = 20_000  # ... and at most this many domain-ticks (a large host: fewer ticks)


class ReplayKeys:
    """The App's replay keys (check_action lets them through in a replay only), handed to the controller."""

    replay: ReplayController | None

    def action_replay_toggle(self) -> None:
        if self.replay is not None:
            self.replay.toggle()

    def action_replay_step(self, ticks: int) -> None:
        if self.replay is not None:
            self.replay.step(ticks)

    def action_replay_seek(self, seconds: float) -> None:
        if self.replay is not None:
            self.replay.seek(seconds)

    def action_replay_jump(self, index: int) -> None:
        if self.replay is not None:
            self.replay.jump(index)

    def action_replay_speed(self, step: int) -> None:
        if self.replay is not None:
            self.replay.speed(step)


class ReplayController:
    """Drives ``app``'s replay: consumes the player's feed, and moves the player on the replay keys.

    A tick that does not follow the one shown (a move back, a seek, a jump) rebuilds the history (charts) up
    to it, in a thread: decided by the tick the player made, never by keys pressed while it was made.
    """

    def __init__(self, app: XentuiApp, player: ReplayPlayer):
        self.app = app
        self.player = player

    async def run(self) -> None:
        app = self.app
        last: int | None = None  # the seq of the tick shown last
        async for event in self.player.events():
            if isinstance(event, Lost):  # a damaged tick of a large recording: the player paused
                app.notify(one_line(event.reason), severity="error", timeout=30)
                continue
            if not isinstance(event, Snapshot):
                continue
            jumped = last is None or event.seq not in (last, last + 1)  # the same tick again needs nothing
            if jumped:
                try:
                    shots = await asyncio.to_thread(self._before, event.seq - 1)
                except SourceError as err:  # a damaged tick among those before: said, and paused there
                    self.player.playing = False
                    app.notify(one_line(str(err)), severity="error", timeout=30)
                    shots = []
                app.history.clear()
                for shot in shots:
                    app.history.add(shot)
                # The alerts as they would have been: a fresh engine on the ticks before; no bell for them.
                app.alerts.take(await asyncio.to_thread(app.alerts.evaluate_from, shots, event), ring=last is None)
            elif event.seq != last and app.alerts.engine is not None:
                app.alerts.take(await asyncio.to_thread(app.alerts.evaluate, event))
            last = event.seq
            with contextlib.suppress(NoMatches):  # the app closed between two ticks
                app.snapshot = event

    def _before(self, index: int) -> list[Snapshot]:
        """In a worker thread: the snapshots that rebuild the history up to tick ``index`` (excluded);
        SourceError when one of them is damaged."""
        player = self.player
        domains = len(player.recording.sample(index).domains)
        ticks = min(REFILL_TICKS, self.app.history.capacity, max(2, REFILL_DOMAIN_TICKS // max(1, domains)))
        return [player.snapshot(i) for i in range(max(0, index - ticks + 1), index)]

    def mode_line(self) -> Content:
        player = self.player
        what = "demo: recorded from real lab guests" if player.demo else Path(player.recording.path).name
        return markup("[reverse $level-warn] REPLAY [/] $position $state  $what  actions off",
                      position=player.position(), state=player.state(), what=what)

    def alert(self) -> str | None:
        """The bundled demo stands in for a host that did not answer: said first (header lines get cut)."""
        fallback = self.player.fallback
        return f"the bundled demo, not this host: {fallback}" if fallback else None

    def toggle(self) -> None:
        self.player.toggle()

    def step(self, ticks: int) -> None:
        self.player.step(ticks)

    def seek(self, seconds: float) -> None:
        self.player.seek_seconds(seconds)

    def jump(self, index: int) -> None:
        self.player.seek(index)

    def speed(self, step: int) -> None:
        speed = self.player.faster(step)
        with contextlib.suppress(Exception):
            self.app.notify(f"replay speed x{speed:g}", timeout=2)
