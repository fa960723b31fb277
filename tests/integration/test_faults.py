"""Faults on a real libvirtd: it is killed and restarted under a running xentui (UI and batch)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import libvirt
import pytest

from xentui import lab

from .conftest import URI
from .test_tui_tmux import Tmux

pytestmark = pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is installed by scripts/install-deps --test")


def kill_libvirtd() -> None:
    subprocess.run(["pkill", "-x", "libvirtd"], check=False)
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "libvirtd would not die"
        time.sleep(0.1)


def start_libvirtd() -> float:
    """Start libvirtd; return the monotonic time it first answered."""
    subprocess.run(["libvirtd", "-d"], check=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            libvirt.openReadOnly(URI).close()
            return time.monotonic()
        except libvirt.libvirtError:
            assert time.monotonic() < deadline, "libvirtd did not come back"
            time.sleep(0.05)


def test_libvirtd_restart_under_the_ui_and_batch(guests, tmp_path):
    dom = guests.start("idle")
    name = dom.name()
    term = Tmux(tmp_path, args="-d 5", width=140)
    waiting = subprocess.Popen([sys.executable, "-m", "xentui", "-b", "-c", URI, "-d", "1", "--reconnect",
                                "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    quitting = subprocess.Popen([sys.executable, "-m", "xentui", "-b", "-c", URI, "-d", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        term.wait_for(lambda t: name in t and "+ events" in t)
        time.sleep(1.5)  # both batch runs are past their first frames
        kill_libvirtd()
        lost = term.wait_for(lambda t: "connection lost" in t and "STALE" in t, timeout=15)
        assert name in lost  # the last data stays on screen, marked stale
        assert quitting.wait(timeout=15) == 1  # without --reconnect: one line, exit 1
        err = quitting.stderr.read().strip().splitlines()
        assert len(err) == 1 and err[0].startswith("xentui: ") and "Traceback" not in err[0]
        time.sleep(3)  # down for a while: the back-off grows
        back = start_libvirtd()
        term.wait_for(lambda t: "STALE" not in t and name in t, timeout=10)
        recovered = time.monotonic() - back
        assert recovered <= 5.0, f"live data came back {recovered:.1f} s after libvirtd"
        # Events were registered again: a destroy shows before the next 5 s tick.
        screen = term.wait_for(lambda t: "+ events" in t)
        clock = re.search(r"\d\d:\d\d:\d\d", screen).group()
        term.wait_for(lambda t: re.search(r"\d\d:\d\d:\d\d", t).group() != clock, timeout=8)
        destroyed = time.monotonic()
        lab.connect(URI).lookupByName(name).destroy()
        term.wait_for(lambda t: name not in t, timeout=3)
        assert time.monotonic() - destroyed < 3
        assert "Traceback" not in term.screen()
        time.sleep(2)  # the batch run with --reconnect prints frames again
    finally:
        term.close()
        waiting.terminate()
        out, err = waiting.communicate(timeout=15)
        quitting.kill()
    frames = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    lost_at = [line for line in err.splitlines() if "retrying" in line]
    assert len(lost_at) == 1 and "back" in err and "Traceback" not in err
    times = [f["epoch_s"] for f in frames]
    assert len(frames) >= 4 and times == sorted(times)
    print(f"UI live again {recovered:.2f} s after libvirtd answered")

