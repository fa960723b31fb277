"""Batch mode: snapshots to stdout as xentop text, CSV or JSON lines.

Stops cleanly on SIGINT, SIGTERM and a closed pipe.  Imports no textual.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TextIO, TypeVar

from xentui.model import Snapshot
from xentui.output import records
from xentui.output.xentop import XentopOptions, format_frame
from xentui.poller import Poller
from xentui.sources import Source, SourceError
from xentui.text import one_line

# CPU(%) is true on iteration 1: a first sample this long before it (xentop prints 0.0).
PRIME_S = 1.0
FORMATS = ("text", "csv", "json")

T = TypeVar("T")


@dataclass(frozen=True)
class BatchOptions:
    delay: float = 3.0
    iterations: int | None = None  # None: until stopped
    format: str = "text"
    reconnect: bool = False  # a lost connection: wait and go on (else exit 1)
    xentop: XentopOptions = field(default_factory=XentopOptions)


def render(snapshot: Snapshot, iteration: int, opts: BatchOptions) -> str:
    if opts.format == "json":
        return records.json_frame(snapshot, iteration)
    if opts.format == "csv":
        header = records.csv_header() if iteration == 1 else ""
        return header + records.csv_rows(snapshot, iteration)
    return format_frame(snapshot, opts.xentop)


async def _unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> tuple[bool, T | None]:
    """Run ``work`` unless ``stop`` is set first: (stopped, result)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopper.cancel()
        return False, task.result()
    task.cancel()
    return True, None


async def run_batch(source: Source, opts: BatchOptions, out: TextIO = sys.stdout) -> int:
    """Print ``opts.iterations`` frames (or until a signal); return the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    poller = Poller(source, opts.delay, prime=min(PRIME_S, opts.delay))
    iteration = 0
    attempt = 0
    try:
        while opts.iterations is None or iteration < opts.iterations:
            try:
                stopped, snapshot = await _unless_stopped(stop, poller.tick())
            except SourceError as err:
                if not opts.reconnect:
                    raise
                wait = poller.backoff(attempt)
                if attempt == 0:
                    print(f"xentui: {one_line(str(err))}; retrying (1 s doubling to 30 s) until it answers",
                          file=sys.stderr)
                attempt += 1
                stopped, _ = await _unless_stopped(stop, poller.wait_to_retry(wait))
                if stopped:
                    break
                continue
            if attempt:
                print("xentui: connection back", file=sys.stderr)
                attempt = 0
            if stopped or snapshot is None:
                break
            iteration += 1
            out.write(render(snapshot, iteration, opts))
            out.flush()
            if opts.iterations is not None and iteration >= opts.iterations:
                break
            stopped, _ = await _unless_stopped(stop, asyncio.sleep(poller.until_next()))
            if stopped:
                break
    except SourceError as err:
        print(f"xentui: {one_line(str(err))}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        _reader_gone(out)
        return 0
    finally:
        poller.close()
    return 0


def replay(source, opts: BatchOptions, out: TextIO | None = None) -> int:
    """A recording as fast as it can be written (no real-time waits): every tick, or the first -i N."""
    out = sys.stdout if out is None else out
    iteration = 0
    try:
        for index in range(source.index, len(source)):
            if opts.iterations is not None and iteration >= opts.iterations:
                break
            iteration += 1
            out.write(render(source.snapshot(index), iteration, opts))
        out.flush()
    except SourceError as err:  # a large recording's values are checked as they are read
        out.flush()
        print(f"xentui: {one_line(str(err))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _reader_gone(out)
    return 0


def _reader_gone(out: TextIO) -> None:
    """The reader went away (`| head`): stop quietly, as a filter should (no error at exit's flush)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, out.fileno())


def main(source: Source, opts: BatchOptions) -> int:
    return asyncio.run(run_batch(source, opts))
