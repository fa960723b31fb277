"""``xl`` under a deadline, on a stand-in ``xl`` script on PATH, and its spawns kept out of a counter read."""

from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.fake_xenstat import FakeXenStat, FakeXenStore, FakeXl
from xentui import threads
from xentui.actions import Action, perform
from xentui.model import DomainState
from xentui.sources import SourceError
from xentui.sources.xen import XenSource
from xentui.sources.xen.xl import ACTION_DEADLINE_S, DESTROY_DEADLINE_S, XlError, xl


@pytest.fixture
def fake_xl(tmp_path, monkeypatch):
    """Writes the stand-in ``xl`` (a shell script body) first on PATH."""
    def install(body: str) -> Path:
        script = tmp_path / "xl"
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return script

    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return install


def test_the_output_of_xl_is_returned(fake_xl):
    fake_xl('echo "Name ID"; echo "args: $*"')
    assert xl("vcpu-list") == "Name ID\nargs: vcpu-list\n"


def test_a_refusal_is_xls_last_error_line_not_its_progress(fake_xl):
    line = "libxl: error: libxl_domain.c:1183:libxl__destroy_domid: Domain 7:Non-existant domain"  # a real one
    fake_xl(f'echo "Parsing config"; echo "{line}" >&2; exit 1')
    with pytest.raises(XlError) as caught:
        xl("destroy", "7")
    assert caught.value.message == line.removeprefix("libxl: ")
    assert str(caught.value) == "xl destroy 7: " + caught.value.message


def test_an_exit_code_without_words_is_said(fake_xl):
    fake_xl("exit 3")
    with pytest.raises(XlError, match="exit code 3"):
        xl("info")


def test_a_missing_xl_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SourceError, match="install Xen's tools"):
        xl("info")


def test_a_hung_xl_is_killed_at_its_deadline(fake_xl, tmp_path):
    pid_file = tmp_path / "pid"
    fake_xl(f"echo $$ > {pid_file}; exec sleep 30")
    with pytest.raises(SourceError, match="did not answer within 2 s"):
        xl("vcpu-list", timeout=2)  # time for the shell to write its pid on a loaded machine
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped, not left behind


def spawn_in_thread() -> tuple[threading.Thread, list[float]]:
    started: list[float] = []

    def run() -> None:
        xl("info")
        started.append(time.monotonic())

    thread = threading.Thread(target=run)
    thread.start()
    return thread, started


def test_a_spawn_waits_for_a_counter_read_in_progress(fake_xl):
    """The counter read holds SPAWNING from its clock reading to its hypercall: no fork falls between."""
    fake_xl("true")
    with threads.SPAWNING:
        thread, started = spawn_in_thread()
        thread.join(0.2)
        assert thread.is_alive() and not started  # still waiting for the read
        released = time.monotonic()
    thread.join(10)
    assert started and started[0] >= released


def test_a_counter_read_stuck_in_xenstore_does_not_stop_xl(fake_xl, monkeypatch):
    monkeypatch.setattr(threads, "SPAWN_WAIT_S", 0.1)
    fake_xl("true")
    with threads.SPAWNING:  # never released while xl runs
        thread, started = spawn_in_thread()
        thread.join(10)
        assert started  # ran after SPAWN_WAIT_S anyway
    assert not threads.SPAWNING.locked()


def test_xl_destroy_is_given_time_to_tear_the_domain_down() -> None:
    """``xl destroy`` waits until Xen has the domain's devices and memory back (over 30 s for a busy guest in the
    emulated lab dom0): killing it at the other actions' 30 s would cut a teardown short."""
    xl = FakeXl()
    source = XenSource(readonly=False, stat=FakeXenStat(), store=FakeXenStore(), run=xl, cpuinfo=lambda: None)
    try:
        sample = source.collect()
        probe1 = next(d for d in sample.domains if d.name == "probe1")
        perform(source, probe1, Action.PAUSE, host=sample.host)
        perform(source, replace(probe1, state=DomainState.PAUSED), Action.DESTROY, host=sample.host)
        assert xl.actions == [("pause", "2"), ("destroy", "2")]
        assert xl.deadlines == [ACTION_DEADLINE_S, DESTROY_DEADLINE_S] and DESTROY_DEADLINE_S >= 10 * ACTION_DEADLINE_S
    finally:
        source.close()
