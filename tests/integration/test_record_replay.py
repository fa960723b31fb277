"""Record a real lab session, replay it: the replayed samples and snapshots equal the recorded ones."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from xentui.model import build_snapshot
from xentui.recording import format as recformat
from xentui.recording.reader import ReplaySource
from xentui.recording.writer import Recorder

from .conftest import SPINNING_PCT, URI

pytestmark = pytest.mark.lab


def test_recorded_real_session_replays_equal(busy_and_idle, source, tmp_path):
    busy, idle = busy_and_idle
    path = tmp_path / "lab.xtrec.gz"
    recorder = Recorder(path, URI, 0.5)
    recorded = []
    for _ in range(8):  # a few seconds of real guests
        raw = source.collect()
        recorder.write(raw)
        recorded.append(raw)
        time.sleep(0.5)
    recorder.close()
    replay = ReplaySource.open(path)
    # Every figure a recording keeps comes back; those it does not keep yet (recformat.NOT_RECORDED) are unknown.
    recorded = [replace(raw, domains=tuple(recformat.as_recorded(d) for d in raw.domains)) for raw in recorded]
    assert list(replay.recording.samples) == recorded
    for i in range(1, len(recorded)):
        assert replay.snapshot(i) == build_snapshot(recorded[i - 1], recorded[i], i + 1)
    busy_view = next(v for v in replay.snapshot(len(recorded) - 1).domains if v.uuid == busy.UUIDString())
    assert busy_view.rates.cpu_pct > SPINNING_PCT  # real load came through
    assert any(v.uuid == idle.UUIDString() for v in replay.snapshot(len(recorded) - 1).domains)


def test_record_command_then_batch_replay(busy_and_idle, tmp_path):
    path = tmp_path / "cli.xtrec.gz"
    rec = subprocess.run([sys.executable, "-m", "xentui", "record", "-c", URI, "-o", str(path), "-d", "0.5",
                          "--duration", "3"], capture_output=True, text=True, timeout=60)
    assert rec.returncode == 0, rec.stderr
    out = subprocess.run([sys.executable, "-m", "xentui", "-b", "--replay", str(path), "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == ""
    frames = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(frames) >= 4 and all(f["interval_s"] == pytest.approx(0.5, abs=0.3) for f in frames)
    names = {d["name"] for d in frames[-1]["domains"]}
    assert {d.name() for d in busy_and_idle} <= names
