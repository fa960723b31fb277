"""The real ``xentui -b`` in a child process on a libvirt test-driver host with hostile names (the unit tests in
tests/unit/test_hostile_batch.py check the same output in-process)."""

from __future__ import annotations

import subprocess
import sys

from tests.unit.test_hostile_batch import LIBVIRT_NAMES, hostile_xml, no_controls
from xentui.text import visible


def test_the_real_binary_prints_no_control_byte(tmp_path):
    uri = f"test://{hostile_xml(tmp_path)}"
    for args in (["-f", "-x"], ["--format", "csv"]):
        out = subprocess.run([sys.executable, "-m", "xentui", "-b", "-i", "1", "-d", "0.2", "-c", uri, *args],
                             capture_output=True, timeout=60, check=True).stdout.decode()
        no_controls(out)
        assert visible(LIBVIRT_NAMES[4]) in out and visible(LIBVIRT_NAMES[1]) in out
