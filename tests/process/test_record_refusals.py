"""``xentui record`` in a child process refusing a planted or unprintable path in one line, and --force
replacing a symbolic link, never writing through it (tests/unit/test_safe_writes.py covers the library)."""

from __future__ import annotations

import subprocess
import sys

from tests.unit.test_safe_writes import _mode
from xentui.recording.reader import ReplaySource


def _record(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xentui", "record", "-c", "test:///default", "-d", "0.2",
                           "--duration", "0.4", *args], capture_output=True, text=True, timeout=60)


def test_record_command_refuses_in_one_line_and_force_replaces_the_link(tmp_path, victim):
    path = tmp_path / "r.xtrec.gz"
    path.symlink_to(victim)
    refused = _record("-o", str(path))
    assert refused.returncode == 2
    assert refused.stderr == (f"xentui record: {path} exists (a symbolic link): choose another name, "
                              "or --force to replace it\n")
    done = _record("-o", str(path), "--force")
    assert done.returncode == 0, done.stderr
    assert not path.is_symlink() and _mode(path) == 0o600
    assert victim.read_text() == "precious\n"
    assert len(ReplaySource.open(str(path)).recording.samples) >= 2


def test_a_refused_path_with_control_characters_is_shown_visibly(tmp_path):
    path = tmp_path / "r\x1b]0;owned\x07.gz"
    path.write_bytes(b"")
    refused = _record("-o", str(path))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "\x1b" not in refused.stderr and "\x07" not in refused.stderr and "--force" in refused.stderr
