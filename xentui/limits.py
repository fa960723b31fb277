"""Bounds on outside numbers and on what a recording may hold (docs/record-format.md, "Limits").

Sources clamp or drop what is out of range (:func:`counter`, :func:`count`); a recording that
crosses a limit is refused with one line (:class:`LimitError`).  Reading a recording's lines goes
through :func:`read_lines`: a line's bytes and its JSON nesting are checked before it is parsed.
Pure standard library: the core never imports textual.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Iterator
from itertools import accumulate
from typing import IO, Any

MIB = 1 << 20
MAX_COUNTER = 1 << 64  # counters, sizes, ids: 0 <= n < 2**64 (what the rate maths and float64 hold)
MAX_CPUS = 1 << 16  # pCPU numbers (and entries of a host's topology, a tick's per-pCPU list)
MAX_VCPUS = 8192  # vCPUs of one domain (KVM allows 4096, Xen 512)
MAX_DEVICES = 4096  # NICs, and disks, of one domain
MAX_CACHES = 1024  # L3 caches of a host, cache banks of one domain
MAX_DOMAINS = 10_000  # domains in one tick
MAX_MESSAGES = 10_000  # errors, and notices, of one tick
MAX_WORD = 64  # characters of a guest type, device model or PCI address
MAX_HOSTDEVS = 256  # PCI host devices of one domain
MAX_AGENT_ITEMS = 64  # a guest agent's interfaces, addresses of one interface, filesystems, users (each)
MAX_AGENT_TEXT = 255  # characters of a guest agent's name (hostname, OS, kernel, mount point, user, ...)
MAX_NAME = 4096  # characters of a name, UUID, path, version, state or flag string
MAX_MESSAGE = 65_536  # characters of one error, notice or stale reason
MAX_SECONDS = 1e11  # times (monotonic, wall, boot, delay): finite, 0 <= t < 1e11 s (year 5138)
MAX_LINE_BYTES = 8 * MIB  # one line, decompressed (a 1000-domain tick written whole: 0.4 MiB)
MAX_TICK_BYTES = 16 * MIB  # one tick with its deltas applied, as compact JSON
MAX_DEPTH = 16  # JSON nesting of a line (the format uses 8: a guest agent's address, revision 6)
MAX_BRACKETS = 1_000_000  # '[' and '{' in one line, strings included (a 1000-domain tick: ~15 000)
MAX_TICKS = 1_000_000  # ticks in one file (11.5 days at 1 s)
MAX_EXPANDED_BYTES = 4 << 30  # all ticks with deltas applied (an hour of 1000 domains: 1.3 GiB)
MAX_HELD_BYTES = 384 * MIB  # ticks a replay keeps (compressed; an hour of 1000 domains: ~210 MiB)


class LimitError(ValueError):
    """A recording crossed one of the limits above (the reader adds file and line)."""


def counter(v: Any) -> int | None:
    """An outside counter as the model holds it: an int in [0, 2**64), else None (unknown).

    bool is not a number here, and a float, string or out-of-range value is dropped rather than
    carried into the rate maths.
    """
    return v if type(v) is int and 0 <= v < MAX_COUNTER else None


def count(v: Any, most: int) -> int:
    """How many of something a source says there are, as a loop bound: 0 unless an int, at most ``most``."""
    return max(0, min(v, most)) if type(v) is int else 0


def size(n: float) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n / 1024:.1f} KiB"


_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def depth(line: bytes, brackets: int) -> int:
    """How deep a JSON line nests (brackets in strings do not count), without parsing it; ``brackets``:
    how many '[' and '{' it holds (an upper bound, returned as is when it is too small to matter)."""
    if brackets <= MAX_DEPTH:
        return brackets
    text = _STRING.sub(b"", line) if b'\\"' in line else b"".join(line.split(b'"')[::2])
    return max(accumulate(array("b", text.translate(_BRACKETS, _NOT_BRACKETS))), default=0)


def read_lines(f: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of each line, its size and JSON nesting checked (LimitError naming the line).

    Reads at most MAX_LINE_BYTES + 1 bytes at a time, so one endless line never sits in memory.
    """
    line_no = 0
    while line := f.readline(MAX_LINE_BYTES + 1):
        line_no += 1
        if len(line) > MAX_LINE_BYTES:
            raise LimitError(f"line {line_no} is {_rest_of_line(f, len(line))}: a recording's line may be at most "
                             f"{size(MAX_LINE_BYTES)}")
        if (brackets := line.count(b"[") + line.count(b"{")) > MAX_BRACKETS:
            raise LimitError(f"line {line_no} holds {brackets:,} '[' and '{{': a recording's line may hold at most "
                             f"{MAX_BRACKETS:,}")
        if (d := depth(line, brackets)) > MAX_DEPTH:
            raise LimitError(f"line {line_no} nests {d} levels deep: a recording's JSON may nest at most "
                             f"{MAX_DEPTH} (the format uses 8)")
        yield line_no, line


def parse(line: bytes) -> Any:
    """One line's JSON (ValueError when it is not); NaN and Infinity are refused (LimitError)."""
    try:
        return _DECODER.decode(line.decode())
    except RecursionError:  # unbalanced brackets the depth count missed: still one line
        raise LimitError(f"it nests too deeply: a recording's JSON may nest at most {MAX_DEPTH}") from None


def _no_constant(name: str) -> Any:
    raise LimitError(f"{name} is not a number a recording may hold (every number is finite)")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _rest_of_line(f: IO[bytes], seen: int) -> str:
    """The size of an over-long line, read on in bounded chunks up to 4x the limit ('over N MiB' beyond)."""
    while seen <= 4 * MAX_LINE_BYTES:
        chunk = f.readline(MIB)
        seen += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return size(seen)
    return f"over {size(4 * MAX_LINE_BYTES)}"
