"""Alert hooks: a rule's ``exec`` run on firing and on resolving.

The argv is the rule's own (split by shlex when read, no shell); the facts go in environment variables
(``XENTUI_ALERT_RULE``, ``_SEVERITY``, ``_STATE`` = firing|resolved, ``_DOMAIN``, ``_DOMAIN_KEY``, ``_HOST``,
``_SINCE``, ``_FIRED_AT``, ``_RESOLVED_AT``, ``_VALUE_<FIGURE>``), never into a command line.  Each hook runs in
a session of its own, killed (its whole process group) at its timeout; at most ``max_running`` at once, the
excess skipped with a line in the log.  Its output goes to the log file, never to the screen.  Replays run none.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from xentui.alerts.board import Alert
from xentui.alerts.rules import Rule
from xentui.text import visible

MAX_LOG_BYTES = 8 << 20  # then the log is moved to hooks.log.1 and begun again
KILL_GRACE_S = 2.0  # between SIGTERM and SIGKILL at the timeout
CLOSE_GRACE_S = 0.5  # between SIGTERM and SIGKILL when the app quits
MAX_SKIP_LINES = 20  # skips logged a line each at once; the rest counted in one line


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "state")
    return Path(base) / "xentui"


def environment(alert: Alert, base: Mapping[str, str]) -> dict[str, str]:
    """The hook's environment: ``base`` plus the alert's facts (NUL, which no variable can hold, as U+2400)."""
    def clean(value: object) -> str:
        text = "" if value is None else ("1" if value is True else "0" if value is False else str(value))
        return text.replace("\0", "\u2400")

    env = dict(base)
    facts: dict[str, object] = {
        "RULE": alert.rule, "SEVERITY": alert.severity.value,
        "STATE": "firing" if alert.resolved_at is None else "resolved",
        "DOMAIN": alert.subject if alert.domain_key else "", "DOMAIN_KEY": alert.domain_key,
        "HOST": alert.host or (alert.subject if not alert.domain_key else ""),
        "SINCE": f"{alert.since:.3f}", "FIRED_AT": f"{alert.fired_at:.3f}",
        "RESOLVED_AT": "" if alert.resolved_at is None else f"{alert.resolved_at:.3f}",
    }
    facts |= {f"VALUE_{name.upper()}": value for name, value in alert.values}
    env |= {f"XENTUI_ALERT_{key}": clean(value) for key, value in facts.items()}
    return env


class HookRunner:
    def __init__(self, log_path: Path, *, timeout_s: float = 10.0, max_running: int = 4,
                 base_env: Mapping[str, str] | None = None):
        self.log_path = log_path
        self.timeout_s = timeout_s
        self.max_running = max_running
        self.base_env = dict(os.environ if base_env is None else base_env)
        self._lock = threading.Lock()
        self._running = 0
        self._threads: list[threading.Thread] = []
        self._skips: list[str] = []  # skip lines not yet logged (MAX_SKIP_LINES at most) ...
        self._skips_more = 0  # ... and how many more, told in one line
        self._skip_logger: threading.Thread | None = None  # the one thread that logs them
        self._procs: set[subprocess.Popen[bytes]] = set()  # the hooks running now (close kills them)
        self._closed = False

    @property
    def running(self) -> int:
        return self._running

    def run(self, rule: Rule, alert: Alert) -> None:
        """Start the rule's hook for this transition in a thread of its own (never waits for it)."""
        if not rule.exec:
            return
        with self._lock:
            if self._closed:
                return
            if self._running >= self.max_running:
                self._skip(f"{visible(rule.name)} {visible(alert.subject)}: skipped, {self._running} hooks "
                           f"already running (max_hooks = {self.max_running})")
                return
            self._running += 1
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(target=self._run, args=(rule, alert), name="xentui-hook", daemon=True)
            self._threads.append(thread)
        thread.start()

    def join(self, timeout_s: float) -> None:
        """Wait for the hooks under way, ``timeout_s`` at most (each ends by its own timeout anyway)."""
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def close(self, grace_s: float = 0.5) -> None:
        """The app quits: no more hooks; each running one's process group SIGTERM, SIGKILL after ``grace_s``."""
        with self._lock:
            self._closed = True
            procs = list(self._procs)
        _kill_groups(procs, grace_s)

    def _run(self, rule: Rule, alert: Alert) -> None:
        state = "firing" if alert.resolved_at is None else "resolved"
        what = f"{visible(rule.name)} {state} {visible(alert.subject)}"
        try:
            with self._open_log() as log:
                log.write(f"{_stamp()} {what}: running {visible(' '.join(rule.exec))}\n".encode())
                log.flush()
                try:
                    proc = subprocess.Popen(rule.exec, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            env=environment(alert, self.base_env), start_new_session=True,
                                            close_fds=True)
                except OSError as err:
                    log.write(f"{_stamp()} {what}: cannot run: {visible(str(err))}\n".encode())
                    return
                with self._lock:
                    self._procs.add(proc)
                    closed = self._closed
                if closed:  # closed while it started
                    _kill_groups([proc], CLOSE_GRACE_S)
                try:
                    proc.communicate(timeout=self.timeout_s)  # (its output goes to the log, not here)
                    end = f"exit status {proc.returncode}"
                except subprocess.TimeoutExpired:
                    end = self._kill(proc)
                with contextlib.suppress(ProcessLookupError):  # its `cmd &` leftovers: never on with the log
                    os.killpg(proc.pid, signal.SIGKILL)
                with self._lock:
                    self._procs.discard(proc)
                log.write(f"{_stamp()} {what}: {end}\n".encode())
        except OSError:
            pass  # the log itself cannot be written: nothing to tell it to
        finally:
            with self._lock:
                self._running -= 1

    def _kill(self, proc: subprocess.Popen[bytes]) -> str:
        """Its process group: SIGTERM, then SIGKILL after a grace; then reaped."""
        _kill_groups([proc], KILL_GRACE_S)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5.0)
        return f"killed after its timeout of {self.timeout_s:g} s"

    def _open_log(self) -> BinaryIO:
        self.log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            if self.log_path.stat().st_size > MAX_LOG_BYTES:
                os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
        except FileNotFoundError:
            pass
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        return os.fdopen(fd, "ab")

    def _skip(self, line: str) -> None:
        """Under the lock: a skip to log, by the one skip logger (started when none runs)."""
        if len(self._skips) < MAX_SKIP_LINES:
            self._skips.append(line)
        else:
            self._skips_more += 1
        if self._skip_logger is None:
            self._skip_logger = threading.Thread(target=self._log_skips, name="xentui-hook-log", daemon=True)
            self._skip_logger.start()

    def _log_skips(self) -> None:
        """The skip logger: the lines queued, until there are none."""
        while True:
            with self._lock:
                lines, more = self._skips, self._skips_more
                self._skips, self._skips_more = [], 0
                if not lines:
                    self._skip_logger = None
                    return
            if more:
                lines.append(f"{more} more hooks skipped, {self.max_running} already running")
            try:
                with self._open_log() as log:
                    log.write("".join(f"{_stamp()} {line}\n" for line in lines).encode())
            except OSError:
                pass


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _kill_groups(procs: list[subprocess.Popen[bytes]], grace_s: float) -> None:
    """Each one's process group: SIGTERM, then SIGKILL to those still there after ``grace_s`` (in all)."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
