"""Bounded threads and a clean exit, on the real lab: a SIGSTOPped guest, libvirtd restarted over and
over, an action that hangs; the thread count stays under the cap and `q` exits at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import threading
import time

import libvirt
import pytest

from xentui import lab
from xentui.poller import Poller
from xentui.sources import SourceError, deadlines
from xentui.sources.libvirt import LibvirtSource

from .conftest import URI
from .libvirtd import start_libvirtd
from .tmux import Tmux, table_rows

pytestmark = pytest.mark.lab

RESTARTS = 10


def kill_libvirtd() -> None:
    """SIGKILL: with a guest stopped, libvirtd's orderly exit waits for its monitor for good."""
    subprocess.run(["pkill", "-KILL", "-x", "libvirtd"], check=False)
    wait_until(lambda: subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True).returncode != 0, 10,
               "libvirtd gone")


def libvirtd_answers() -> bool:
    try:
        libvirt.openReadOnly(URI).close()
    except libvirt.libvirtError:
        return False
    return True


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.05)


class PollingThread:
    """A live Poller ticking every 0.5 s in a thread of its own, reconnecting after each restart,
    while a sampler notes the most threads (and calls left hanging) ever seen in this process."""

    def __init__(self, source: LibvirtSource):
        self.poller = Poller(source, 0.5)
        self.stop = threading.Event()
        self.ticks = 0
        self.lost = 0
        self.last: object = None
        self.max_threads = self.max_abandoned = self.max_running = 0
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=lambda: asyncio.run(self._poll()), daemon=True),
                         threading.Thread(target=self._sample, daemon=True)]
        for thread in self._threads:
            thread.start()

    async def _poll(self) -> None:
        while not self.stop.is_set():
            try:
                self.last = await self.poller.tick()
                self.ticks += 1
            except SourceError:
                self.lost += 1
            except BaseException as err:  # reported by the test, never swallowed
                self.errors.append(err)
                raise
            await asyncio.sleep(self.poller.until_next())

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.max_threads = max(self.max_threads, threading.active_count())
            self.max_abandoned = max(self.max_abandoned, deadlines.abandoned())
            self.max_running = max(self.max_running, deadlines.running())
            time.sleep(0.01)

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.poller.close()


def test_a_stopped_guest_and_ten_libvirtd_restarts_keep_threads_under_the_cap(guests):
    healthy, stuck = guests.start("busy"), guests.start("idle")
    pid = lab.qemu_pid(stuck.name())
    baseline = threading.active_count()
    source = LibvirtSource(URI)
    polling = PollingThread(source)
    took = []
    try:
        wait_until(lambda: polling.ticks >= 2, 20, "the first ticks")
        os.kill(pid, signal.SIGSTOP)

        def stale_row() -> bool:
            rows = {d.name: d for d in polling.last.domains} if polling.last else {}
            return stuck.name() in rows and bool(rows[stuck.name()].sample.stale)

        wait_until(stale_row, 20, "the stopped guest's row marked stale")
        for _ in range(RESTARTS):
            began = time.monotonic()
            kill_libvirtd()
            wait_until(lambda: polling.poller.lost is not None, 20, "the lost connection noticed")
            start_libvirtd()
            ticks = polling.ticks
            wait_until(lambda t=ticks: polling.poller.lost is None and polling.ticks > t + 1, 30,
                       "live ticks again after the restart")
            took.append(time.monotonic() - began)
        wait_until(lambda: any(d.name == healthy.name() and not d.sample.stale for d in polling.last.domains),
                   10, "the healthy guest fresh")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        if not libvirtd_answers():  # never leave the lab without a libvirtd
            kill_libvirtd()
            start_libvirtd()
        polling.close()
    assert not polling.errors, polling.errors
    assert polling.max_running <= deadlines.CAP
    # The poller's worker, the sampler, the asyncio loop's thread, and at most CAP calls of deadlines.
    assert polling.max_threads <= baseline + 3 + deadlines.CAP, polling.max_threads
    print(f"{RESTARTS} libvirtd restarts with a SIGSTOPped guest ({sum(took):.0f} s, each "
          f"{min(took):.1f}-{max(took):.1f} s): threads in the process at most {polling.max_threads} "
          f"(baseline {baseline}), calls running at most {polling.max_running}, left hanging at most "
          f"{polling.max_abandoned} (cap {deadlines.CAP}); {polling.ticks} ticks, {polling.lost} lost")


