"""A real job started by another tool: `virsh save` of a 128 MiB lab guest that keeps writing its RAM, into a
FIFO this test reads slowly, so the save runs for ~25 s (libvirt lifts the bandwidth limit for a save to a file:
after `virsh migrate-setspeed DOM 1` the same guest's 96 MiB save still took 2.1 s here).  xentui (the source's
tick, and `xentui -b --format json`) shows it in STATE and the detail line, with the figures `virsh domjobinfo`
gives within the same second; when the job ends (`virsh domjobabort`: the guest runs on) it clears at the next
tick; the guest is then destroyed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.factories import wait_for
from tests.integration.conftest import URI, sample_of, wait_writing_ram
from tests.integration.tmux import Tmux
from xentui.model import DomainSample
from xentui.ui.job_text import job_cell, job_line

READ_BYTES_S = 4 << 20  # the FIFO is drained this fast: 100 MiB of guest RAM take ~25 s
ROUNDING = 0.0005 * (1 << 20)  # virsh prints MiB to 3 decimals
# In its first moments the save fills the pipes and buffers between QEMU and the FIFO's reader at memory speed
# (a cold CI: 1 MiB in 21 ms, 25 ms into the job); only once they are full does the drain rate bound its progress.
BUFFERS_FULL_MS = 1000
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def virsh(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, timeout=timeout, check=False)


def domjobinfo(name: str) -> dict[str, str]:
    """`virsh domjobinfo`'s lines as {label: value with its unit}."""
    out = virsh("domjobinfo", name).stdout
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def at(info: dict[str, str], label: str) -> str:
    """One line's value, or a failure that shows all of them."""
    assert label in info, f"no {label!r} in virsh domjobinfo: {info}"
    return info[label]


def size(text: str) -> float:
    """virsh's '21.990 MiB' in bytes (to its rounding: half of 0.001 of the unit)."""
    number, unit = text.split()
    return float(number) * UNITS[unit]


def ms(text: str) -> int:
    return int(text.split()[0])


