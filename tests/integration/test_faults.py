"""Faults on a real libvirtd: it is killed and restarted under a running xentui (UI and batch)."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

import libvirt
import pytest

from tests.procfs import proc_cpu_seconds
from xentui import lab

from .conftest import TEST_PREFIX, URI
from .libvirtd import kill_libvirtd, start_libvirtd
from .tcp_link import Link
from .tmux import Tmux

pytestmark = pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is installed by scripts/install-deps --test")


def guest_answers(name: str, timeout: float = 30.0) -> float:
    """When (monotonic) a restarted libvirtd gives the guest's monitor figures: it answers connections first, then
    reconnects to each QEMU in the background, and until then its statistics skip that guest (NOWAIT), as xentui's
    do (the row stays stale: nothing live to show yet)."""
    conn = libvirt.openReadOnly(URI)
    try:
        deadline = time.monotonic() + timeout
        while True:
            dom = conn.lookupByName(name)
            got = conn.domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_BALLOON,
                                          libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
            if got and "balloon.current" in got[0][1]:
                return time.monotonic()
            assert time.monotonic() < deadline, f"libvirtd gave no figures of {name} within {timeout:.0f} s"
            time.sleep(0.05)
    finally:
        conn.close()


def test_libvirtd_restart_under_the_ui_and_batch(guests, tmp_path):
    dom = guests.start("idle")
    name = dom.name()
    term = Tmux(tmp_path, args="-d 60", width=140)  # no tick but the first: what changes comes from events
    waiting = subprocess.Popen([sys.executable, "-m", "xentui", "-b", "-c", URI, "-d", "1", "--reconnect",
                                "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    quitting = subprocess.Popen([sys.executable, "-m", "xentui", "-b", "-c", URI, "-d", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []  # the --reconnect run's output
    try:
        term.wait_for(lambda t: name in t and "+ events" in t)
        lines.append(waiting.stdout.readline())  # both batch runs are past their first frames
        assert quitting.stdout.readline().split()[:1] == ["NAME"]
        kill_libvirtd()
        lost = term.wait_for(lambda t: "connection lost" in t and "STALE" in t, timeout=15)
        assert name in lost  # the last data stays on screen, marked stale
        assert quitting.wait(timeout=15) == 1  # without --reconnect: one line, exit 1
        err = quitting.stderr.read().strip().splitlines()
        assert len(err) == 1 and err[0].startswith("xentui: ") and "Traceback" not in err[0]
        time.sleep(3)  # the outage lasts a while (not a wait for anything): the back-off grows
        started = start_libvirtd()
        back = guest_answers(name)  # libvirtd answers for the guest once it has reconnected to its QEMU
        back_epoch = time.time()
        term.wait_for(lambda t: "STALE" not in t and name in t, timeout=15)
        recovered = time.monotonic() - back
        assert recovered <= 5.0, (f"live data came back {recovered:.1f} s after libvirtd answered for the guest "
                                  f"({back - started:.1f} s after it first answered)")
        # Events were registered again: a destroy shows long before the next tick, 60 s after this one.
        term.wait_for(lambda t: "+ events" in t)
        lab.connect(URI).lookupByName(name).destroy()
        term.wait_for(lambda t: name not in t, timeout=15)
        assert time.monotonic() - back < 45, "not before the next tick"
        assert "Traceback" not in term.screen()
        while sum(line.startswith("{") and json.loads(line)["epoch_s"] >= back_epoch for line in lines) < 2:
            lines.append(waiting.stdout.readline())  # the batch run with --reconnect prints frames again
            assert lines[-1] and time.monotonic() - back < 30, "no frames from the --reconnect run"
    finally:
        term.close()
        waiting.terminate()
        out, err = waiting.communicate(timeout=15)
        quitting.kill()
        quitting.communicate(timeout=15)
    frames = [json.loads(line) for line in [*lines, *out.splitlines()] if line.startswith("{")]
    lost_at = [line for line in err.splitlines() if "retrying" in line]
    assert len(lost_at) == 1 and "back" in err and "Traceback" not in err
    times = [f["epoch_s"] for f in frames]
    assert len(frames) >= 3 and times == sorted(times) and sum(t >= back_epoch for t in times) >= 2
    print(f"UI live again {recovered:.2f} s after libvirtd answered")


def read_frames(proc: subprocess.Popen, until: float, pid: int | None = None, done=lambda: False) -> list[dict]:
    """JSON frames a batch run prints until the monotonic time ``until`` or ``done()``; with ``pid``, each also
    gets the CPU time that process had used when the frame arrived (``_pid_cpu_s``)."""
    frames = []
    while time.monotonic() < until and not done():
        line = proc.stdout.readline()
        if not line:
            break
        seen = {"_seen": time.monotonic()} | ({"_pid_cpu_s": proc_cpu_seconds(pid)} if pid else {})
        frames.append(json.loads(line) | seen)
    return frames


def by_name(frame: dict, name: str) -> dict:
    return next(d for d in frame["domains"] if d["name"] == name)


def test_a_stopped_qemu_makes_only_its_own_row_stale(guests, tmp_path):
    """qemu SIGSTOPped: its monitor hangs; that row says so, the other rows keep updating every tick.

    A UI in tmux polls the same libvirtd meanwhile: a second client holding a healthy domain's job for a
    moment must not mark that domain stale.
    """
    healthy, stuck = guests.start("busy"), guests.start("idle")
    pid, healthy_pid = lab.qemu_pid(stuck.name()), lab.qemu_pid(healthy.name())
    term = Tmux(tmp_path, args="-d 1", width=140)
    batch = subprocess.Popen([sys.executable, "-m", "xentui", "-b", "-c", URI, "-d", "1", "--format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        term.wait_for(lambda t: stuck.name() in t)
        read_frames(batch, time.monotonic() + 2.5)
        os.kill(pid, signal.SIGSTOP)
        stopped = time.monotonic()
        frames = read_frames(batch, stopped + 12, pid=healthy_pid)
        screen = term.wait_for(lambda t: any(stuck.name() in line and "stale" in line for line in t.splitlines()))
        stale = [f for f in frames if by_name(f, stuck.name())["stale"]]
        assert stale, "the stopped domain was never marked stale"
        first_stale = stale[0]["_seen"] - stopped
        assert first_stale < 6, f"marked stale only {first_stale:.1f} s after SIGSTOP"
        assert "not answering" in by_name(stale[-1], stuck.name())["stale"]
        assert all(f["_seen"] - stale[0]["_seen"] < 12 for f in stale)
        # Every other row kept updating: a frame a second, the busy guest's true CPU in them, never stale.
        gaps = [b["epoch_s"] - a["epoch_s"] for a, b in itertools.pairwise(frames)]
        assert len(frames) >= 9 and max(gaps) < 3.5, gaps
        busy = [by_name(f, healthy.name()) for f in frames]
        assert all(d["stale"] is None for d in busy)
        # Its CPU time grows in every frame (a fresh figure, not a kept one), as fast as its qemu process's
        # (what a spinning vCPU gets on this host: all of a pCPU when idle, less when other work competes).
        assert all(a["cpu_ns"] < b["cpu_ns"] for a, b in itertools.pairwise(busy))
        ours = 100 * (busy[-1]["cpu_ns"] - busy[0]["cpu_ns"]) / 1e9 / (frames[-1]["epoch_s"] - frames[0]["epoch_s"])
        qemu = 100 * (frames[-1]["_pid_cpu_s"] - frames[0]["_pid_cpu_s"]) / (frames[-1]["_seen"] - frames[0]["_seen"])
        assert qemu > 10 and abs(ours - qemu) <= 5, f"busy guest: xentui {ours:.1f} %, its qemu {qemu:.1f} %"
        rows = {line.split()[0]: line for line in screen.splitlines() if line.strip()}
        assert rows[stuck.name()].split()[1] == "stale", screen  # the STATE column
        assert rows[healthy.name()].split()[1] != "stale", screen
        os.kill(pid, signal.SIGCONT)
        resumed = time.monotonic()
        frames = read_frames(batch, resumed + 6)
        fresh = [f for f in frames if not by_name(f, stuck.name())["stale"]]
        assert fresh, "the domain stayed stale after SIGCONT"
        back = fresh[0]["_seen"] - resumed
        assert back < 4, f"fresh again only {back:.1f} s after SIGCONT"
        for f in frames:  # figures kept while stale give no absurd rate once fresh
            d = by_name(f, stuck.name())
            assert d["vbd_rd_bytes_per_s"] is None or 0 <= d["vbd_rd_bytes_per_s"] < 1e9
        term.wait_for(lambda t: not any("stale" in line for line in t.splitlines() if stuck.name() in line))
        assert "Traceback" not in term.screen()
        print(f"busy guest: xentui {ours:.1f} %, its qemu {qemu:.1f} %; "
              f"stale {first_stale:.1f} s after SIGSTOP; fresh {back:.1f} s after SIGCONT; "
              f"largest gap between frames {max(gaps):.1f} s")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        term.close()
        batch.terminate()
        _out, err = batch.communicate(timeout=15)
    assert "Traceback" not in err


TCP_PORT = 16519  # not libvirt's 16509: the test's own listener, gone after it


@pytest.fixture
def libvirtd_on_tcp(tmp_path):
    """libvirtd restarted to listen on loopback TCP without auth, and restarted as before afterwards."""
    conf = tmp_path / "libvirtd.conf"
    conf.write_text(f'listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\ntcp_port = "{TCP_PORT}"\n'
                    'auth_tcp = "none"\n')
    kill_libvirtd()
    try:
        subprocess.run(["libvirtd", "-d", "--listen", "-f", str(conf)], check=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                libvirt.openReadOnly(f"qemu+tcp://127.0.0.1:{TCP_PORT}/system").close()
                break
            except libvirt.libvirtError:
                assert time.monotonic() < deadline, "libvirtd did not listen on TCP"
                time.sleep(0.1)
        yield
    finally:
        kill_libvirtd()
        start_libvirtd()


def test_a_dead_tcp_link_is_noticed_and_recovered(libvirtd_on_tcp, guests, tmp_path):
    dom = guests.start("idle")
    name = dom.name()
    link = Link(TCP_PORT)
    uri = f"qemu+tcp://127.0.0.1:{link.port}/system"
    term = Tmux(tmp_path, args=f"-c {uri} -d 30", width=140)  # no tick while cut: keepalive must notice
    try:
        term.wait_for(lambda t: name in t and "+ events" in t)
        link.cut()
        cut = time.monotonic()
        screen = term.wait_for(lambda t: "connection lost" in t, timeout=30)
        noticed = time.monotonic() - cut
        assert noticed <= 20, f"a dead link noticed only after {noticed:.1f} s"
        assert name in screen and "STALE" in screen  # the last data stays, marked stale
        time.sleep(3)  # the link stays dead a while (not a wait for anything): reconnects fail meanwhile
        link.restore()
        restored = time.monotonic()
        term.wait_for(lambda t: "STALE" not in t and name in t and "+ events" in t, timeout=30)
        recovered = time.monotonic() - restored
        assert recovered <= 12, f"live again only {recovered:.1f} s after the link came back"
        assert "Traceback" not in term.screen()
        link.cut()  # quitting over a dead link: the goodbye to libvirtd must not hang
        term.keys("q")
        exited = term.wait_gone(timeout=8)
        print(f"dead link noticed after {noticed:.1f} s; live again {recovered:.1f} s after it came back; "
              f"quit over a dead link in {exited:.1f} s")
    finally:
        term.close()
        link.close()


CHURNED = 90  # guests the churn test makes


def test_churn_guests_created_and_destroyed_several_times_a_second(guests, tmp_path):
    """Until 90 guests were made (a minute on a quiet host), threads boot and destroy guests (names come back
    with new UUIDs) under a UI and a batch run: no crash, no negative or absurd rate, no row of a domain that
    is gone."""
    steady = guests.start("busy")
    prefix = f"{TEST_PREFIX}{os.getpid()}-churn-"
    term = Tmux(tmp_path, args="-d 0.5", width=140)
    batch = subprocess.Popen([sys.executable, "-m", "xentui", "-b", "-c", URI, "-d", "0.5", "--format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    born: dict[str, float] = {}  # uuid -> wall time it was created
    died: dict[str, float] = {}  # uuid -> wall time its destroy returned
    stop = threading.Event()

    free_names: queue.Queue[str] = queue.Queue()
    for n in range(16):  # names come back with new UUIDs once their last holder is gone
        free_names.put(f"{prefix}{n}")

    def destroy(dom: libvirt.virDomain) -> None:
        dom.destroy()  # ~1.5 s each here (SIGTERM, teardown): several run at once
        died[dom.UUIDString()] = time.time()
        free_names.put(dom.name())

    def churn() -> None:
        conn = libvirt.open(URI)
        alive: collections.deque = collections.deque()
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as destroyer:
            while not stop.is_set():
                name = free_names.get()
                started = time.time()
                dom = lab.start_guest(conn, name, "idle")
                born[dom.UUIDString()] = started
                alive.append(dom)
                if len(alive) > 3:
                    destroyer.submit(destroy, alive.popleft())
            for dom in alive:
                destroyer.submit(destroy, dom)
        conn.close()

    workers = [threading.Thread(target=churn, daemon=True) for _ in range(3)]  # three at a time: ~0.4 s each
    try:
        term.wait_for(lambda t: steady.name() in t)
        began = time.monotonic()
        for worker in workers:
            worker.start()
        # Churn until 90 guests were made (1.5 a second on a quiet host; slower on a loaded one).
        frames = read_frames(batch, began + 180, done=lambda: len(born) >= CHURNED)
        churned_s = time.monotonic() - began
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        ended = time.time()
        frames += read_frames(batch, time.monotonic() + 3)
        screen = term.wait_for(lambda t: prefix not in t and steady.name() in t, timeout=5)
        assert "Traceback" not in screen
        exited = batch.poll()
    finally:
        stop.set()
        term.close()
        batch.terminate()
        _out, err = batch.communicate(timeout=15)
    assert exited is None, f"the batch run died: {err}"
    assert "Traceback" not in err
    per_second = len(born) / churned_s
    assert len(died) == len(born)
    seen = set()
    previous = None  # a frame's collection starts after the previous frame was stamped
    before: dict[str, dict] = {}
    for frame in frames:
        t = frame["epoch_s"]
        for d in frame["domains"]:
            # A counter libvirt gives is read somewhere inside its bulk call, the frame stamped at the call's
            # middle: with calls as long as a tick under this churn, one frame can show up to twice a vCPU's share
            # (the fast path's are stamped when read). A borrowed counter (a domain being torn down is given
            # libvirtd's own CPU time) shows a negative rate or thousands of %; over the run, below, it is exact.
            limit = 2 * 100 * max(1, d["vcpus_online"] or 1)
            was = before.get(d["uuid"], {}).get("cpu_ns")
            assert d["cpu_pct_of_one_pcpu"] is None or 0 <= d["cpu_pct_of_one_pcpu"] <= limit, \
                (d["name"], d["state"], d["cpu_pct_of_one_pcpu"], was, d["cpu_ns"], previous, t)
            for key in ("net_rx_bytes_per_s", "net_tx_bytes_per_s", "vbd_rd_bytes_per_s", "vbd_wr_bytes_per_s"):
                assert d.get(key) is None or 0 <= d[key] < 1e9, (key, d)
            if not d["name"].startswith(prefix):
                continue
            seen.add(d["uuid"])
            assert d["uuid"] in born, f"{d['name']} {d['uuid']} was never created"
            assert born[d["uuid"]] <= t + 1.0
            gone = died.get(d["uuid"])
            assert gone is None or previous is None or gone > previous - 0.5, \
                f"a ghost row: {d['name']} died {previous - gone:.1f} s before this frame's collection began"
        previous = t
        before = {d["uuid"]: d for d in frame["domains"]}
    spun = [(f["epoch_s"], by_name(f, steady.name())["cpu_ns"]) for f in frames]  # 1 vCPU: at most 100 %
    assert 0 < (spun[-1][1] - spun[0][1]) / 1e9 / (spun[-1][0] - spun[0][0]) <= 1.05
    last = [f for f in frames if f["epoch_s"] > ended + 1.0]
    assert last and not any(d["name"].startswith(prefix) for f in last for d in f["domains"])
    # The frames saw the churn.  How often is libvirtd's to say: its bulk call waits for each domain's lock, so
    # under this churn libvirtd's own getAllDomainStats (NOWAIT) took up to 8 s here and xentui's frames came up
    # to 18 s apart; the guests a call listed are often destroyed before it returns (gone, so not shown).  Seen
    # here: 22-57 of 93-111 made; a quarter of those made was a race with libvirtd.
    gaps = [later["epoch_s"] - earlier["epoch_s"] for earlier, later in itertools.pairwise(frames)]
    summary = (f"{len(born)} guests in {churned_s:.0f} s ({per_second:.1f}/s), {len(frames)} frames (the longest "
               f"gap {max(gaps, default=0):.1f} s), {len(seen)} seen")
    assert len(seen) >= 5, f"too few churned guests seen: {summary}"
    assert len(born) >= CHURNED, f"too few guests created: {summary}"
    print(f"churn: {summary}")
