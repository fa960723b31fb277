"""The real ``xentui`` binary on hostile names (issue 14): every byte it writes to a terminal (a pty), and
its batch text, CSV and JSON.  Hosts: libvirt's test driver (the names its XML takes) and a crafted
recording (ESC, OSC and C1 in domain, host and device names and in messages)."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests import hostile
from xentui.text import visible

XENTUI = str(Path(sys.executable).parent / "xentui")  # the installed entry point
COLS, ROWS = 160, 45


@pytest.fixture
def test_host(tmp_path) -> str:
    return f"test://{hostile.write_test_host(tmp_path / 'host.xml')}"


@pytest.fixture
def recording(tmp_path) -> str:
    return str(hostile.write_recording(tmp_path / "r.xtrec.gz", ticks=20))


def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TERM": "xterm-256color", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
            "COLUMNS": str(COLS), "LINES": str(ROWS)}


class Terminal:
    """xentui in a pseudo-terminal of COLS x ROWS; every byte it writes is kept in ``out``."""

    def __init__(self, args: list[str], tmp_path: Path):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.proc = subprocess.Popen([XENTUI, *args], stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path,
                                     env=env(tmp_path), start_new_session=True)
        os.close(slave)
        self.out = b""

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.master], [], [], min(left, 0.1))[0]:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the process closed the terminal
                return
            if not chunk:
                return
            self.out += chunk

    def wait_for(self, *texts: str, seconds: float = 30.0) -> None:
        """Read until every text has been written (as UTF-8), or fail after ``seconds``."""
        deadline = time.monotonic() + seconds
        wanted = [t.encode() for t in texts]
        while not all(w in self.out for w in wanted):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                missing = [w for w in wanted if w not in self.out]
                raise AssertionError(f"never written: {missing}; raw: {hostile.leaks(self.out)}; "
                                     f"exit {self.proc.poll()}; tail {self.out[-400:]!r}")
            self.read(0.2)

    def key(self, key: bytes, shows: str = "") -> None:
        """Type a key; wait until the screen shows ``shows``.  An Esc gets a second of its own: read
        together with the next key it would be Alt+key."""
        os.write(self.master, key)
        if shows:
            self.wait_for(shows)
        else:
            self.read(1.0 if key == b"\x1b" else 0.3)

    def exit_status(self, seconds: float) -> int | None:
        deadline = time.monotonic() + seconds
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read(0.1)
        return self.proc.poll()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path):
    started: list[Terminal] = []

    def start(*args: str) -> Terminal:
        started.append(Terminal(list(args), tmp_path))
        return started[-1]

    yield start
    for term in started:
        term.close()


def drive_and_quit(term: Terminal, menu: bool = True) -> None:
    """Filter with markup, the action menu (a replay has none), help, then q: xentui must exit 0 within a few
    seconds."""
    term.key(b"/", shows="Filter by name")
    term.key(b"[b")
    term.key(b"\r", shows="not a regular expression")  # the notice quotes the filter
    if menu:
        term.key(b"x", shows="Act on")
        term.key(b"\x1b")
    term.key(b"?", shows="xentui keys")
    term.key(b"\x1b")
    term.key(b"\x1b")  # clears the filter
    term.key(b"q")
    assert term.exit_status(10) == 0, f"no clean exit after q: {term.out[-400:]!r}"


def no_leak(out: bytes) -> None:
    assert not (found := hostile.leaks(out)), f"raw hostile bytes reached the terminal: {found}"


def test_the_live_view_of_a_hostile_host_writes_no_raw_control_byte(terminal, test_host):
    term = terminal("-c", test_host, "-d", "0.5")
    term.wait_for(*(visible(hostile.NAMES[c]) for c in ("c1-csi", "bidi-override", "cr-overwrite", "tab",
                                                        "zero-width", "markup-click", "markup-bold")))
    drive_and_quit(term)
    no_leak(term.out)


def test_a_replay_of_a_crafted_recording_writes_no_raw_control_byte(terminal, recording):
    term = terminal("--replay", recording)
    term.wait_for(visible(hostile.HOSTNAME)[:12],
                  *(visible(hostile.NAMES[c]) for c in ("osc-title", "osc-clipboard", "csi-colour", "markup-link")))
    drive_and_quit(term, menu=False)
    no_leak(term.out)


def batch(*args: str, tmp_path: Path) -> bytes:
    proc = subprocess.run([XENTUI, "-b", *args], capture_output=True, timeout=60, env=env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    return proc.stdout


def controls(out: bytes) -> list[str]:
    return hostile.unsafe_in(out.decode().replace("\n", ""))


@pytest.mark.parametrize("host", ["test_host", "recording"])
def test_batch_text_csv_and_json_carry_hostile_names_harmlessly(host, request, tmp_path):
    source = request.getfixturevalue(host)
    where = ["-c", source, "-d", "0.2"] if host == "test_host" else ["--replay", source]
    names = {v for c, v in hostile.NAMES.items()
             if host == "recording" or c in hostile.XML_CLASSES}  # the renamed are placeholders here
    text = batch(*where, "-i", "2", "-f", "-x", tmp_path=tmp_path)
    assert not controls(text) and not hostile.leaks(text)
    assert all(visible(name) in text.decode() for name in names)

    table = batch(*where, "-i", "2", "--format", "csv", tmp_path=tmp_path)
    assert not controls(table) and not hostile.leaks(table)
    cells = {row["name"] for row in csv.DictReader(io.StringIO(table.decode()))}
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells), "a name is a formula"
    assert {"'=cmd|' calc'!A0", "'+1", "'-1", "'@SUM(A1)"} <= cells

    lines = batch(*where, "-i", "2", "--format", "json", tmp_path=tmp_path)
    assert not hostile.leaks(lines) and not controls(lines)
    frames = [json.loads(line) for line in lines.decode().splitlines()]
    assert all(names <= {d["name"] for d in frame["domains"]} for frame in frames)  # exact, not made visible
    if host == "recording":
        assert frames[0]["host"]["hostname"] == hostile.HOSTNAME