def drain_slowly(fifo: Path, stop: threading.Event) -> threading.Thread:
    """Read ``fifo`` at READ_BYTES_S (faster once ``stop`` is set) until its writer closes it."""

    def run() -> None:
        with open(fifo, "rb") as f:
            while f.read(READ_BYTES_S // 10):
                if not stop.is_set():
                    time.sleep(0.1)

    thread = threading.Thread(target=run, daemon=True, name="fifo-reader")
    thread.start()
    return thread


@contextlib.contextmanager
def saving(guests, tmp_path: Path, before: Callable[[str], None] = lambda _name: None) -> Iterator[Saving]:
    """A dirty guest being saved by `virsh save` into a FIFO drained at READ_BYTES_S (``before(name)`` runs once
    the guest writes its RAM, just before the save starts); aborted if still running at the end."""
    dom = guests.start("dirty", memory_mib=128)
    name = dom.name()
    wait_writing_ram(dom)
    before(name)
    fifo = tmp_path / "save.fifo"
    os.mkfifo(fifo)
    fast = threading.Event()
    reader = drain_slowly(fifo, fast)
    save = subprocess.Popen(["virsh", "-c", URI, "save", name, str(fifo)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        yield Saving(name, save, fast)
    finally:
        fast.set()
        if save.poll() is None:
            virsh("domjobabort", name)
            save.wait(timeout=60)
        reader.join(timeout=10)


@dataclass
class Saving:
    name: str
    save: subprocess.Popen[str]
    fast: threading.Event  # set: the FIFO is drained at once

    def abort(self) -> None:
        """End the job: `virsh domjobabort` (the guest runs on)."""
        assert virsh("domjobabort", self.name).returncode == 0
        self.fast.set()
        assert self.save.wait(timeout=60) != 0, self.save.stdout.read() if self.save.stdout else ""


def test_a_save_another_tool_started_shows_with_domjobinfos_figures_and_clears(guests, source, tmp_path):
    def idle(name: str) -> None:
        assert sample_of(source, name)[0].job is None

    with saving(guests, tmp_path, idle) as job_run:
        name = job_run.name
        # The first tick that sees the job (the domain is paused for the save: read at once, no sweep needed).
        seen: list[DomainSample] = []
        wait_for(lambda: (s := sample_of(source, name)[0]).job is not None and s.job.data_processed
                 and seen.append(s) is None, "xentui to show the save", timeout=30)
        first = seen[0]
        assert first.job is not None and first.job.operation == "save"
        # xentui's figures against virsh domjobinfo's, read right after, over several ticks of the running save.
        compared = 0
        deadline = time.monotonic() + 60
        while compared < 3 and time.monotonic() < deadline:
            sample = sample_of(source, name)[0]
            virsh_job = domjobinfo(name)
            job = sample.job
            assert job is not None and virsh_job.get("Operation") == "Save", (job, virsh_job)
            if "Data remaining" not in virsh_job or virsh_job.get("Job type") == "Completed":
                break  # its data all sent: only the file's end is being written
            if (job.elapsed_ms or 0) < BUFFERS_FULL_MS:
                continue
            later_ms = ms(at(virsh_job, "Time elapsed")) - (job.elapsed_ms or 0)
            assert 0 <= later_ms < 1000, (job, virsh_job)  # the same second
            # What QEMU may have written meanwhile: the FIFO's drain rate (twice, for bursts), plus a read's size.
            moved = 2 * READ_BYTES_S * later_ms / 1000 + READ_BYTES_S // 10 + ROUNDING
            assert job.data_total is not None and abs(job.data_total - size(at(virsh_job, "Data total"))) <= ROUNDING
            assert job.data_processed is not None and job.data_remaining is not None
            assert 0 <= size(at(virsh_job, "Data processed")) - job.data_processed + ROUNDING <= moved, (job, virsh_job)
            assert 0 <= job.data_remaining - size(at(virsh_job, "Data remaining")) + ROUNDING <= moved, (job, virsh_job)
            assert job.iteration == int(at(virsh_job, "Iteration")), (job, virsh_job)
            assert job.downtime_ms == ms(at(virsh_job, "Expected downtime")), (job, virsh_job)
            assert job.dirty_rate_bytes_s == int(at(virsh_job, "Dirty rate").split()[0]) * int(
                at(virsh_job, "Page size").split()[0]), (job, virsh_job)
            cell, line = job_cell(job), job_line(job)
            assert re.fullmatch(r"sav[ \d]\d%", cell), cell  # STATE: e.g. sav45%
            assert line.startswith(f"save, {job.percent:.0f}% done, ") and f"iteration {job.iteration}" in line
            compared += 1
            time.sleep(1)
        assert compared >= 2, f"the save ended after {compared} comparisons: drain the FIFO more slowly"
        # Batch mode (no events: the state, or the sweep, finds it) carries the job in JSON.
        batch = subprocess.run([sys.executable, "-m", "xentui", "-c", URI, "-b", "--format", "json", "-i", "1"],
                               capture_output=True, text=True, timeout=60, check=True)
        (record,) = [d for d in json.loads(batch.stdout)["domains"] if d["name"] == name]
        assert record["job"]["operation"] == "save" and record["job"]["data_total_bytes"] == first.job.data_total
        # The job ends (aborted: the guest runs on); it clears at the next tick.
        job_run.abort()
        after = sample_of(source, name)[0]
        assert after.job is None and after.active, after


@pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is installed by scripts/install-deps --test")
def test_the_live_view_shows_the_save_in_state_at_once_and_clears_it(guests, tmux, tmp_path):
    """At a 30 s delay, the save shows in STATE long before the next tick (the suspension's event wakes the view
    and has the domain's job read), and its end clears it."""
    terms: list[Tmux] = []
    shown: list[float] = []

    def watch(name: str) -> None:
        terms.append(term := tmux(args="-d 30"))
        term.wait_for(lambda t: name in t and "+ events" in t, timeout=30)
        shown.append(time.monotonic())  # the first tick is on screen: the next one is 30 s after it

    with saving(guests, tmp_path, watch) as job_run:
        term = terms[0]
        screen = term.wait_for(lambda t: bool(re.search(rf"{job_run.name}\S*\s+sav[ \d]\d%", t)), timeout=25)
        assert time.monotonic() - shown[0] < 28, "not before the next tick"
        job_run.abort()
        screen = term.wait_for(lambda t: bool(re.search(rf"{job_run.name}\S*\s+-----r", t)), timeout=40)
        assert "Traceback" not in screen


@pytest.fixture
def tmux(tmp_path) -> Iterator[Callable[..., Tmux]]:
    sessions: list[Tmux] = []

    def start(**kw: object) -> Tmux:
        sessions.append(session := Tmux(tmp_path, **kw))
        return session

    yield start
    for session in sessions:
        session.close()
