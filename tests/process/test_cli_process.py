"""`python -m xentui` as a process: a bad URI is one line on stderr and exit status 1."""

import subprocess
import sys


def test_unknown_uri_gives_one_line_and_exit_1():
    proc = subprocess.run([sys.executable, "-m", "xentui", "-b", "-i", "1", "-c", "nosuch:///x"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "cannot connect to 'nosuch:///x'" in proc.stderr
    assert proc.stdout == ""


def test_the_program_collects_less_often_a_call_with_arguments_leaves_the_process_alone():
    """The monitor's GC thresholds (cli.monitor_gc) are set by the program, never by a test's call of main()."""
    import gc

    from xentui.cli import main

    before = gc.get_threshold()
    assert main(["-b", "-i", "1", "-c", "nosuch:///x"]) == 1
    assert gc.get_threshold() == before
    probe = "import gc, sys; from xentui.cli import main; main(); print(gc.get_threshold(), gc.get_freeze_count() > 0)"
    proc = subprocess.run([sys.executable, "-c", probe, "-b", "-i", "1", "-c", "nosuch:///x"], capture_output=True,
                          text=True, timeout=30)
    assert proc.stdout.strip() == "(10000, 20, 20) True"
