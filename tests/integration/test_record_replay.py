"""Record a real lab session, replay it: the replayed samples and snapshots equal the recorded ones."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from xentui.lab_linux import GUEST_IP
from xentui.lab_linux import agent as ga
from xentui.model import RawSample, build_snapshot
from xentui.model.guest_agent import AgentStatus
from xentui.recording import format as recformat
from xentui.recording.reader import ReplaySource
from xentui.recording.writer import Recorder

from .conftest import SPINNING_PCT, URI

pytestmark = pytest.mark.lab


def record(source, path, ticks: int, before: Callable[[int], None] = lambda _tick: None) -> list[RawSample]:
    """``ticks`` ticks of ``source`` (0.5 s apart) recorded to ``path``: the samples written, as a replay must read
    them back (every figure a recording keeps; those it does not keep yet, recformat.NOT_RECORDED, unknown)."""
    recorder = Recorder(path, URI, 0.5)
    recorded = []
    for tick in range(ticks):
        before(tick)
        raw = source.collect()
        recorder.write(raw)
        recorded.append(replace(raw, domains=tuple(recformat.as_recorded(d) for d in raw.domains)))
        time.sleep(0.5)
    recorder.close()
    return recorded


def test_recorded_real_session_replays_equal(busy_and_idle, source, tmp_path):
    busy, idle = busy_and_idle
    path = tmp_path / "lab.xtrec.gz"
    recorded = record(source, path, 8)  # a few seconds of real guests
    replay = ReplaySource.open(path)
    assert list(replay.recording.samples) == recorded
    for i in range(1, len(recorded)):
        assert replay.snapshot(i) == build_snapshot(recorded[i - 1], recorded[i], i + 1)
    busy_view = next(v for v in replay.snapshot(len(recorded) - 1).domains if v.uuid == busy.UUIDString())
    assert busy_view.rates.cpu_pct > SPINNING_PCT  # real load came through
    assert any(v.uuid == idle.UUIDString() for v in replay.snapshot(len(recorded) - 1).domains)


def test_a_real_linux_guest_s_own_view_replays_equal(linux, source, tmp_path):
    """Revision 6: the agent's facts, the balloon's figures and the disks' request times of a real guest come back
    from its recording, and so do IP, GMEM(%) and WR ms."""
    name, deadline = linux.name(), time.monotonic() + 90
    while True:  # the agent's facts and the balloon's figures are read off the tick: wait for both
        d = next(d for d in source.collect().domains if d.name == name)
        if d.agent is not None and d.agent.status is AgentStatus.OK and d.balloon is not None \
                and d.balloon.used_pct is not None:
            break
        assert time.monotonic() < deadline, f"no agent facts and balloon figures within 90 s (last: {d})"
        time.sleep(1.0)
    path = tmp_path / "linux.xtrec.gz"

    def write(tick: int) -> None:  # between two ticks: WR ms is measured
        if tick == 3:
            assert ga.disk_write(linux, 2).exitcode == 0

    recorded = record(source, path, 6, write)
    replay = ReplaySource.open(path)
    assert not recformat.NOT_RECORDED["block"] and "agent" not in recformat.NOT_RECORDED["domain"]
    assert list(replay.recording.samples) == recorded
    views = [next(v for v in replay.snapshot(i).domains if v.name == name) for i in range(1, len(recorded))]
    assert views == [next(v for v in build_snapshot(recorded[i - 1], recorded[i], i + 1).domains if v.name == name)
                     for i in range(1, len(recorded))]
    assert all(v.sample.agent.ip == GUEST_IP and v.guest_mem is not None and v.guest_mem.used_pct for v in views)
    assert any(v.rates.blk_wr_ms for v in views[2:]), [v.rates.blk_latency for v in views]


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
