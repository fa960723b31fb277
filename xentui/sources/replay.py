"""Recorded sessions as a source: ``xentui --replay FILE`` and ``xentui --demo``.

The whole file is read and checked when opened (a damaged recording is refused with one line
before anything is shown).  Rates come from the recorded monotonic times through the same
:func:`~xentui.model.build_snapshot` as live data, never from the wall clock of the replay.
The UI moves the position (play, pause, step, seek, speed); batch mode walks it once.
"""

from __future__ import annotations

import gzip
import json
import zlib
from array import array
from importlib import resources
from pathlib import Path

from xentui import recformat
from xentui.model import RawSample, Snapshot, build_snapshot
from xentui.sources import SourceError

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
MAX_WAIT_S = 60.0  # a long gap in a recording (suspended recorder) is not waited out in full


class ReplayError(SourceError):
    """A recording that cannot be read: one line naming the file and what is wrong."""


EAGER_DOMAIN_TICKS = 20_000  # up to this many domain-ticks a recording is decoded (and checked) whole at open
CACHE_TICKS = 8


class Recording:
    """A recording's ticks: all decoded when small; else each kept as compressed whole-tick JSON and
    decoded when shown (an hour of 1000 domains would be ~9 GB of Python objects; this way ~0.2 GB).

    Structure (gzip, JSON, deltas) is checked at open either way; values of a large recording are
    checked as its ticks are decoded, and a bad one raises ReplayError naming file and tick.
    """

    def __init__(self, path: str, header: dict, times: array, ticks: list[bytes] | None,
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
            try:
                raw = _unpack(self._ticks[index])
            except recformat.FormatError as err:
                raise ReplayError(f"{self.path}: tick {index + 1}: {err}") from None
            if len(self._cache) >= CACHE_TICKS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[index] = raw
        return raw

    @property
    def samples(self) -> tuple[RawSample, ...]:
        return tuple(self.sample(i) for i in range(len(self)))


def demo_path() -> Path:
    """The session bundled in the package (recorded from real lab guests with ``xentui record``)."""
    return Path(str(resources.files("xentui") / "data" / "demo.xtrec.gz"))


def load(path: str | Path) -> Recording:
    """Read and check a recording, or ReplayError with one line."""
    name = str(path)
    header: dict | None = None
    state: dict = {}
    times = array("d")
    ticks: list[bytes] = []  # a large recording's ticks, compressed
    small: list[dict] = []  # the ticks while the recording is small enough to decode at open
    domain_ticks = 0
    line_no = 0
    try:
        with gzip.open(name, "rb") as f:
            for line_no, line in enumerate(f, 1):
                try:
                    value = json.loads(line)
                except (ValueError, UnicodeDecodeError) as err:
                    what = "not a xentui recording" if header is None else "a damaged line"
                    raise ReplayError(f"{name}: line {line_no} is not JSON ({what}: {_first(err)})") from None
                try:
                    if header is None:
                        header = recformat.check_header(value)
                        continue
                    whole = recformat.resolve_tick(value, state)
                    domain_ticks += len(whole["d"])
                    if domain_ticks <= EAGER_DOMAIN_TICKS:
                        small.append(whole)  # decoded whole below: not packed and unpacked again
                    else:
                        ticks.extend(_pack(w) for w in small)
                        small.clear()
                        ticks.append(_pack(whole))
                except recformat.FormatError as err:
                    where = "" if header is None else f"line {line_no}: "
                    raise ReplayError(f"{name}: {where}{err}") from None
                times.append(whole["t"])
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
        raise ReplayError(f"{name}: truncated after {len(times)} complete ticks (the file was cut short, "
                          "e.g. the recorder was killed or the copy is incomplete)") from None
    except (zlib.error, OSError) as err:
        raise ReplayError(f"{name}: corrupt compressed data near line {line_no + 1} ({_first(err)})") from None
    if header is None:
        raise ReplayError(f"{name}: empty file (a recording starts with a {recformat.FORMAT!r} header line)")
    if not times:
        raise ReplayError(f"{name}: holds a header but no ticks (the recording stopped before its first sample)")
    if domain_ticks > EAGER_DOMAIN_TICKS:
        return Recording(name, header, times, ticks, None)  # large: kept compressed, decoded when shown
    samples = []
    for i, whole in enumerate(small):
        try:
            samples.append(recformat.decode_tick(whole))
        except recformat.FormatError as err:
            raise ReplayError(f"{name}: line {i + 2}: {err}") from None
    return Recording(name, header, times, None, samples)


def _pack(whole: dict) -> bytes:
    return zlib.compress(json.dumps(whole, separators=(",", ":")).encode(), 1)


def _unpack(packed: bytes) -> RawSample:
    return recformat.decode_tick(json.loads(zlib.decompress(packed)))


def _first(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:120]


class ReplaySource:
    """A recording behind the source interface, with a position the UI moves.

    ``index`` is the tick shown.  ``collect()`` returns the tick after it and moves there
    (SourceError at the end), so a Poller can drive it too.
    """

    readonly = True
    replay = True

    def __init__(self, recording: Recording, *, demo: bool = False):
        self.recording = recording
        self.times = recording.times
        self.demo = demo
        self.uri = f"replay:{recording.path}"
        self.index = min(1, len(recording) - 1)  # the first tick has no rates: start at the second
        self.speed = 1.0
        self.playing = True
        self.fallback: str | None = None  # why the live source failed, when the demo stands in for it

    @classmethod
    def open(cls, path: str | Path, *, demo: bool = False) -> ReplaySource:
        return cls(load(path), demo=demo)

    # --- the source interface ---------------------------------------------------

    def collect(self) -> RawSample:
        if self.index + 1 >= len(self.recording):
            raise SourceError(f"{self.recording.path}: end of the recording")
        self.index += 1
        return self.recording.sample(self.index)

    def close(self) -> None:
        pass

    # --- position -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.recording)

    @property
    def at_end(self) -> bool:
        return self.index >= len(self.recording) - 1

    def snapshot(self, index: int | None = None) -> Snapshot:
        """The snapshot of tick ``index`` (default: the current one), rates against the tick before it."""
        i = self.index if index is None else index
        prev = self.recording.sample(i - 1) if i > 0 else None
        return build_snapshot(prev, self.recording.sample(i), seq=i + 1)

    def seek(self, index: int) -> None:
        self.index = max(0, min(len(self.recording) - 1, index))

    def step(self, ticks: int) -> None:
        self.seek(self.index + ticks)

    def seek_seconds(self, seconds: float) -> None:
        """Move by recorded time (negative: back), at least one tick."""
        target = self.times[self.index] + seconds
        i = self.index
        if seconds >= 0:
            while i + 1 < len(self.times) and self.times[i + 1] <= target:
                i += 1
            i = max(i, self.index + 1)
        else:
            while i > 0 and self.times[i - 1] >= target:
                i -= 1
            i = min(i, self.index - 1)
        self.seek(i)

    def faster(self, step: int) -> float:
        """Next speed up (step 1) or down (-1) in SPEEDS."""
        known = min(range(len(SPEEDS)), key=lambda k: abs(SPEEDS[k] - self.speed))
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, known + step))]
        return self.speed

    def wait_s(self) -> float:
        """Real seconds until the next tick at this speed: the recorded interval / speed."""
        if self.at_end:
            return MAX_WAIT_S
        gap = self.times[self.index + 1] - self.times[self.index]
        return max(0.0, min(MAX_WAIT_S, gap / self.speed))

    def position(self) -> str:
        """E.g. '00:01:05/00:10:00 tick 66/601 x2'."""
        first = self.times[0]
        now = self.times[self.index] - first
        total = self.times[-1] - first
        return f"{_hms(now)}/{_hms(total)} tick {self.index + 1}/{len(self.times)} x{self.speed:g}"


def _hms(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
