"""Command line: xentop's options plus ours.  Bad input gets one line and exit 2."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from xentui import __version__
from xentui.poller import check_delay
from xentui.text import one_line

EXIT_USAGE = 2


class UsageParser(argparse.ArgumentParser):
    """Bad options: one line naming the fix, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def delay_arg(text: str) -> float:
    try:
        return check_delay(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _iterations(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"iterations {text!r} must be a whole number of 1 or more, e.g. -i 5")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="xentui",
        description="Live view of every virtual machine on a Xen or KVM host (successor to xentop). "
        "'xentui lab up|down|status' runs tiny test guests under the local libvirtd; "
        "'xentui record -o FILE' records a session for --replay.",
    )
    p.add_argument("-c", "--connect", metavar="URI", help="hypervisor URI (default: $LIBVIRT_DEFAULT_URI, "
                   "else xen:///system on a Xen host, else qemu:///system)")
    p.add_argument("-w", "--write", action="store_true",
                   help="allow actions on domains (pause, destroy, pin, ...); read-only without it")
    p.add_argument("-d", "--delay", type=delay_arg, metavar="SECONDS",
                   help="seconds between updates, 0.2 to 3600, fractions allowed (default 3)")
    p.add_argument("--theme", metavar="NAME", help="colour theme: xentui-dark (default), xentui-light, classic, "
                   "high-contrast, or one of ~/.config/xentui/themes/*.toml")
    p.add_argument("-b", "--batch", action="store_true", help="print to stdout instead of the full-screen UI")
    p.add_argument("-i", "--iterations", type=_iterations, metavar="N", help="stop after N updates")
    p.add_argument("-n", "--networks", action="store_true", help="batch: per-network lines")
    p.add_argument("-x", "--vbds", action="store_true", help="batch: per-block-device lines")
    p.add_argument("-v", "--vcpus", action="store_true", help="batch: per-vCPU line")
    p.add_argument("-r", "--repeat-header", action="store_true", help="batch: header before each domain")
    p.add_argument("-f", "--full-name", action="store_true", help="batch: do not cut names at 10 characters")
    p.add_argument("-z", "--dom0-first", action="store_true", help="batch: Domain-0 first, whatever the order")
    p.add_argument("--format", choices=("text", "csv", "json"), default="text",
                   help="batch output: xentop text (default), CSV, or one JSON object per update")
    p.add_argument("--reconnect", action="store_true",
                   help="batch: when the connection is lost, wait and go on (1 s doubling to 30 s between tries) "
                        "instead of exiting with status 1")
    p.add_argument("--replay", metavar="FILE", help="show a session written by 'xentui record -o FILE' "
                   "(UI: Space pauses, , . step, [ ] seek, - + speed; batch: -b --replay FILE)")
    p.add_argument("--demo", action="store_true", help="replay the session bundled with xentui (real lab guests)")
    p.add_argument("-V", "--version", action="version", version=f"xentui {__version__}")
    return p


def _demo():
    """The session bundled with xentui, as a replay source."""
    from xentui.sources.replay import ReplaySource, demo_path

    return ReplaySource.open(demo_path(), demo=True)


def _replay(args: argparse.Namespace):
    """The replay source asked for (--replay, --demo), or None."""
    from xentui.sources.replay import ReplaySource

    if args.demo:
        return _demo()
    if args.replay:
        return ReplaySource.open(args.replay)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lab"]:
        from xentui import lab

        return lab.main(argv[1:])
    if argv[:1] == ["record"]:
        from xentui import record_main

        return record_main.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.replay and args.demo:
        parser.error("--replay and --demo are two sessions: choose one")
    if (args.replay or args.demo) and (args.connect or args.write):
        parser.error("a replay shows a recording: -c and -w do not apply to it")

    from xentui.sources import SourceError, open_source
    from xentui.sources.replay import ReplayError, ReplaySource

    loop = None
    if not args.batch:  # libvirt's events run on the UI's loop: registered before the connection opens
        import asyncio

        from xentui.sources.libvirt import events

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        events.use_loop(loop)
    try:
        source = _replay(args)
        if source is None:
            source = open_source(args.connect, readonly=not args.write)
    except ReplayError as err:
        print(f"xentui: {one_line(str(err))}", file=sys.stderr)
        return EXIT_USAGE
    except SourceError as err:
        # No hypervisor here: the interactive view offers the demo (unless a URI was asked for by name);
        # batch mode and an explicit -c fail with one line, as a script expects.
        if args.batch or args.connect:
            print(f"xentui: {one_line(str(err))} (xentui --demo shows a recorded session)", file=sys.stderr)
            return 1
        print(f"xentui: {one_line(str(err))}\n"
              "xentui: showing the bundled demo instead (xentui --demo); -c URI picks a hypervisor",
              file=sys.stderr)
        try:
            source = _demo()
        except ReplayError as demo_err:
            print(f"xentui: {one_line(str(demo_err))}", file=sys.stderr)
            return 1
        source.fallback = str(err)
    from xentui import config

    config_path = config.config_dir() / "config.toml"
    settings, problems = config.load(config_path, cli={"delay": args.delay, "theme": args.theme})
    if args.batch:
        from xentui import batch
        from xentui.output.xentop import XentopOptions

        opts = batch.BatchOptions(
            delay=args.delay if args.delay is not None else 3.0,  # xentop's default; the UI's setting is not used
            iterations=args.iterations,
            format=args.format,
            reconnect=args.reconnect,
            xentop=XentopOptions(
                networks=args.networks,
                vbds=args.vbds,
                vcpus=args.vcpus,
                repeat_header=args.repeat_header,
                full_name=args.full_name,
                dom0_first=args.dom0_first,
            ),
        )
        if isinstance(source, ReplaySource):
            return batch.replay(source, opts)
        return batch.main(source, opts)
    from xentui.ui.app import run_app

    return run_app(source, settings, problems, config_path, loop=loop)
