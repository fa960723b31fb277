"""Reading recordings: :func:`load` (a :class:`Recording`) and :class:`ReplaySource` (a Source over it).

The whole file is read and checked when opened (a damaged recording is refused with one line
before anything is shown).  Rates come from the recorded monotonic times through the same
:func:`~xentui.model.build_snapshot` as live data, never from the wall clock of the replay.
Playing (position, speed, pause) is :class:`~xentui.recording.player.ReplayPlayer`'s job.
"""

from __future__ import annotations

import gzip
import json
import zlib
from array import array
from importlib import resources
from pathlib import Path
from typing import Any

from xentui import limits
from xentui.model import HostSample, RawSample, Snapshot, build_snapshot
from xentui.recording import delta
from xentui.recording import format as recformat
from xentui.recording.fields import FormatError
from xentui.sources.base import Source, SourceError
from xentui.text import first_line


class ReplayError(SourceError):
    """A recording that cannot be read: one line naming the file and what is wrong."""


EAGER_DOMAIN_TICKS = 20_000  # up to this many domain-ticks (a tick counts as one too) a recording is decoded
EAGER_BYTES = 8 * limits.MIB  # (and checked) whole at open, if its ticks with deltas applied are at most this big
CACHE_BYTES = 8 * limits.MIB  # decoded ticks of a large recording kept for reuse (at least two: a rate needs both)


class Recording:
    """A recording's ticks: all decoded when small; else each kept as compressed whole-tick JSON and
    decoded when shown (an hour of 1000 domains would be ~9 GB of Python objects; this way ~0.2 GB).

    Structure (gzip, JSON, deltas) and the limits (xentui/limits.py) are checked at open either way;
    values of a large recording are checked as its ticks are decoded, and a bad one raises ReplayError
    naming file and tick.
    """

    def __init__(self, path: str, header: dict[str, Any], times: array[float], ticks: _Ticks | None,
                 samples: list[RawSample] | None):
        self.path = path
        self.header = header
        self.times = times  # monotonic seconds of each tick: seek and pace without decoding
        self._ticks = ticks
        self._samples = samples
        self._cache: dict[int, RawSample] = {}

    def __len__(self) -> int:
        return len(self.times)

    @property
    def eager(self) -> bool:
        return self._samples is not None

    def sample(self, index: int) -> RawSample:
        if self._samples is not None:
            return self._samples[index]
        raw = self._cache.get(index)
        if raw is None:
            assert self._ticks is not None  # not eager: packed ticks
            try:
                raw = self._ticks.unpack(index)
            except FormatError as err:
                raise ReplayError(f"{self.path}: tick {index + 1}: {err}") from None
            sizes = self._ticks.sizes
            while len(self._cache) >= 2 and sum(sizes[i] for i in self._cache) + sizes[index] > CACHE_BYTES:
                self._cache.pop(next(iter(self._cache)))
            self._cache[index] = raw
        return raw

    @property
    def samples(self) -> tuple[RawSample, ...]:
        return tuple(self.sample(i) for i in range(len(self)))


def demo_path() -> Path:
    """The session bundled in the package (recorded from real lab guests with ``xentui record``)."""
    return Path(str(resources.files("xentui") / "data" / "demo.xtrec.gz"))


class _Ticks:
    """The ticks read so far: resolved dicts while small, packed once large; every total checked.

    Packed: each tick as compact JSON without its host (zlib'd unless tiny), the hosts apart (each
    written once per change), so that a file of a million empty ticks stays a few tens of MiB.
    """

    def __init__(self) -> None:
        self.times = array("d")
        self.sizes = array("L")  # bytes of each whole tick (with its host): what a decoded tick costs
        self.small: list[dict[str, Any]] | None = []  # decoded whole after the last line, while the recording is small
        self.packed: list[bytes] = []
        self.hosts: list[bytes] = []
        self.host_of = array("L")
        self._host: list[Any] | None = None  # the last host (an object of the reader's state) and its size
        self._host_bytes = 0
        self.domain_ticks = self.expanded = self.held = 0

    def add(self, whole: dict[str, Any]) -> None:
        if len(self.times) >= limits.MAX_TICKS:
            raise limits.LimitError(f"more than {limits.MAX_TICKS:,} ticks: a recording may hold at most "
                                    f"{limits.MAX_TICKS:,}")
        host = whole.pop("h")
        if host is not self._host:
            self._host, text = host, _dumps(host)
            self._host_bytes = len(text)
            self.hosts.append(text)
            self._count_held(len(text))
        text = _dumps(whole)
        whole["h"] = host
        tick_bytes = len(text) + self._host_bytes
        if tick_bytes > limits.MAX_TICK_BYTES:
            raise limits.LimitError(f"the tick is {limits.size(tick_bytes)} with its deltas applied: a recording's "
                                    f"tick may be at most {limits.size(limits.MAX_TICK_BYTES)}")
        self.expanded += tick_bytes
        if self.expanded > limits.MAX_EXPANDED_BYTES:
            most = limits.size(limits.MAX_EXPANDED_BYTES)
            raise limits.LimitError(f"its ticks are more than {most} with their deltas applied: a recording may "
                                    f"be at most {most}")
        self.domain_ticks += len(whole["d"]) + 1
        self.times.append(whole["t"])
        self.sizes.append(tick_bytes)
        self.host_of.append(len(self.hosts) - 1)
        if self.small is not None and self.domain_ticks <= EAGER_DOMAIN_TICKS and self.expanded <= EAGER_BYTES:
            self.small.append(whole)
            return
        if self.small is not None:  # grown large: the ticks kept to be decoded are packed too
            for w in self.small:
                self._keep(_dumps({k: v for k, v in w.items() if k != "h"}))
            self.small = None
        self._keep(text)

    def _keep(self, text: bytes) -> None:
        packed = text if len(text) < 128 else zlib.compress(text, 1)  # JSON starts with "{", zlib with 0x78
        self._count_held(len(packed))
        self.packed.append(packed)

    def _count_held(self, n: int) -> None:
        self.held += n + 64  # the bytes object and its slot, the tick's time, size and host
        if self.held > limits.MAX_HELD_BYTES:
            raise limits.LimitError(f"its ticks take more than {limits.size(limits.MAX_HELD_BYTES)} even "
                                    f"compressed: a replay holds at most {limits.size(limits.MAX_HELD_BYTES)}")

    def unpack(self, index: int) -> RawSample:
        packed = self.packed[index]
        whole = json.loads(packed if packed[:1] == b"{" else zlib.decompress(packed))
        whole["h"] = json.loads(self.hosts[self.host_of[index]])
        return delta.decode_tick(whole)


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _dumps(value: object) -> bytes:
    return _ENCODER.encode(value).encode()


