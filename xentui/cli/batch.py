"""Batch mode: a feed (live or a recording) to stdout as xentop text, CSV or JSON lines.

Stops cleanly on SIGINT, SIGTERM and a closed pipe.  Imports no textual.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from typing import TextIO

from xentui.alerts.watch import Watch
from xentui.cli.common import unless_signalled
from xentui.feed import Back, Feed, Lost
from xentui.model import Snapshot
from xentui.output import records
from xentui.output.xentop import XentopOptions, format_frame
from xentui.poller import Poller
from xentui.recording.player import ReplayPlayer
from xentui.sources import Source
from xentui.text import one_line

# CPU(%) is true on iteration 1: a first sample this long before it (xentop prints 0.0).
PRIME_S = 1.0
FORMATS = ("text", "csv", "json")


@dataclass(frozen=True)
class BatchOptions:
    delay: float = 3.0
    iterations: int | None = None  # None: until stopped
    format: str = "text"
    reconnect: bool = False  # a lost connection: wait and go on (else exit 1)
    xentop: XentopOptions = field(default_factory=XentopOptions)
    watch: Watch | None = None  # --alerts: only the alerts' transitions


def render(snapshot: Snapshot, iteration: int, opts: BatchOptions) -> str:
    if opts.format == "json":
        return records.json_frame(snapshot, iteration, pcpu_usage=opts.xentop.pcpus)
    if opts.format == "csv":
        header = records.csv_header(snapshot.fleet) if iteration == 1 else ""
        return header + records.csv_rows(snapshot, iteration)
    return format_frame(snapshot, opts.xentop)


async def run_batch(source: Source, opts: BatchOptions, out: TextIO | None = None) -> int:
    """A live source: the first frame's rates true (a prime sample); Lost ends it unless --reconnect."""
    if opts.format == "json" and opts.watch is None:  # --alerts prints transitions only: no scheduling to read
        source.watch_scheduling(True)  # pools and schedulers read every iteration
    poller = Poller(source, opts.delay, prime=min(PRIME_S, opts.delay), reconnect=opts.reconnect)
    return await run_feed(poller, opts, sys.stdout if out is None else out)  # (sys.stdout now, not at import)


async def run_feed(feed: Feed, opts: BatchOptions, out: TextIO, *, lost_code: int = 1,
                   flush_each: bool = True) -> int:
    """Print ``opts.iterations`` frames (or until the feed ends or a signal); return the exit code.

    ``lost_code``: the exit status when the feed is lost for good (1: a source; 2: a damaged recording).
    ``flush_each``: each frame as soon as it is made (live); else once at the end (a replay, as fast as it goes).
    """
    try:
        code = await unless_signalled(_print(feed, opts, out, lost_code, flush_each))
        out.flush()
        return 0 if code is None else code
    except BrokenPipeError:
        _reader_gone(out)
        return 0
    finally:
        feed.close()


async def _print(feed: Feed, opts: BatchOptions, out: TextIO, lost_code: int, flush_each: bool) -> int:
    iteration = 0
    lost = False
    async for event in feed.events():
        if isinstance(event, Lost):
            if event.retry_in is None:
                out.flush()
                print(f"xentui: {one_line(event.reason)}", file=sys.stderr)
                return lost_code
            if not lost:
                print(f"xentui: {one_line(event.reason)}; retrying (1 s doubling to 30 s) until it answers",
                      file=sys.stderr)
            lost = True
        elif isinstance(event, Back):
            print("xentui: connection back", file=sys.stderr)
            lost = False
        else:
            iteration += 1
            if opts.watch is not None:
                text, code = opts.watch.step(event)
                out.write(text)
                if code is not None:
                    return code
            else:
                out.write(render(event, iteration, opts))
            if flush_each:
                out.flush()
            if opts.iterations is not None and iteration >= opts.iterations:
                break
    return 0


def _reader_gone(out: TextIO) -> None:
    """The reader went away (`| head`): stop quietly, as a filter should (no error at exit's flush)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, out.fileno())


def main(source: Source, opts: BatchOptions) -> int:
    return asyncio.run(run_batch(source, opts))


def replay(player: ReplayPlayer, opts: BatchOptions, out: TextIO | None = None) -> int:
    """A recording as fast as it can be written (no real-time waits): every tick, or the first -i N;
    a damaged tick of a large recording ends it with status 2."""
    player.realtime = False
    return asyncio.run(run_feed(player, opts, sys.stdout if out is None else out, lost_code=2, flush_each=False))
