"""A tick's pure stages on captured input, compared between checkouts: ``build_snapshot`` (rates and views),
``parse_stats`` (libvirt's records as samples) and the batch JSON frame, in each checkout's own code on the very
same samples, so that a change of a few ms a tick shows above the noise of whole-monitor runs (1-2 points of a
core between two 60 s runs).

1. Capture from the running guests (root, local qemu:///system; the fast path with the monitor's figures in
   turns, as the live view and ``--fast`` read them): ``bench/stage_cost.py capture /tmp/ticks.pkl --ticks 10``
2. Time each checkout (``git worktree add /tmp/before REV``), in turns, each its best of ``--repeat`` passes:
   ``bench/stage_cost.py time /tmp/ticks.pkl /tmp/before . --rounds 3``

Each checkout runs in a process of its own started in its directory (``python -c`` puts the working directory
first on the path: that checkout's xentui is the one imported).  Its process CPU time (``time.process_time``) is
what is counted.  The capture is a pickle: only for checkouts whose model classes have the same fields.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

TIMER = r'''
import json, pickle, sys, time
from xentui.model import build_snapshot
from xentui.output import records
from xentui.sources.libvirt.bulk_stats import parse_stats
capture = pickle.load(open(sys.argv[1], "rb"))
raws, parses, repeat = capture["raws"], capture["parse"], int(sys.argv[2])

def snapshots():
    prev = shot = None
    out = []
    for raw in raws:
        shot = build_snapshot(prev, raw, before=shot)
        prev = raw
        out.append(shot)
    return out

def best(work, per):
    times = []
    for _ in range(repeat):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return 1000 * min(times) / per

shots = snapshots()
print(json.dumps({
    "domains": len(raws[-1].domains),
    "build_snapshot_ms": best(snapshots, len(raws)),
    "parse_stats_ms": best(lambda: [[parse_stats(*a, **k) for a, k in tick] for tick in parses], len(parses)),
    "json_frame_ms": best(lambda: [records.json_frame(s, i) for i, s in enumerate(shots[1:])], len(shots) - 1),
}))
'''


def capture(out: Path, ticks: int, uri: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import xentui.sources.libvirt as libvirt_source
    from xentui.sources.libvirt import LibvirtSource, fastpath
    from xentui.sources.libvirt.bulk_stats import parse_stats as parse

    fastpath.configure(True, turns=True)
    parses: list[list[tuple[tuple[object, ...], dict[str, object]]]] = []

    def kept(*args: object, **kwargs: object) -> object:  # each record as the source parsed it
        parses[-1].append((args, kwargs))
        return parse(*args, **kwargs)  # type: ignore[arg-type]

    libvirt_source.parse_stats = kept  # type: ignore[attr-defined,assignment]  # (the name the source calls)
    source = LibvirtSource(uri)
    raws = []
    try:
        for _ in range(ticks):
            parses.append([])
            raws.append(source.collect())
            time.sleep(1.0)
    finally:
        source.close()
    with out.open("wb") as f:
        pickle.dump({"raws": raws, "parse": parses[-3:]}, f)
    print(f"{len(raws)} ticks of {len(raws[-1].domains)} domains in {out}")


def time_trees(captured: Path, trees: list[Path], rounds: int, repeat: int) -> None:
    print("| round | checkout | domains | build_snapshot | parse_stats (a tick's records) | JSON frame |")
    print("|---|---|---|---|---|---|")
    for n in range(rounds):
        for tree in trees if n % 2 == 0 else reversed(trees):
            done = subprocess.run([sys.executable, "-c", TIMER, str(captured.resolve()), str(repeat)],
                                  cwd=tree, capture_output=True, text=True, timeout=600,
                                  env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
            if done.returncode != 0:
                sys.exit(f"{tree}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}")
            r = json.loads(done.stdout)
            print(f"| {n + 1} | {tree} | {r['domains']} | {r['build_snapshot_ms']:.2f} ms | "
                  f"{r['parse_stats_ms']:.2f} ms | {r['json_frame_ms']:.2f} ms |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    take = sub.add_parser("capture", help="samples of the running guests, and the records they were parsed from")
    take.add_argument("out", type=Path)
    take.add_argument("--ticks", type=int, default=10)
    take.add_argument("--uri", default="qemu:///system")
    compare = sub.add_parser("time", help="each checkout's stages on the captured samples")
    compare.add_argument("captured", type=Path)
    compare.add_argument("trees", nargs="+", type=Path, help="checkouts of xentui (a git worktree each)")
    compare.add_argument("--rounds", type=int, default=3)
    compare.add_argument("--repeat", type=int, default=15, help="passes a stage is timed (its best counts)")
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.out, args.ticks, args.uri)
    else:
        time_trees(args.captured, args.trees, args.rounds, args.repeat)


if __name__ == "__main__":
    main()