def load(path: str | Path) -> Recording:
    """Read and check a recording, or ReplayError with one line."""
    name = str(path)
    header: dict[str, Any] | None = None
    state: dict[str, Any] = {}
    ticks = _Ticks()
    line_no = 0
    try:
        with gzip.open(name, "rb") as f:
            for line_no, line in limits.read_lines(f):  # type: ignore[arg-type]  # GzipFile is binary IO
                try:
                    value = limits.parse(line)
                except limits.LimitError:
                    raise
                except (ValueError, UnicodeDecodeError) as err:
                    what = "not a xentui recording" if header is None else "a damaged line"
                    raise ReplayError(f"{name}: line {line_no} is not JSON ({what}: {_first(err)})") from None
                if header is None:
                    header = recformat.check_header(value)
                else:
                    ticks.add(delta.resolve_tick(value, state))
    except (FormatError, limits.LimitError) as err:
        text = str(err)
        if header is None and isinstance(err, FormatError):
            raise ReplayError(f"{name}: {text}") from None
        where = "" if text.startswith("line ") else f"line {line_no}: "
        raise ReplayError(f"{name}: {where}{text}") from None
    except FileNotFoundError:
        raise ReplayError(f"{name}: no such file (write one with 'xentui record -o {name}')") from None
    except IsADirectoryError:
        raise ReplayError(f"{name}: is a directory, not a recording") from None
    except PermissionError:
        raise ReplayError(f"{name}: permission denied") from None
    except gzip.BadGzipFile:
        raise ReplayError(f"{name}: not a xentui recording (not gzip-compressed; 'xentui record' writes "
                          ".xtrec.gz files)") from None
    except EOFError:
        raise ReplayError(f"{name}: truncated after {len(ticks.times)} complete ticks (the file was cut short, "
                          "e.g. the recorder was killed or the copy is incomplete)") from None
    except (zlib.error, OSError) as err:
        raise ReplayError(f"{name}: corrupt compressed data near line {line_no + 1} ({_first(err)})") from None
    except (MemoryError, RecursionError, OverflowError) as err:  # the limits should make these unreachable
        raise ReplayError(f"{name}: line {line_no}: beyond what xentui can read ({type(err).__name__})") from None
    if header is None:
        raise ReplayError(f"{name}: empty file (a recording starts with a {recformat.FORMAT!r} header line)")
    if not ticks.times:
        raise ReplayError(f"{name}: holds a header but no ticks (the recording stopped before its first sample)")
    if ticks.small is None:
        return Recording(name, header, ticks.times, ticks, None)  # large: decoded when shown
    samples: list[RawSample] = []
    hosts: dict[int, tuple[list[Any], HostSample]] = {}
    for i, whole in enumerate(ticks.small):
        try:
            samples.append(delta.decode_tick(whole, hosts))
        except FormatError as err:
            raise ReplayError(f"{name}: line {i + 2}: {err}") from None
    return Recording(name, header, ticks.times, None, samples)


def _first(err: BaseException) -> str:
    text = first_line(err)
    return text[:120]


class ReplaySource(Source):
    """A recording behind the source interface: ``collect()`` returns the tick after ``index`` and moves
    there (SourceError at the end).  ``demo``: the bundled session.

    ``collect``/``index`` serve the contract tests and anything that reads a recording as a source; the
    live view and batch replay move the :class:`ReplayPlayer`'s own position instead."""

    def __init__(self, recording: Recording, *, demo: bool = False):
        self.recording = recording
        self.demo = demo
        self.uri = f"replay:{recording.path}"
        self.index = min(1, len(recording) - 1)  # the first tick has no rates: start at the second

    @classmethod
    def open(cls, path: str | Path, *, demo: bool = False) -> ReplaySource:
        return cls(load(path), demo=demo)

    def collect(self) -> RawSample:
        if self.index + 1 >= len(self.recording):
            raise SourceError(f"{self.recording.path}: end of the recording")
        self.index += 1
        return self.recording.sample(self.index)

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self.recording)

    def snapshot(self, index: int) -> Snapshot:
        """The snapshot of tick ``index``, rates against the tick before it."""
        prev = self.recording.sample(index - 1) if index > 0 else None
        return build_snapshot(prev, self.recording.sample(index), seq=index + 1)
