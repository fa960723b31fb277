"""``xentui record -o FILE [-c URI] [-d S] [--duration T]``: a session to a file, for ``--replay``.

Raw samples are written (not rates), so the replay's numbers come from the same maths as the
live view's.  Stops at ``--duration``, on Ctrl-C or SIGTERM, always leaving a complete file.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import signal
import sys
import threading
import time

from xentui import safefile
from xentui.cli import EXIT_USAGE, UsageParser, delay_arg
from xentui.output.recorder import Recorder
from xentui.sources import SourceError, open_source
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


def _regex(text: str) -> re.Pattern:
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
    p.add_argument("-c", "--connect", metavar="URI", help="hypervisor URI (as for xentui)")
    p.add_argument("-d", "--delay", type=delay_arg, default=1.0, metavar="SECONDS",
                   help="seconds between samples, 0.2 to 3600 (default 1)")
    p.add_argument("--match", type=_regex, metavar="REGEX",
                   help="record only the domains whose name matches, e.g. '^web-' (default: all)")
    p.add_argument("--duration", type=_duration, metavar="T", help="stop after T (90, 90s, 15m, 2h); "
                   "default: until Ctrl-C")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    problem = safefile.refusal(args.output, args.force)  # before connecting: the answer does not depend on it
    if problem:
        print(f"xentui record: {visible(problem)}", file=sys.stderr)  # the path is the user's: shown visibly
        return EXIT_USAGE
    try:
        source = open_source(args.connect, readonly=True)
    except SourceError as err:
        print(f"xentui record: {one_line(str(err))}", file=sys.stderr)
        return 1
    try:
        recorder = Recorder(args.output, source.uri, args.delay, force=args.force)
    except safefile.Exists as err:
        print(f"xentui record: {visible(str(err))}", file=sys.stderr)
        source.close()
        return EXIT_USAGE
    except OSError as err:
        print(f"xentui record: cannot write {visible(str(args.output))}: {one_line(str(err.strerror or err))}",
              file=sys.stderr)
        source.close()
        return EXIT_USAGE
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(f"xentui record: recording {visible(source.uri)} every {args.delay:g} s to {visible(str(args.output))} "
          f"({f'for {args.duration:g} s' if args.duration else 'until Ctrl-C'})", file=sys.stderr)
    code = 0
    start = time.monotonic()
    try:
        code = record(source, recorder, args.delay, args.duration, stop, start, args.match)
    finally:
        recorder.close()
        source.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"xentui record: {recorder.ticks} ticks in {time.monotonic() - start:.0f} s written to "
          f"{visible(str(args.output))}",
          file=sys.stderr)
    return code


def record(source, recorder: Recorder, delay: float, duration: float | None, stop: threading.Event,
           start: float, match: re.Pattern | None = None) -> int:
    """Collect and write until ``duration`` is up or ``stop`` is set; 1 when the source failed."""
    while not stop.is_set():
        began = time.monotonic()
        try:
            raw = source.collect()
            if match is not None:
                raw = dataclasses.replace(raw, domains=tuple(d for d in raw.domains if match.search(d.name)))
            recorder.write(raw)
        except SourceError as err:
            print(f"xentui record: {one_line(str(err))}; stopping (what came before is kept)", file=sys.stderr)
            return 1
        if duration is not None and began + delay - start >= duration:
            break
        stop.wait(max(0.0, delay - (time.monotonic() - began)))
    return 0
