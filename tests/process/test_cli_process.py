"""`python -m xentui` as a process: a bad URI is one line on stderr and exit status 1."""

import subprocess
import sys


def test_unknown_uri_gives_one_line_and_exit_1():
    proc = subprocess.run([sys.executable, "-m", "xentui", "-b", "-i", "1", "-c", "nosuch:///x"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "cannot connect to 'nosuch:///x'" in proc.stderr
    assert proc.stdout == ""
