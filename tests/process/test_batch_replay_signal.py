"""`xentui -b --replay` of a long recording: SIGTERM stops it at once (status 0), not after the last frame."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from xentui.recording import format as recformat
from xentui.recording.delta import encode_tick
from xentui.sources.synthetic import SyntheticSource

TICKS = 50_000  # minutes of frames at batch speed: a replay that ignored the signal would still be printing


def long_recording(path: Path, ticks: int) -> Path:
    """One domain, then ``ticks - 1`` ticks where nothing changed (cheap to write, a frame each to print)."""
    raw = SyntheticSource(count=1).collect()
    uuid = raw.domains[0].uuid
    with gzip.open(path, "wt", compresslevel=1) as f:
        f.write(json.dumps(recformat.header(raw.host.uri, 1.0, 0.0, "test")) + "\n")
        f.write(encode_tick(raw, recformat.encode_host(raw.host), {}))
        f.writelines(f'{{"t":{raw.monotonic + i},"w":{raw.wall + i},"f":1,"d":[{{"=":"{uuid}"}}],"p":null}}\n'
                     for i in range(1, ticks))
    return path


def test_sigterm_stops_a_long_batch_replay_promptly(tmp_path):
    path, root = long_recording(tmp_path / "long.xtrec.gz", TICKS), Path(__file__).parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "xentui", "-b", "--replay", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=root, env=os.environ | {"PYTHONPATH": str(root)})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # frames are being printed
        assert "NAME" in first
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    frames = out.count("NAME") + 1
    assert proc.returncode == 0 and err == "" and frames < TICKS // 2, (proc.returncode, err, frames)
    assert took < 15, f"{took:.1f} s from SIGTERM to exit"
