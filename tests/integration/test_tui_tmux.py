"""The real `xentui` in a real terminal (tmux), on real lab guests, read back with capture-pane."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from .conftest import SPINNING_PCT, URI
from .tmux import Tmux, table_rows

pytestmark = [pytest.mark.lab, pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is installed by "
                                                                                       "scripts/install-deps --test")]


@pytest.fixture
def tmux(tmp_path):
    sessions = []

    def start(**kw) -> Tmux:
        session = Tmux(tmp_path, **kw)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.close()


def test_busy_guest_on_top_when_sorted_by_cpu(busy_and_idle, tmux):
    busy, idle = busy_and_idle
    term = tmux()
    names = {busy.name(), idle.name()}
    screen = term.wait_for(lambda t: len(table_rows(t, names)) == 2 and "CPU(%)▼" in t and re.search(
        rf"{busy.name()}\s+-----r\s+\d", t))
    rows = table_rows(screen, names)
    assert rows[0] == busy.name(), screen
    busy_line = next(line for line in screen.splitlines() if line.split() and line.split()[0] == busy.name())
    assert float(busy_line.split()[2]) > SPINNING_PCT
    assert "read-only" in screen
    term.keys("q")
    assert term.wait_exit() == 0
    assert "Traceback" not in term.screen()


@pytest.mark.parametrize("env", [{"TERM": "linux"}, {"NO_COLOR": "1"}, {"TERM": "xterm-256color"}])
def test_terminal_kinds_render_and_no_color_means_no_colour(busy_and_idle, tmux, env):
    busy, _ = busy_and_idle
    term = tmux(width=80, height=24, env=env)
    screen = term.wait_for(lambda t: busy.name() in t and "CPU(%)" in t)
    assert all(len(line) <= 80 for line in screen.splitlines())
    assert "Traceback" not in screen
    coloured = term.screen(escapes=True)
    if "NO_COLOR" in env:
        assert not re.search(r"\x1b\[[0-9;]*(38|48);[25];", coloured), "NO_COLOR still drew colours"


def test_lifecycle_event_removes_a_destroyed_guest_before_the_next_tick(guests, tmux):
    """At a 60 s delay, a guest destroyed from outside (virsh destroy) leaves the screen at once: long
    before the next tick, however long the destroy itself takes on a loaded host."""
    dom = guests.start("idle")
    name = dom.name()
    term = tmux(args="-d 60")
    term.wait_for(lambda t: name in t and "+ events" in t)
    shown = time.monotonic()  # the first tick is on screen: the next one is 60 s after it
    subprocess.run(["virsh", "-c", URI, "destroy", name], check=True, capture_output=True)
    destroyed = time.monotonic()
    term.wait_for(lambda t: name not in t, timeout=15)
    gone = time.monotonic()
    print(f"gone {gone - destroyed:.1f} s after virsh destroy returned")
    assert gone - shown < 45, "not before the next tick"
    assert "Traceback" not in term.screen()


def test_pause_and_destroy_from_the_keyboard_with_write(guests, tmux):
    dom = guests.start("idle")
    name = dom.name()
    term = tmux(args="-d 1 --write", env={"XENTUI_SORT": "name"})
    term.wait_for(lambda t: name in t and "WRITE" in t)
    term.keys("/")
    # The prompt is drawn a moment before its input has the focus (keys before that are dropped): wait for
    # the input's cursor, the placeholder's first character drawn apart from the rest (it blinks: 0.5 s on).
    term.wait_for(lambda t: re.search(r"e(\x1b\[[0-9;]*m)+\.g\. web or", t), escapes=True)
    term.keys(name, "Enter")  # only this guest in the table
    term.wait_for(lambda t: "filter: " in t and table_rows(t, {name}) == [name])
    term.keys("p")
    term.wait_for(lambda t: re.search(rf"{name}\s+----p-", t) is not None)
    assert subprocess.run(["virsh", "-c", URI, "domstate", name], capture_output=True, text=True).stdout.strip() \
        == "paused"
    term.keys("k")
    term.wait_for(lambda t: "Destroy (force off)" in t and "Type" in t)
    term.keys(name, "Enter")
    term.wait_for(lambda t: table_rows(t, {name}) == [] and "destroy" in t and "done in" in t)  # the toast
    assert subprocess.run(["virsh", "-c", URI, "domstate", name], capture_output=True).returncode != 0  # gone
