"""The recorder: raw samples to a ``.xtrec.gz`` file (format: xentui/recording/format.py, docs/record-format.md).

Used as a feed's tap (``xentui record``, ``xentui --record FILE``) through :func:`recording_tap`: writes run in
the poller's worker thread, :meth:`Recorder.close` in the consumer's; a write after the close is dropped.  A
write that fails (disk full, EIO) stops the recording, never the feed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xentui import __version__, safefile
from xentui.feed import Tap
from xentui.model import RawSample
from xentui.recording import format as recformat
from xentui.recording.delta import encode_tick
from xentui.text import one_line, visible

FLUSH_EVERY = 30  # ticks between gzip sync points: a killed recorder loses at most this many


class Recorder:
    """Writes a header, then one line per tick; the static host only when it changed."""

    def __init__(self, path: str | Path, uri: str, delay: float, created: float | None = None, *,
                 force: bool = False):
        """Creates ``path`` new, 0600, never through a symlink (safefile.create_new; Exists when it is taken)."""
        self.path = str(path)
        self._raw = safefile.create_new(self.path, force=force)
        self._file = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)
        self._host: list[Any] | None = None
        self._domains: dict[str, list[Any]] = {}  # each domain's fields at the last tick: the deltas' base
        self._lock = threading.Lock()
        self._closed = False
        self.ticks = 0
        self.bytes_raw = 0
        head = recformat.header(uri, delay, time.time() if created is None else created, __version__)
        self._write(json_line(head))

    def _write(self, line: str) -> None:
        data = line.encode()
        self.bytes_raw += len(data)
        self._file.write(data)

    def write(self, raw: RawSample) -> None:
        with self._lock:
            if self._closed:
                return
            host = recformat.encode_host(raw.host)
            self._write(encode_tick(raw, host if host != self._host else None, self._domains))
            self._host = host
            self.ticks += 1
            if self.ticks % FLUSH_EVERY == 0:
                self._file.flush()  # a sync point: what came before reads back even if we are killed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._file.close()
            finally:
                self._raw.close()  # GzipFile leaves a file object it was given open

    def abandon(self) -> None:
        """Stop after a failed write, closing what still closes (a full disk may refuse the last bytes too)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(OSError):
                self._file.close()
            with contextlib.suppress(OSError):
                self._raw.close()


def recording_tap(recorder: Recorder, on_failure: Callable[[str], None],
                  match: re.Pattern[str] | None = None) -> Tap:
    """The feed's tap that writes each raw sample (only the domains ``match`` finds, when given).

    An OSError (or a sample that cannot be encoded) stops the recording (the file keeps what came before) and
    hands ``on_failure`` one line, once, in the worker thread; the feed goes on.
    """
    def write(raw: RawSample) -> None:
        if match is not None:
            raw = dataclasses.replace(raw, domains=tuple(d for d in raw.domains if match.search(d.name)))
        try:
            recorder.write(raw)
        except Exception as err:  # the tap's caller never reads its outcome: said here, once
            recorder.abandon()
            why = err.strerror if isinstance(err, OSError) and err.strerror else str(err) or type(err).__name__
            on_failure(f"recording to {visible(recorder.path)} stopped: {one_line(why)} ({recorder.ticks} ticks kept)")

    return write


def json_line(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":")) + "\n"
