"""`xentui record` for real: it runs for its duration, and SIGTERM leaves a complete recording."""

from __future__ import annotations

from pathlib import Path

from tests.factories import run_cli
from xentui.recording.reader import load


def test_record_command(tmp_path):
    path = tmp_path / "rec.xtrec.gz"
    code, _, err = run_cli(["record", "-o", str(path), "-c", "synthetic://4", "-d", "0.2", "--duration", "0.6"])
    assert code == 0 and "3 ticks" in err
    assert len(load(path).samples) == 3
    again = ["record", "-o", str(path), "-c", "synthetic://12", "-d", "0.2", "--duration", "0.2",
             "--match", "^(web|db)$"]
    code, _, err = run_cli(again)
    assert code == 2 and err.count("\n") == 1 and "--force" in err and len(load(path).samples) == 3
    code, _, err = run_cli([*again, "--force"])
    assert code == 0 and [d.name for d in load(path).sample(0).domains] == ["web", "db"]
    code, _, err = run_cli(["record", "-o", str(tmp_path / "no" / "dir.gz"), "-c", "synthetic://1"])
    assert code == 2 and err.count("\n") == 1 and "cannot write" in err
    for argv in (["record"], ["record", "-o", "x", "--duration", "soon"], ["record", "-o", "x", "-d", "0"],
                 ["record", "-o", "x", "--match", "(web"]):
        code, _, err = run_cli(argv)
        assert code == 2 and err.count("\n") == 1 and err.startswith("xentui record: "), argv


def test_sigterm_leaves_a_complete_recording(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    path, root = tmp_path / "term.xtrec.gz", Path(__file__).parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "xentui", "record", "-o", str(path), "-c", "synthetic://5",
                             "-d", "0.2"], stderr=subprocess.PIPE, text=True, cwd=root,
                            env=os.environ | {"PYTHONPATH": str(root)})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not path.exists():
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "written to" in err and "Traceback" not in err
    assert len(load(path)) >= 2


def test_a_full_disk_stops_the_recording_with_one_line_and_status_1(tmp_path):
    """A write refused (here: over the file size limit, EFBIG) ends 'xentui record' with one line, no traceback."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    def small_files() -> None:  # in the child: writes past 64 KiB fail with EFBIG instead of killing it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    path, root = tmp_path / "full.xtrec.gz", Path(__file__).parents[2]
    proc = subprocess.run([sys.executable, "-m", "xentui", "record", "-o", str(path), "-c", "synthetic://300",
                           "-d", "0.2", "--duration", "600"], capture_output=True, text=True, cwd=root, timeout=120,
                          env=os.environ | {"PYTHONPATH": str(root)}, preexec_fn=small_files)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 3 and "stopped: File too large" in lines[1] and "ticks kept" in lines[1], lines
