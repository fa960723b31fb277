"""Command line: xentop's options plus ours.  Bad input gets one line and exit 2.

``xentui`` (the live view or batch: view.py, batch.py), ``xentui record`` (record.py), ``xentui export`` (export.py),
``xentui lab``.
"""

from __future__ import annotations

import argparse
import gc
import sys

from xentui import __version__
from xentui.cli.common import EXIT_USAGE, UsageParser, add_fast_path_option, delay_arg

__all__ = ["EXIT_USAGE", "UsageParser", "build_parser", "delay_arg", "main"]


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
        "'xentui record -o FILE' records a session for --replay; "
        "'xentui export' serves OpenMetrics for Prometheus.",
    )
    p.add_argument("-c", "--connect", metavar="URI", action="append",
                   help="hypervisor URI (default: $LIBVIRT_DEFAULT_URI, else xen:///system on a Xen host, else "
                   "qemu:///system); repeat it to watch several hosts at once, e.g. -c qemu+ssh://kvm1/system "
                   "-c qemu+ssh://kvm2/system (each named after its host part)")
    p.add_argument("--fleet", metavar="NAME", help="watch the hosts of group NAME of the fleet file (or 'all'), "
                   "together with any -c URI")
    p.add_argument("--fleet-file", metavar="PATH", help="the fleet file for --fleet (default: "
                   "~/.config/xentui/fleet.toml, $XDG_CONFIG_HOME honoured; docs/fleet.md)")
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
    p.add_argument("-p", "--pcpus", action="store_true", help="batch: each physical CPU's busy %% after the domains, "
                   "as xentop 4.21 -p (Xen: the hypervisor's idle time; KVM: this host's /proc/stat); with "
                   "--format json, as pcpu_busy_pct")
    p.add_argument("--format", choices=("text", "csv", "json"), default="text",
                   help="batch output: xentop text (default; one host only), CSV, or one JSON object per update")
    p.add_argument("--reconnect", action="store_true",
                   help="batch: when the connection is lost, wait and go on (1 s doubling to 30 s between tries) "
                        "instead of exiting with status 1")
    p.add_argument("--replay", metavar="FILE", help="show a session written by 'xentui record -o FILE' "
                   "(UI: Space pauses, , . step, [ ] seek, - + speed; batch: -b --replay FILE)")
    p.add_argument("--record", metavar="FILE", help="record while watching: the live view's samples to a new "
                   "FILE (mode 0600) for --replay, as 'xentui record -o FILE' does")
    p.add_argument("--force", action="store_true", help="with --record: replace FILE if it exists")
    p.add_argument("--alerts", action="store_true", help="batch: print only the alerts' transitions (the "
                   "[[alert]] rules of config.toml), one line each, or one JSON object each with --format json; "
                   "replays too (-b --alerts --replay FILE: what would have fired)")
    p.add_argument("--exit-on", choices=("warn", "crit"), help="with --alerts: exit with status 3 when an alert "
                   "of this severity (crit; warn: any) fires")
    add_fast_path_option(p)
    p.add_argument("--fast", action="store_true", help="batch, local qemu:///system: memory and disk figures "
                   "(QEMU monitor round trips) of a few guests each update, in turns, not all of them (the live view "
                   "does so for the rows off screen unless --record)")
    p.add_argument("--demo", action="store_true", help="replay the session bundled with xentui (real lab guests)")
    p.add_argument("-V", "--version", action="version", version=f"xentui {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    """The program (``argv`` None: the command line's) or a call with its arguments (tests: the process as it is)."""
    whole_process = argv is None
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lab"]:
        from xentui import lab

        return lab.main(argv[1:])
    if argv[:1] == ["record"]:
        from xentui.cli import record

        return record.main(argv[1:])
    if argv[:1] == ["export"]:
        from xentui.cli import export

        return export.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.replay and args.demo:
        parser.error("--replay and --demo are two sessions: choose one")
    if (args.replay or args.demo) and (args.connect or args.fleet or args.write or args.record):
        parser.error("a replay shows a recording: -c, --fleet, -w and --record do not apply to it")
    if args.fleet_file and not args.fleet:
        parser.error("--fleet-file says where the fleet file is: give --fleet NAME (or --fleet all) too")
    if args.record and args.batch:
        parser.error("--record is for the live view: 'xentui record -o FILE' records without one")
    if args.pcpus and not args.batch:
        parser.error("-p prints each pCPU's use in batch mode: add -b (the live view shows pCPUs with the 1 key)")
    if args.pcpus and args.format == "csv":
        parser.error("-p adds pCPU figures to batch text or JSON; CSV has one row per domain: use --format text "
                     "or --format json")
    if args.fast and args.record:
        parser.error("--fast reads some figures in turns; --record keeps every figure of every update: choose one")
    if args.fast and args.no_fast_path:
        parser.error("--fast reads the fast path's guests' memory and disk figures in turns: drop --no-fast-path")
    if args.alerts and not args.batch:
        parser.error("--alerts prints alert transitions in batch mode: add -b (the live view shows alerts itself)")
    if args.alerts and args.format == "csv":
        parser.error("--alerts prints one line or one JSON object per transition: use --format text or json")
    if args.exit_on and not args.alerts:
        parser.error("--exit-on ends the alerts' watch mode: give -b --alerts too")
    if args.force and not args.record:
        parser.error("--force replaces the file of --record FILE: give --record too")
    from xentui.cli import view

    if whole_process:
        monitor_gc()
    return view.main(args)


def monitor_gc() -> None:
    """Fewer collections for a process that builds ~10,000 short-lived records a tick and keeps few cycles: at
    300 guests the default thresholds spent 0.6-0.7 % of a core collecting (a full pass of 20-30 ms every ~10 s),
    10,000 spends 0.15 % (bench/gc_cost.py, bench/RESULTS.md).  What is loaded by now (the CLI, the core) is
    never looked at again."""
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