def flat(screen: str) -> str:
    """The screen's words in order, borders dropped: a toast's wrapped lines read as one."""
    return " ".join(re.sub(r"[^\x21-\x7e]", " ", screen).split())


def cpu_seconds(screen: str, name: str) -> int:
    header = next(line for line in screen.splitlines() if "CPU(sec)" in line).split()
    row = next(line for line in screen.splitlines() if line.split() and line.split()[0] == name).split()
    return int(row[header.index("CPU(sec)")])


def test_a_hung_action_marks_its_row_never_freezes_the_view_and_q_exits_at_once(guests, tmp_path):
    busy, stuck = guests.start("busy"), guests.start("idle")
    names = {busy.name(), stuck.name()}
    pid = lab.qemu_pid(stuck.name())
    prefix = busy.name().rsplit("-", 2)[0] + "-"  # both guests, and no other
    term = Tmux(tmp_path, args="-d 1 --write", width=120,
                env={"XENTUI_SORT": "name", "XENTUI_COLUMNS": "name,state,cpu_s,cpu_pct"})
    try:
        term.wait_for(lambda t: names <= set(table_rows(t, names)) and "WRITE" in t)
        term.keys("/")
        term.wait_for(lambda t: "Filter by name" in t)
        time.sleep(0.5)  # the prompt is drawn a moment before its input has the focus
        term.keys(prefix, "Enter")
        rows = table_rows(term.wait_for(lambda t: "filter: " in t and len(table_rows(t, names)) == 2), names)
        if rows[0] != stuck.name():
            term.keys("Down")  # the cursor starts on the first row
        os.kill(pid, signal.SIGSTOP)
        term.keys("p")  # pause: QEMU's monitor never answers the stop command
        sent = time.monotonic()
        frames: dict[str, int] = {}  # the header's clock -> the busy guest's CPU(sec), while the pause hangs

        def told_or_noted(t: str) -> bool:
            if "did not answer within" in flat(t):  # the toast wraps its lines anywhere
                return True
            clock = re.search(r"\d\d:\d\d:\d\d", t)
            if clock and busy.name() in t:
                frames[clock.group()] = cpu_seconds(t, busy.name())
            return False

        screen = term.wait_for(told_or_noted, timeout=25)
        told = time.monotonic() - sent
        # Meanwhile the view went on: a frame each second, the busy guest's CPU time growing.
        seconds = list(frames.values())
        grew = seconds[-1] - seconds[0]
        assert len(frames) >= told / 2 and grew >= 2, f"the view froze: {frames} in {told:.0f} s"
        screen = term.wait_for(lambda t: any(stuck.name() in line and "stale" in line for line in t.splitlines()))
        rows = {line.split()[0]: line for line in screen.splitlines() if line.split()}
        assert rows[stuck.name()].split()[1] == "stale", screen  # the STATE column
        assert rows[busy.name()].split()[1] != "stale", screen
        again = cpu_seconds(term.wait_for(lambda t: cpu_seconds(t, busy.name()) > cpu_seconds(screen, busy.name()),
                                          timeout=5), busy.name())
        term.keys("q")
        exited = term.wait_gone(timeout=10)
        assert exited <= 2.0, f"q took {exited:.2f} s to exit while a pause hung in libvirt"
        print(f"pause of a SIGSTOPped guest: told after {told:.1f} s; meanwhile {len(frames)} frames, the busy "
              f"guest's CPU(sec) grew {grew} s (then {again}); q exited in {exited:.2f} s")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        term.close()
    # The pause was sent and may take effect once QEMU runs again: it did.
    state = lambda: subprocess.run(["virsh", "-c", URI, "domstate", stuck.name()],  # noqa: E731
                                   capture_output=True, text=True).stdout.strip()
    wait_until(lambda: state() == "paused", 10, "the pause taking effect after SIGCONT")
    with contextlib.suppress(libvirt.libvirtError):
        libvirt.open(URI).lookupByName(stuck.name()).resume()
    assert re.match(r"paused|running", state())
