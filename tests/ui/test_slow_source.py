"""A source that answers, then takes long over one collection (a libvirtd waiting on domains' locks under a storm
of creations and destructions took 8-18 s here): the header says how long it has waited and how old the figures
shown are, each second, and stops saying it once the answer is in."""

from __future__ import annotations

import re
import threading
import time

import pytest

from xentui import config
from xentui.sources.synthetic import SyntheticSource
from xentui.ui.controllers import connection
from xentui.ui.widgets.host_header import HostHeader

from .harness import running_app
from .waiting import until


class Stalling(SyntheticSource):
    """Answers at once until ``stall`` is set; the collection after that waits until ``go`` is set."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.stall, self.go = threading.Event(), threading.Event()
        self.stalled = threading.Event()  # a collection is waiting

    def collect(self):  # type: ignore[no-untyped-def]
        if self.stall.is_set() and not self.go.is_set():
            self.stalled.set()
            self.go.wait(30)
        return super().collect()


@pytest.mark.asyncio
async def test_a_slow_answer_is_said_in_the_header_each_second_and_unsaid_when_it_comes(tmp_path, monkeypatch):
    monkeypatch.setattr(connection, "SLOW_AFTER_S", 1.0)
    source = Stalling(count=5)
    async with running_app(source, settings=config.Settings(delay=0.2), config_path=tmp_path / "c.toml",
                           prime=0.0, poll=True) as (app, pilot):
        header = app.query_one(HostHeader)
        await until(pilot, lambda: app.snapshot is not None, "the first figures")
        source.stall.set()
        await until(pilot, source.stalled.is_set, "a collection waiting")
        shown = app.snapshot
        assert shown is not None
        since = time.strftime("%H:%M:%S", time.localtime(shown.wall))
        line = re.compile(rf"^waiting (\d+) s for the figures: the source has not answered yet; the data shown is "
                          rf"from {since}$", re.M)
        await until(pilot, lambda: line.search(header.text), "the waiting said", seconds=20)
        first = int(line.search(header.text)[1])  # type: ignore[index]
        await until(pilot, lambda: int(line.search(header.text)[1]) > first, "the waiting said again, longer",  # type: ignore[index]
                    seconds=20)
        assert app.snapshot is shown and "STALE" not in header.text  # slow, not lost: the data kept, not stale
        source.go.set()
        await until(pilot, lambda: app.snapshot is not shown and "waiting" not in header.text, "the answer shown",
                    seconds=20)
