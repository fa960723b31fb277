"""One way to run xentui under Pilot: ``async with running_app(source, size=...) as (app, pilot)``.

Also the deterministic snapshots the tests feed the app, the header clock's time zone (UTC, for SVG
snapshots) and the notifications the app showed (recorded by a subclass: no private Textual state read).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from textual.notifications import SeverityLevel
from textual.pilot import Pilot

from xentui import config
from xentui.model import Snapshot, build_snapshot
from xentui.sources import Source
from xentui.sources.synthetic import SyntheticSource
from xentui.text import visible
from xentui.ui import textual_workarounds
from xentui.ui.app import XentuiApp

os.environ["TZ"] = "UTC"  # the header's clock, in snapshots
time.tzset()
textual_workarounds.install()  # as run_app does


def snapshots(count: int = 12, ticks: int = 2, **kw: object) -> list[Snapshot]:
    """Deterministic snapshots from the synthetic host (``ticks`` of them, rates from the second on)."""
    return collected(SyntheticSource(count=count, **kw), ticks)  # type: ignore[arg-type]


def collected(source: Source, ticks: int = 2) -> list[Snapshot]:
    """``ticks`` snapshots of ``source`` (rates from the second on), as the poller builds them."""
    prev = None
    out = []
    for seq in range(1, ticks + 1):
        raw = source.collect()
        out.append(build_snapshot(prev, raw, seq))
        prev = raw
    return out


class RecordingApp(XentuiApp):
    """The app, keeping every notification it showed (as shown: made visible)."""

    def __init__(self, *args: object, **kwargs: object):
        self.messages: list[str] = []
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
        self.messages.append(visible(message))


def messages(app: XentuiApp) -> list[str]:
    """The notifications ``app`` (a RecordingApp) showed, oldest first."""
    assert isinstance(app, RecordingApp), "run the app with running_app() or make_app"
    return app.messages


def make_app(source: Source | None = None, settings: config.Settings | None = None, *,
             config_path: Path | None = None, poll: bool = False, **opts: object) -> RecordingApp:
    """The app on ``source`` (12 synthetic domains by default); ``poll=False``: the test sets snapshots."""
    return RecordingApp(source or SyntheticSource(count=12), settings or config.Settings(), config_path=config_path,
                        poll=poll, **opts)


@contextlib.asynccontextmanager
async def running_app(source: Source | None = None, *, size: tuple[int, int] = (120, 40),
                      snapshot: Snapshot | None = None, notifications: bool = False,
                      **opts: object) -> AsyncIterator[tuple[RecordingApp, Pilot[None]]]:
    """The app running under Pilot (``poll=True``: on its poller); ``snapshot`` shown first when given."""
    app = make_app(source, **opts)  # type: ignore[arg-type]
    async with app.run_test(size=size, notifications=notifications) as pilot:
        if snapshot is not None:
            app.snapshot = snapshot
            await pilot.pause()
        yield app, pilot
