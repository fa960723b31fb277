"""``xentui`` without a subcommand: open the source (or a recording, or the demo), then the live view or batch."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from xentui import safefile
from xentui.cli.common import EXIT_USAGE, use_host_paths
from xentui.model import RawSample
from xentui.sources import Source, SourceError
from xentui.sources.fleet import HostSpec, open_hosts
from xentui.text import one_line, visible
from xentui.threads import Worker

if TYPE_CHECKING:
    import asyncio

    from xentui.recording.player import ReplayPlayer


def _player(args: argparse.Namespace, fallback: str | None = None) -> ReplayPlayer | int:
    """The recording asked for (--replay, --demo; the demo when ``fallback`` says why), or the exit status."""
    from xentui.recording import reader
    from xentui.recording.player import ReplayPlayer

    try:
        if args.demo or fallback is not None:
            player = ReplayPlayer.open(reader.demo_path(), demo=True)
        else:
            player = ReplayPlayer.open(args.replay)
    except reader.ReplayError as err:
        print(f"xentui: {one_line(str(err))}", file=sys.stderr)
        return 1 if fallback is not None else EXIT_USAGE
    player.fallback = fallback
    return player


def _hosts(args: argparse.Namespace) -> list[HostSpec] | int:
    """The hosts of -c (repeated) and --fleet, or the exit status after one line saying what is wrong."""
    from xentui.sources.fleet import FleetFileError, choose_hosts

    try:
        specs = choose_hosts(args.connect, args.fleet, Path(args.fleet_file) if args.fleet_file else None)
    except FleetFileError as err:
        print(f"xentui: {err}", file=sys.stderr)
        return EXIT_USAGE
    if len(specs) > 1 and args.batch and args.format == "text" and not args.alerts:
        print(f"xentui: the xentop text layout shows one host; for {len(specs)} hosts use --format json or "
              "--format csv", file=sys.stderr)
        return EXIT_USAGE
    if len(specs) > 1 and args.pcpus:
        print(f"xentui: -p shows one host's pCPUs; for {len(specs)} hosts drop -p (the fleet view's 1 key shows "
              "each host's pCPUs)", file=sys.stderr)
        return EXIT_USAGE
    if len(specs) > 1 and args.record:
        print(f"xentui: --record records one host; recording {len(specs)} hosts is not supported yet",
              file=sys.stderr)
        return EXIT_USAGE
    return specs


def _open(args: argparse.Namespace, specs: list[HostSpec]) -> tuple[Source, Future[RawSample | None] | None]:
    """The live source, and for the live view the future of its first sample: both are made in a thread while
    the UI's modules load, the slow part of start-up (docs/feed.md).  The UI waits for the connection (bounded
    by its deadline), never for the sample: it shows "connecting…" until the sample comes."""
    def open_it() -> Source:
        return open_hosts(specs, readonly=not args.write, delay=args.delay, name=args.fleet)

    if args.batch:
        return open_it(), None
    worker = Worker("xentui-open")
    opening = worker.submit(open_it)
    first: Future[RawSample | None] = worker.submit(lambda: _first_sample(opening.result()))
    worker.shutdown()
    import xentui.ui.app  # noqa: F401  # meanwhile

    return opening.result(), first


def _first_sample(source: Source) -> RawSample | None:
    try:
        return source.collect()
    except SourceError:
        return None  # the poller collects again and says what is wrong


def in_turns(args: argparse.Namespace) -> bool:
    """Whether the QEMU monitor's figures are read in turns (fastpath/turns.py): in the live view, those of the rows
    off screen, unless --record (every figure of every update); in batch, a few guests' an update with --fast."""
    return bool(args.fast) if args.batch else not args.record


def main(args: argparse.Namespace) -> int:
    if args.record and (problem := safefile.refusal(args.record, args.force)):  # before connecting, as record does
        print(f"xentui: {visible(problem)}", file=sys.stderr)
        return EXIT_USAGE
    loop: asyncio.AbstractEventLoop | None = None
    if not args.batch:  # libvirt's events (their own thread) are registered before the connection opens
        import asyncio

        from xentui.sources.libvirt import events

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        events.start()
    from xentui import config
    from xentui.sources.libvirt import fastpath

    config_path = config.config_dir() / "config.toml"
    settings, problems = config.load(config_path, cli={"delay": args.delay, "theme": args.theme})
    use_host_paths(settings)
    fastpath.configure(not args.no_fast_path, turns=in_turns(args))
    source: Source | None = None
    first: Future[RawSample | None] | None = None
    player: ReplayPlayer | int | None = None
    if args.replay or args.demo:
        player = _player(args)
    else:
        specs = _hosts(args)
        if isinstance(specs, int):
            return specs
        try:
            source, first = _open(args, specs)
        except SourceError as err:
            # No hypervisor here: the interactive view offers the demo (unless a URI was asked for by name);
            # batch mode and an explicit -c fail with one line, as a script expects.
            if args.batch or args.connect or args.fleet or args.record:
                print(f"xentui: {one_line(str(err))} (xentui --demo shows a recorded session)", file=sys.stderr)
                return 1
            print(f"xentui: {one_line(str(err))}\n"
                  "xentui: showing the bundled demo instead (xentui --demo); -c URI picks a hypervisor",
                  file=sys.stderr)
            player = _player(args, fallback=str(err))
    if isinstance(player, int):
        return player
    period = settings.guest.balloon_stats_period_s  # [guest]: set on the domains whose period is 0
    if source is not None and period and (refused := source.set_balloon_stats_period(period)):
        problems.append(refused)
        if args.batch:
            print(f"xentui: {refused}", file=sys.stderr)
    if args.batch:
        from xentui.cli import batch
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
                pcpus=args.pcpus,
            ),
        )
        if args.alerts:
            from xentui.alerts.watch import open_watch

            watch = open_watch(settings, problems, args.format, args.exit_on, replay=player is not None)
            if watch is None:
                return EXIT_USAGE
            opts = replace(opts, watch=watch)
        try:
            if player is not None:
                return batch.replay(player, opts)
            assert source is not None
            return batch.main(source, opts)
        finally:
            if opts.watch is not None:
                opts.watch.close()
    recorder = None
    if args.record and source is not None:
        from xentui.cli.record import start_recording

        recorder = start_recording("xentui", args.record, source, settings.delay, args.force)
        if recorder is None:
            return EXIT_USAGE
    from xentui.ui.app import run_app

    try:
        return run_app(player.source if player is not None else source, settings, problems, config_path,  # type: ignore[arg-type]
                       loop=loop, player=player, recorder=recorder, first=first)
    finally:
        if recorder is not None:
            from xentui.cli.record import finish_recording

            refused = finish_recording(recorder, args.record)
            print(f"xentui: {refused or f'{recorder.ticks} ticks written to {visible(str(args.record))}'}",
                  file=sys.stderr)
