"""The real `xentui` in a real terminal (tmux), read back with capture-pane: the lab tests' terminal."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

from .conftest import URI


class Tmux:
    def __init__(self, tmp_path, width=120, height=30, env: dict[str, str] | None = None, args: str = "-d 1"):
        self.session = f"xentui-test-{uuid.uuid4().hex[:6]}"
        # A tmux server of its own (its own socket): one test's server exiting as its last session closes can
        # never take another test's new session with it ("server exited unexpectedly").
        self.tmux = ["tmux", "-L", self.session]
        settings = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), **(env or {})}
        # the size is the pane's: pytest's readline exports COLUMNS=80 LINES=24 into this process's environment,
        # which a pane inherits and Textual obeys (an 80-column app in a 140-column pane)
        command = "env -u COLUMNS -u LINES " + " ".join(f"{k}={v}" for k, v in settings.items())
        connect = "" if f" {args}".count(" -c ") else f" -c {URI}"  # -c is repeatable: two would be a fleet
        command += f" {sys.executable} -m xentui{connect} {args}"
        # xentui's exit status, written by the shell tmux runs it in: tmux itself can report a pane dead
        # before it has reaped the process, and then never give its status (seen with a fresh tmux server)
        self.status_file = tmp_path / f"{self.session}.status"
        command += f"; echo $? > {self.status_file}"
        # remain-on-exit keeps the pane (its last screen and exit status) once xentui has quit
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
                        command, ";", "set-option", "-t", self.session, "remain-on-exit", "on"], check=True)

    def screen(self, escapes: bool = False) -> str:
        cmd = [*self.tmux, "capture-pane", "-p", "-t", self.session] + (["-e"] if escapes else [])
        return subprocess.run(cmd, capture_output=True, text=True).stdout

    def wait_for(self, predicate, timeout: float = 20.0, escapes: bool = False) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen(escapes)
            if predicate(text):
                return text
            time.sleep(0.3)
        raise AssertionError(f"the screen never showed what was expected:\n{self.screen()}")

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait until xentui has quit; its exit status."""
        deadline = time.monotonic() + timeout
        while not (status := self._status()):
            assert time.monotonic() < deadline, f"xentui did not quit within {timeout:.0f} s:\n{self.screen()}"
            time.sleep(0.05)
        return int(status)

    def _status(self) -> str:
        try:
            text = self.status_file.read_text()
        except FileNotFoundError:
            return ""
        return text.strip() if text.endswith("\n") else ""  # written whole, with its newline

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.session, *keys], check=True)

    def wait_gone(self, timeout: float) -> float:
        """Seconds until xentui has exited with status 0; AssertionError after ``timeout``."""
        began = time.monotonic()
        assert self.wait_exit(timeout) == 0
        return time.monotonic() - began

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def table_rows(text: str, names: set[str]) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.split() and line.split()[0] in names]
