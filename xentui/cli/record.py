"""``xentui record -o FILE [-c URI] [-d S] [--duration T]``: a session to a file, for ``--replay``.

The live feed (a Poller) with the Recorder as its tap: raw samples are written (not rates), so the
replay's numbers come from the same maths as the live view's.  Stops at ``--duration``, on Ctrl-C or
SIGTERM, always leaving a complete file; a lost source stops it (status 1, what came before kept).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time

from xentui import safefile
from xentui.cli.common import (
    EXIT_USAGE,
    UsageParser,
    add_fast_path_option,
    configure_host_side,
    delay_arg,
    unless_signalled,
)
from xentui.feed import Lost
from xentui.poller import Poller
from xentui.recording.writer import Recorder, recording_tap
from xentui.sources import Source, SourceError, open_source
from xentui.text import one_line, visible


def _duration(text: str) -> float:
    """Seconds, or with a unit: 90, 90s, 15m, 2h."""
    units = {"s": 1, "m": 60, "h": 3600}
    scale = units.get(text[-1:].lower(), 1)
    number = text[:-1] if text[-1:].lower() in units else text
    try:
        value = float(number) * scale
    except ValueError:
        value = float("nan")
    if not 0 < value <= 31 * 86400:
        raise argparse.ArgumentTypeError(f"duration {text!r} is not a time from 1 s to 31 days, e.g. 90, 15m or 2h")
    return value


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as err:
        raise argparse.ArgumentTypeError(f"--match {text!r} is not a regular expression ({err})") from None


def parser() -> argparse.ArgumentParser:
    p = UsageParser(prog="xentui record",
                    description="Record this host's domains to a file for 'xentui --replay FILE'.")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="new file to write (mode 0600), e.g. night.xtrec.gz; never an existing one without --force")
    p.add_argument("--force", action="store_true",
                   help="replace FILE if it exists (a symlink there is replaced itself, never written through)")
    p.add_argument("-c", "--connect", metavar="URI", action="append",
                   help="hypervisor URI (as for xentui; one host: recording several is not supported yet)")
    p.add_argument("-d", "--delay", type=delay_arg, default=1.0, metavar="SECONDS",
                   help="seconds between samples, 0.2 to 3600 (default 1)")
    p.add_argument("--match", type=_regex, metavar="REGEX",
                   help="record only the domains whose name matches, e.g. '^web-' (default: all)")
    p.add_argument("--duration", type=_duration, metavar="T", help="stop after T (90, 90s, 15m, 2h); "
                   "default: until Ctrl-C")
    add_fast_path_option(p)
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from xentui.sources.libvirt import fastpath  # (libvirt imported only when asked for)

    fastpath.configure(not args.no_fast_path)  # every figure every tick, never in turns
    configure_host_side("xentui record")
    problem = safefile.refusal(args.output, args.force)  # before connecting: the answer does not depend on it
    if problem:
        print(f"xentui record: {visible(problem)}", file=sys.stderr)  # the path is the user's: shown visibly
        return EXIT_USAGE
    if args.connect and len(args.connect) > 1:
        print(f"xentui record: recording {len(args.connect)} hosts is not supported yet: give one -c URI",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        source = open_source(args.connect[0] if args.connect else None, readonly=True)
    except SourceError as err:
        print(f"xentui record: {one_line(str(err))}", file=sys.stderr)
        return 1
    recorder = start_recording("xentui record", args.output, source, args.delay, args.force)
    if recorder is None:
        return EXIT_USAGE
    print(f"xentui record: recording {visible(source.uri)} every {args.delay:g} s to {visible(str(args.output))} "
          f"({f'for {args.duration:g} s' if args.duration else 'until Ctrl-C'})", file=sys.stderr)
    start = time.monotonic()
    poller = Poller(source, args.delay, reconnect=False)
    failures: list[str] = []  # why the recording stopped (one line, from the worker thread): said below

    def failed(line: str) -> None:
        failures.append(line)
        poller.wake()  # the loop ends now, not a tick later

    poller.tap = recording_tap(recorder, failed, args.match)
    try:
        code = asyncio.run(record(poller, args.duration, failures))
    finally:
        poller.close()  # after the collection in flight: its tap writes before the close below
        refused = finish_recording(recorder, args.output)
        if refused:
            failures.append(refused)
    if failures:
        print(f"xentui record: {failures[0]}", file=sys.stderr)
        code = 1
    print(f"xentui record: {recorder.ticks} ticks in {time.monotonic() - start:.0f} s written to "
          f"{visible(str(args.output))}",
          file=sys.stderr)
    return code


class RecorderRefused(Exception):
    """The recording file cannot be created: one line, fit for the user (paths shown visibly)."""


def open_recorder(path: str, uri: str, delay: float, force: bool) -> Recorder:
    """A new recording at ``path`` (exclusive, 0600; replaced only with ``force``), or RecorderRefused."""
    problem = safefile.refusal(path, force)
    if problem:
        raise RecorderRefused(visible(problem))
    try:
        return Recorder(path, uri, delay, force=force)
    except safefile.Exists as err:
        raise RecorderRefused(visible(str(err))) from None
    except OSError as err:
        raise RecorderRefused(f"cannot write {visible(str(path))}: {one_line(str(err.strerror or err))}") from None


async def record(feed: Poller, duration: float | None, failures: list[str]) -> int:
    """Consume the feed (its tap writes) until ``duration`` is up, SIGINT or SIGTERM; 1 when the source or a
    write failed (``failures``: filled by the tap)."""
    code = await unless_signalled(_until_done(feed, duration, failures))
    return 0 if code is None else code


async def _until_done(feed: Poller, duration: float | None, failures: list[str]) -> int:
    start = time.monotonic()
    async for event in feed.events():
        if failures:
            return 1  # main says why
        if isinstance(event, Lost):
            print(f"xentui record: {one_line(event.reason)}; stopping (what came before is kept)", file=sys.stderr)
            return 1
        if duration is not None and feed.last_start + feed.delay - start >= duration:
            break
    return 0


def start_recording(prog: str, path: str, source: Source, delay: float, force: bool) -> Recorder | None:
    """:func:`open_recorder`, or None after saying why in one line (and closing ``source``)."""
    try:
        return open_recorder(path, source.uri, delay, force)
    except RecorderRefused as err:
        print(f"{prog}: {err}", file=sys.stderr)
        source.close()
        return None


def finish_recording(recorder: Recorder, path: str) -> str | None:
    """Close ``recorder``; one line when its last bytes were refused (disk full), else None."""
    try:
        recorder.close()
    except OSError as err:
        return f"cannot finish {visible(path)}: {one_line(str(err.strerror or err))}"
    return None
