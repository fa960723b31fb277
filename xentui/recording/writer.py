"""``xentui record``: raw samples to a ``.xtrec.gz`` file (format: xentui/recformat.py, docs/record-format.md)."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import IO

from xentui import __version__, recformat, safefile
from xentui.model import RawSample

FLUSH_EVERY = 30  # ticks between gzip sync points: a killed recorder loses at most this many


class Recorder:
    """Writes a header, then one line per tick; the static host only when it changed."""

    def __init__(self, path: str | Path, uri: str, delay: float, created: float | None = None, *,
                 force: bool = False):
        """Creates ``path`` new, 0600, never through a symlink (safefile.create_new; Exists when it is taken)."""
        self.path = str(path)
        self._raw = safefile.create_new(self.path, force=force)
        self._file: IO[bytes] = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)
        self._host: list | None = None
        self._domains: dict[str, list] = {}  # each domain's fields at the last tick: the deltas' base
        self.ticks = 0
        self.bytes_raw = 0
        head = recformat.header(uri, delay, time.time() if created is None else created, __version__)
        self._write(json_line(head))

    def _write(self, line: str) -> None:
        data = line.encode()
        self.bytes_raw += len(data)
        self._file.write(data)

    def write(self, raw: RawSample) -> None:
        host = recformat.encode_host(raw.host)
        self._write(recformat.encode_tick(raw, host if host != self._host else None, self._domains))
        self._host = host
        self.ticks += 1
        if self.ticks % FLUSH_EVERY == 0:
            self._file.flush()  # a sync point: what came before reads back even if we are killed

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._raw.close()  # GzipFile leaves a file object it was given open


def json_line(value: dict) -> str:
    return json.dumps(value, separators=(",", ":")) + "\n"
