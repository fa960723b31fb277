"""Replay in the live view: the recording's clock instead of the poller, and the keys that move it.

Snapshots come from :meth:`ReplaySource.snapshot` (rates from recorded times), made in a worker
thread (a large recording decodes its ticks as they are shown); the wait between ticks is the
recorded interval divided by the speed, and stepping or seeking never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from textual.binding import Binding
from textual.content import Content
from textual.css.query import NoMatches

from xentui.history import History
from xentui.model import Snapshot
from xentui.sources import SourceError
from xentui.sources.replay import ReplaySource
from xentui.text import one_line
from xentui.ui.literal import markup

REPLAY_BINDINGS = [
    Binding("space,z,Z", "replay_toggle", "Play/pause", key_display="Space"),
    Binding("comma", "replay_step(-1)", "Back", key_display=","),
    Binding("full_stop", "replay_step(1)", "Step", key_display="."),
    Binding("left_square_bracket", "replay_seek(-10)", "-10s", key_display="["),
    Binding("right_square_bracket", "replay_seek(10)", "+10s", key_display="]"),
    Binding("left_curly_bracket", "replay_seek(-60)", show=False),
    Binding("right_curly_bracket", "replay_seek(60)", show=False),
    Binding("home", "replay_jump(0)", show=False, priority=True),  # before the table: in a replay only
    Binding("end", "replay_jump(-1)", show=False, priority=True),
    Binding("minus", "replay_speed(-1)", "Slower", key_display="-"),
    Binding("plus,equals_sign", "replay_speed(1)", "Faster", key_display="+"),
]
REPLAY_ACTIONS = {"replay_toggle", "replay_step", "replay_seek", "replay_jump", "replay_speed"}
REFILL_TICKS = 600  # after a seek, history is rebuilt from at most this many ticks before the new position ...
REFILL_DOMAIN_TICKS = 20_000  # ... and at most this many domain-ticks (a large host: fewer ticks)
REPLAY_KEYS = [
    ("Space z", "replay: play / pause"),
    (", .", "replay: one tick back / forward (pauses)"),
    ("[ ] { }", "replay: 10 s / 60 s back / forward"),
    ("Home End", "replay: first / last tick"),
    ("- +", "replay: slower / faster (x0.25 to x64)"),
]


class ReplayControls:
    """Mixed into the App: ``self.source`` is a ReplaySource when replaying."""

    source: object
    history: History
    _replay_wake: asyncio.Event | None = None
    _replay_refill = True

    @property
    def replaying(self) -> ReplaySource | None:
        return self.source if isinstance(self.source, ReplaySource) else None

    async def _replay(self) -> None:
        src = self.replaying
        assert src is not None
        self._replay_wake = asyncio.Event()
        while True:
            refill, self._replay_refill = self._replay_refill, False
            try:
                shots = await asyncio.to_thread(self._replay_snapshots, src.index, refill)
            except SourceError as err:  # a damaged tick in a large recording
                src.playing = False
                self.notify(one_line(str(err)), severity="error", timeout=30)
                shots = []
            if refill:
                self.history.clear()
            for shot in shots[:-1]:
                self.history.add(shot)
            if shots and not getattr(self, "_exit", False):
                with contextlib.suppress(NoMatches):  # the app closed between two ticks
                    self.snapshot = shots[-1]
            if self._replay_wake.is_set():  # moved by a key meanwhile: show that first
                self._replay_wake.clear()
                continue
            wait = src.wait_s() if src.playing and not src.at_end else None
            try:
                await asyncio.wait_for(self._replay_wake.wait(), wait)
                self._replay_wake.clear()
            except TimeoutError:
                src.step(1)

    def _replay_snapshots(self, index: int, refill: bool) -> list[Snapshot]:
        """In a worker thread: the snapshot at ``index``, after those that rebuild the history up to it."""
        src = self.replaying
        if not refill:
            return [src.snapshot(index)]
        domains = len(src.recording.sample(index).domains)
        ticks = min(REFILL_TICKS, self.history.capacity, max(2, REFILL_DOMAIN_TICKS // max(1, domains)))
        return [src.snapshot(i) for i in range(max(0, index - ticks + 1), index + 1)]

    def replay_mode_line(self) -> Content:
        src = self.replaying
        state = "playing" if src.playing and not src.at_end else "END" if src.at_end else "paused"
        what = "demo: recorded from real lab guests" if src.demo else Path(src.recording.path).name
        return markup("[reverse $level-warn] REPLAY [/] $position $state  $what  actions off",
                      position=src.position(), state=state, what=what)

    def _replay_moved(self, refill: bool) -> None:
        """Show the new position (the replay loop does it, off the event loop) and start the wait again."""
        self._replay_refill = self._replay_refill or refill
        if self._replay_wake is not None:
            self._replay_wake.set()

    def action_replay_toggle(self) -> None:
        src = self.replaying
        if src.at_end and not src.playing:
            src.seek(1)
        src.playing = not src.playing
        self._replay_moved(refill=False)

    def action_replay_step(self, ticks: int) -> None:
        src = self.replaying
        src.playing = False
        src.step(ticks)
        self._replay_moved(refill=ticks < 0)

    def action_replay_seek(self, seconds: float) -> None:
        src = self.replaying
        src.seek_seconds(seconds)
        self._replay_moved(refill=True)

    def action_replay_jump(self, index: int) -> None:
        src = self.replaying
        src.seek(index if index >= 0 else len(src) - 1)
        self._replay_moved(refill=True)

    def action_replay_speed(self, step: int) -> None:
        speed = self.replaying.faster(step)
        self._replay_moved(refill=False)
        with contextlib.suppress(Exception):
            self.notify(f"replay speed x{speed:g}", timeout=2)
