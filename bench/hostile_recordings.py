"""Peak memory of opening hostile recordings (issue 14), and of the largest legitimate one.

    .venv/bin/python bench/hostile_recordings.py [--legit-domains 1000] [--legit-ticks 3600]

Each case is crafted into a temp dir, then opened twice, each time in a child process whose peak
RSS is read from ``os.wait4`` (ru_maxrss): ``xentui -b --replay FILE -i 2`` (batch, stdout
discarded) and ``ReplaySource.open(FILE)`` (what the full-screen view does before it draws).
Prints a Markdown table for bench/RESULTS.md: file size, decompressed size, exit status, the one
line on stderr, and the peak RSS of each child.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from xentui.recording import delta
from xentui.recording import format as recformat
from xentui.recording.writer import Recorder
from xentui.sources.synthetic import SyntheticSource

ROOT = Path(__file__).resolve().parents[1]
XENTUI = ROOT / ".venv" / "bin" / "xentui"
PYTHON = ROOT / ".venv" / "bin" / "python"
MIB = 1 << 20
OPEN = """import sys
from xentui.recording.reader import ReplayError, ReplaySource
try:
    ReplaySource.open(sys.argv[1])
except ReplayError as err:
    print(f"xentui: {err}", file=sys.stderr)
    sys.exit(2)
"""


def _head_and_first_tick(domains: int = 0) -> list[bytes]:
    source = SyntheticSource(count=domains)
    raw = source.collect()
    head = recformat.header(source.uri, 1.0, 0.0, "bench")
    tick = delta.encode_tick(raw, recformat.encode_host(raw.host), {})
    return [json.dumps(head).encode() + b"\n", tick.encode()]


def _write(path: Path, lines: Iterator[bytes]) -> int:
    """gzip level 9; returns the decompressed size."""
    total = 0
    with gzip.open(path, "wb", compresslevel=9) as f:
        for chunk in lines:
            total += len(chunk)
            f.write(chunk)
    return total


def empty_ticks(count: int) -> Callable[[Path], int]:
    """``count`` ticks as small as a tick can be, all alike (so gzip packs ~1000 into a few bytes)."""
    def make(path: Path) -> int:
        def lines() -> Iterator[bytes]:
            yield from _head_and_first_tick()
            block = b'{"t":1,"w":0,"f":1,"d":[]}\n' * 10_000
            for start in range(1, count, 10_000):
                yield block if start + 10_000 <= count else block[: (count - start) * 27]
        return _write(path, lines())
    return make


def huge_line(path: Path) -> int:
    def lines() -> Iterator[bytes]:
        yield from _head_and_first_tick()
        yield b'{"t":2,"w":0,"f":1,"d":[],"x":"'
        for _ in range(1024):
            yield b"a" * MIB
        yield b'"}\n'
    return _write(path, lines())


def deep_nesting(path: Path) -> int:
    depth = 900_000  # under the bracket limit: refused for its depth
    return _write(path, iter([*_head_and_first_tick(), b'{"t":2,"w":0,"f":1,"d":' + b"[" * depth + b"]" * depth
                              + b"}\n"]))


def brackets(path: Path) -> int:
    return _write(path, iter([*_head_and_first_tick(), b'{"t":2,"w":0,"f":1,"d":[],"x":[' + b"[]," * 2_500_000
                              + b"0]}\n"]))


def many_domains(path: Path) -> int:
    domains = b",".join(b'["u%d","d%d",1,"running",0,1,1,0,0,0,[],[],[],0,null]' % (i, i) for i in range(100_000))
    return _write(path, iter([*_head_and_first_tick(), b'{"t":2,"w":0,"f":1,"d":[' + domains + b"]}\n"]))


def giant_strings(path: Path) -> int:
    name = b"x" * (7 * MIB)
    return _write(path, iter([*_head_and_first_tick(), b'{"t":2,"w":0,"f":1,"d":[["u","' + name
                              + b'",1,"running",0,1,1,0,0,0,[],[],[],0,null]]}\n']))


def huge_numbers(path: Path) -> int:
    lines = _head_and_first_tick(2)
    lines.append(b'{"t":3,"w":0,"f":1' + b"0" * 400 + b',"d":[]}\n')
    return _write(path, iter(lines))


def unchanged_deltas(domains: int, ticks: int) -> Callable[[Path], int]:
    """A gzip bomb made of valid ticks: every domain unchanged (a tiny delta) that expands to the whole domain."""
    def make(path: Path) -> int:
        def lines() -> Iterator[bytes]:
            head, first = _head_and_first_tick(domains)
            yield head
            yield first
            uuids = [d[0] if type(d) is list else d["="] for d in json.loads(first)["d"]]
            deltas = json.dumps([{"=": u} for u in uuids], separators=(",", ":")).encode()
            for t in range(2, ticks):
                yield b'{"t":%d,"w":0,"f":1,"d":' % t + deltas + b"}\n"
        return _write(path, lines())
    return make


def legit(domains: int, ticks: int) -> Callable[[Path], int]:
    def make(path: Path) -> int:
        source = SyntheticSource(count=domains)
        rec = Recorder(path, source.uri, 1.0)
        for _ in range(ticks):
            rec.write(source.collect())
        rec.close()
        return rec.bytes_raw
    return make


def run(argv: list[str]) -> tuple[int, str, float, float]:
    """(exit status, first stderr line, peak RSS MiB, seconds) of one child."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace").strip().splitlines()
    return proc.returncode, (text[0] if text else "") + (f" (+{len(text) - 1} lines)" if len(text) > 1 else ""), \
        usage.ru_maxrss / 1024, time.monotonic() - start


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--legit-domains", type=int, default=1000)
    p.add_argument("--legit-ticks", type=int, default=3600)
    args = p.parse_args()
    cases = {
        "empty ticks, 20 M": empty_ticks(20_000_000),
        "empty ticks, 1 M - 1 (just under the tick limit)": empty_ticks(999_999),
        "one 1 GiB line": huge_line,
        "nesting 900 000 deep": deep_nesting,
        "2.5 M brackets": brackets,
        "100 000 domains in a tick": many_domains,
        "a 7 MiB domain name": giant_strings,
        "a 401-digit number": huge_numbers,
        "1000 domains, then 20 000 unchanged deltas": unchanged_deltas(1000, 20_000),
        f"legit: {args.legit_domains} domains x {args.legit_ticks} ticks": legit(args.legit_domains, args.legit_ticks),
    }
    print("| recording | gzip | decompressed | `-b --replay`: exit, peak RSS | open: exit, peak RSS, s | "
          "the one line |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = run([str(PYTHON), "-c", "import xentui.recording.reader"])[2]
        for label, make in cases.items():
            path = Path(tmp) / "bomb.xtrec.gz"
            raw = make(path)
            code, line, rss, _ = run([str(XENTUI), "-b", "--replay", str(path), "-i", "2"])
            ocode, _, orss, secs = run([str(PYTHON), "-c", OPEN, str(path)])
            line = line.replace(str(path), "FILE").replace("|", "\\|")
            print(f"| {label} | {path.stat().st_size / 1024:,.0f} KiB | {raw / MIB:,.0f} MiB | {code}, "
                  f"{rss:.0f} MiB | {ocode}, {orss:.0f} MiB, {secs:.1f} | {line} |", flush=True)
            path.unlink()
        print(f"\nBaseline (python importing xentui.recording.reader): {baseline:.0f} MiB.")
    sys.exit(0)


if __name__ == "__main__":
    main()
