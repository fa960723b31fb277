"""A source that answers, then takes long over one collection (libvirtd's own bulk call took up to 8 s here under a
storm of creations and destructions, and xentui's frames came up to 18 s apart): the header says how long it has
waited and how old the figures shown are, each second; once the answer is in, that the last one was slow, until
a quicker one comes."""

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
    """Takes ``takes_s`` over each collection; once ``stall`` is set, the next one waits until ``go`` is set."""

    def __init__(self, count: int) -> None:
        super().__init__(count=count)
        self.stall, self.go = threading.Event(), threading.Event()
        self.stalled = threading.Event()  # a collection is waiting
        self.takes_s = 0.0

    def collect(self):
        if self.stall.is_set() and not self.go.is_set():
            self.stalled.set()
            self.go.wait(30)
        if self.takes_s:
            time.sleep(self.takes_s)  # the source's own slowness, as a busy libvirtd's
        return super().collect()


def said(header: HostHeader, pattern: re.Pattern[str]) -> re.Match[str] | None:
    return pattern.search(header.text)


@pytest.mark.asyncio
async def test_a_slow_answer_is_said_in_the_header_each_second_and_then_until_a_quick_one(tmp_path, monkeypatch):
    monkeypatch.setattr(connection, "SLOW_AFTER_S", 1.0)
    source = Stalling(count=5)
    try:
        async with running_app(source, settings=config.Settings(delay=0.2), config_path=tmp_path / "c.toml",
                               poll=True) as (app, pilot):
            header = app.query_one(HostHeader)
            await until(pilot, lambda: app.snapshot is not None, "the first figures")
            source.stall.set()
            await until(pilot, source.stalled.is_set, "a collection waiting")
            shown = app.snapshot
            assert shown is not None
            since = time.strftime("%H:%M:%S", time.localtime(shown.wall))
            waiting = re.compile(rf"^the source has not answered for (\d+) s: the data shown is from {since}$", re.M)
            await until(pilot, lambda: said(header, waiting), "the waiting said", seconds=20)
            first = int(said(header, waiting)[1])  # type: ignore[index]
            await until(pilot, lambda: (m := said(header, waiting)) is not None and int(m[1]) > first,
                        "the waiting said again, longer", seconds=20)
            assert app.snapshot is shown and "STALE" not in header.text  # slow, not lost: the data kept
            source.takes_s = 1.3  # the answers after this one are slow too: said between them
            source.go.set()
            slow = re.compile(r"^the source is slow: its last figures took (\d+) s to come$", re.M)
            await until(pilot, lambda: app.snapshot is not shown and said(header, slow) is not None,
                        "the slow answers said", seconds=20)
            source.takes_s = 0.0
            await until(pilot, lambda: "the source" not in header.text, "a quick answer: nothing said", seconds=20)
    finally:
        source.go.set()
