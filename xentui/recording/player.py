"""The replay player: a recording as a feed, with a position that can be moved.

``ReplayPlayer.events()`` yields the same events as the live :class:`~xentui.poller.Poller`:
a :class:`~xentui.model.Snapshot` per tick shown, :class:`~xentui.feed.Lost` for a tick that cannot be
read (a damaged tick of a large recording; the player pauses there).  In real time (the UI) the
wait between ticks is the recorded interval divided by the speed, and moving the position (step,
seek, jump, play/pause, speed) shows the new tick at once; ``realtime=False`` (batch) walks from the
position to the end as fast as it can and ends, also after a Lost.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import AsyncIterator
from pathlib import Path

from xentui.feed import Event, Lost
from xentui.model import Snapshot
from xentui.recording.reader import Recording, ReplaySource
from xentui.sources.base import SourceError

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
MAX_WAIT_S = 60.0  # a long gap in a recording (suspended recorder) is not waited out in full


class ReplayPlayer:
    """Plays ``source``'s recording from its position.  ``fallback``: why the live source failed, when
    the bundled demo stands in for it."""

    def __init__(self, source: ReplaySource, *, realtime: bool = True, fallback: str | None = None):
        self.source = source
        self.recording: Recording = source.recording
        self.times: array[float] = source.recording.times
        self.demo = source.demo
        self.realtime = realtime
        self.fallback = fallback
        self.index = source.index  # the tick shown
        self.speed = 1.0
        self.playing = True
        self._moved: asyncio.Event | None = None

    @classmethod
    def open(cls, path: str | Path, *, demo: bool = False, realtime: bool = True) -> ReplayPlayer:
        return cls(ReplaySource.open(path, demo=demo), realtime=realtime)

    # --- the feed -------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Each tick shown (see the module's docstring)."""
        if not self.realtime:
            for index in range(self.index, len(self)):
                self.index = index
                await asyncio.sleep(0)  # the loop runs between ticks: a signal stops a long replay at once
                try:
                    yield self.snapshot(index)
                except SourceError as err:
                    yield Lost(str(err), None)
                    return
            return
        self._moved = moved = asyncio.Event()
        while True:
            try:  # in a thread: a large recording decodes its ticks as they are shown
                yield await asyncio.to_thread(self.snapshot, self.index)
            except SourceError as err:
                self.playing = False
                yield Lost(str(err), None)
            if moved.is_set():  # moved meanwhile: show that first
                moved.clear()
                continue
            wait = self.wait_s() if self.playing and not self.at_end else None
            try:
                await asyncio.wait_for(moved.wait(), wait)
                moved.clear()
            except TimeoutError:
                self.index = min(self.index + 1, len(self) - 1)

    def close(self) -> None:
        self.source.close()

    # --- position ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.recording)

    @property
    def at_end(self) -> bool:
        return self.index >= len(self) - 1

    def snapshot(self, index: int) -> Snapshot:
        """Tick ``index``, rates against the tick before it (SourceError: a damaged tick)."""
        return self.source.snapshot(index)

    def _show(self) -> None:
        if self._moved is not None:
            self._moved.set()

    def seek(self, index: int) -> None:
        """Show tick ``index`` (clamped; negative counts from the end, -1 the last)."""
        if index < 0:
            index += len(self)
        self.index = max(0, min(len(self) - 1, index))
        self._show()

    def step(self, ticks: int) -> None:
        """Pause and move ``ticks`` ticks."""
        self.playing = False
        self.seek(max(0, self.index + ticks))

    def seek_seconds(self, seconds: float) -> None:
        """Move by recorded time (negative: back), at least one tick."""
        target = self.times[self.index] + seconds
        i = self.index
        if seconds >= 0:
            while i + 1 < len(self.times) and self.times[i + 1] <= target:
                i += 1
            i = max(i, self.index + 1)
        else:
            while i > 0 and self.times[i - 1] >= target:
                i -= 1
            i = max(0, min(i, self.index - 1))
        self.seek(min(i, len(self) - 1))

    def toggle(self) -> None:
        """Play or pause; at the end, paused, play again from the start."""
        if self.at_end and not self.playing:
            self.index = min(1, len(self) - 1)
        self.playing = not self.playing
        self._show()

    def faster(self, step: int) -> float:
        """Next speed up (step 1) or down (-1) in SPEEDS."""
        known = min(range(len(SPEEDS)), key=lambda k: abs(SPEEDS[k] - self.speed))
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, known + step))]
        self._show()
        return self.speed

    def wait_s(self) -> float:
        """Real seconds until the next tick at this speed: the recorded interval / speed."""
        if self.at_end:
            return MAX_WAIT_S
        gap = self.times[self.index + 1] - self.times[self.index]
        return max(0.0, min(MAX_WAIT_S, gap / self.speed))

    def position(self) -> str:
        """E.g. '00:01:05/00:10:00 tick 66/601 x2'."""
        first = self.times[0]
        now = self.times[self.index] - first
        total = self.times[-1] - first
        return f"{_hms(now)}/{_hms(total)} tick {self.index + 1}/{len(self.times)} x{self.speed:g}"

    def state(self) -> str:
        return "playing" if self.playing and not self.at_end else "END" if self.at_end else "paused"


def _hms(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"

