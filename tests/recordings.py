"""Recordings written by the tests: the recorder's own output, from given samples."""

from __future__ import annotations

from pathlib import Path

from xentui.model import RawSample
from xentui.recording.writer import Recorder


def write(path: Path, samples: list[RawSample], uri: str = "synthetic://") -> Path:
    rec = Recorder(path, uri, 1.0, created=0.0)
    for raw in samples:
        rec.write(raw)
    rec.close()
    return path
