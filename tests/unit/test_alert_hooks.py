"""Alert hooks: the facts in the environment (never a shell line), killed at the timeout, at most N at once."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path

from xentui.alerts import Alert, Severity
from xentui.alerts.hooks import HookRunner, environment, state_dir
from xentui.alerts.rules import Rule, parse_rule

from ..factories import wait_for
from ..hostile import NAMES

DUMP = "import json, os, sys; json.dump({k: v for k, v in os.environ.items() if k.startswith('XENTUI_ALERT')}, " \
       "open(sys.argv[1], 'w')); print('hook says hello')"


def alert(name: str = "web", resolved: bool = False) -> Alert:
    return Alert(rule="busy", severity=Severity.CRIT, host="kvm2", domain_key="kvm2/u1", subject=name,
                 since=100.0, fired_at=103.5, values=(("cpu_pct", 99.5), ("state", "running"), ("stale", False)),
                 resolved_at=110.0 if resolved else None)


def done(path: Path, lines: int) -> bool:
    return path.exists() and len(path.read_text().splitlines()) >= lines


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_the_hook_gets_the_facts_in_its_environment_and_its_output_goes_to_the_log(tmp_path):
    out, log = tmp_path / "env.json", tmp_path / "state" / "hooks.log"
    hostile = NAMES["osc-title"] + "; rm -rf / $(reboot)"
    rule = parse_rule({"name": "busy", "when": "cpu_pct > 90", "exec": [sys.executable, "-c", DUMP, str(out)]}, 1)
    runner = HookRunner(log, timeout_s=30, base_env={"PATH": os.environ["PATH"]})
    runner.run(rule, alert(hostile, resolved=True))
    wait_for(lambda: done(log, 3), "the hook's end in the log")
    env = json.loads(out.read_text())
    assert env == {
        "XENTUI_ALERT_RULE": "busy", "XENTUI_ALERT_SEVERITY": "crit", "XENTUI_ALERT_STATE": "resolved",
        "XENTUI_ALERT_DOMAIN": hostile, "XENTUI_ALERT_DOMAIN_KEY": "kvm2/u1", "XENTUI_ALERT_HOST": "kvm2",
        "XENTUI_ALERT_SINCE": "100.000", "XENTUI_ALERT_FIRED_AT": "103.500", "XENTUI_ALERT_RESOLVED_AT": "110.000",
        "XENTUI_ALERT_VALUE_CPU_PCT": "99.5", "XENTUI_ALERT_VALUE_STATE": "running", "XENTUI_ALERT_VALUE_STALE": "0",
    }
    text = log.read_text()
    assert "hook says hello\n" in text and "exit status 0" in text and "\x1b" not in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_a_hook_past_its_timeout_is_killed_with_its_children(tmp_path):
    log, pidfile = tmp_path / "hooks.log", tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pidfile}; wait"
    rule = parse_rule({"name": "slow", "when": "stale", "exec": ["/bin/sh", "-c", script]}, 1)
    runner = HookRunner(log, timeout_s=3)  # time for the shell to write its child's pid on a loaded machine
    started = time.monotonic()
    runner.run(rule, alert())
    wait_for(lambda: "killed after its timeout of 3 s" in (log.read_text() if log.exists() else ""),
             "the hook killed", timeout=30)
    assert time.monotonic() - started < 20
    child = int(pidfile.read_text())
    wait_for(lambda: _gone(child), "the hook's child (same process group) killed too")
    assert runner.running == 0


def test_a_hook_that_exits_leaves_no_background_child(tmp_path):
    log, pidfile = tmp_path / "hooks.log", tmp_path / "child.pid"
    rule = parse_rule({"name": "bg", "when": "stale", "exec": ["/bin/sh", "-c", f"sleep 60 & echo $! > {pidfile}"]}, 1)
    runner = HookRunner(log, timeout_s=30)
    runner.run(rule, alert())
    runner.join(30)
    assert "bg firing web: exit status 0" in log.read_text() and runner.running == 0
    child = int(pidfile.read_text())
    wait_for(lambda: _gone(child), "the hook's background child killed with its group")


def first_of_one(tmp_path: Path) -> tuple[Path, Path, Rule, HookRunner]:
    """A runner of one hook at most, its "first" hook running until ``gate`` exists."""
    log, gate = tmp_path / "hooks.log", tmp_path / "gate"
    wait = f"while [ ! -e {gate} ]; do sleep 0.05; done"
    rule = parse_rule({"name": "r", "when": "stale", "exec": ["/bin/sh", "-c", wait]}, 1)
    runner = HookRunner(log, timeout_s=60, max_running=1)
    runner.run(rule, alert("first"))
    return log, gate, rule, runner


def test_at_most_n_at_once_the_rest_skipped_with_a_line(tmp_path):
    log, gate, rule, runner = first_of_one(tmp_path)
    wait_for(lambda: runner.running == 1 and "running" in (log.read_text() if log.exists() else ""), "first runs")
    runner.run(rule, alert("second"))
    wait_for(lambda: "second: skipped, 1 hooks already running (max_hooks = 1)" in log.read_text(), "the skip")
    gate.touch()
    runner.join(30)
    assert runner.running == 0 and "r firing first: exit status 0" in log.read_text()


def test_500_skips_start_no_thread_each_and_are_all_told(tmp_path):
    log, gate, rule, runner = first_of_one(tmp_path)
    wait_for(lambda: runner.running == 1, "first runs")
    before = threading.active_count()
    most = before
    for n in range(500):
        runner.run(rule, alert(f"d{n}"))
        most = max(most, threading.active_count())
    assert most - before <= 2

    def told() -> int:
        text = log.read_text() if log.exists() else ""
        more = re.findall(r"(\d+) more hooks skipped", text)
        return text.count(": skipped, 1 hooks already running") + sum(int(m) for m in more)
    wait_for(lambda: told() == 500, "every skip told")
    gate.touch()
    runner.join(30)
    assert runner.running == 0


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_closing_the_runner_kills_the_hooks_under_way_and_refuses_new_ones(tmp_path):
    log, pidfile = tmp_path / "hooks.log", tmp_path / "hook.pid"
    script = f"echo $$ > {pidfile}; sleep 60 & sleep 60; wait"
    rule = parse_rule({"name": "slow", "when": "stale", "exec": ["/bin/sh", "-c", script]}, 1)
    runner = HookRunner(log, timeout_s=120)
    runner.run(rule, alert())
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip().isdigit(), "the hook runs")
    pgid = int(pidfile.read_text())
    assert not _group_gone(pgid)
    started = time.monotonic()
    runner.close()
    assert time.monotonic() - started < 10
    wait_for(lambda: _group_gone(pgid), "the hook's process group gone", timeout=10)
    runner.join(10)
    assert runner.running == 0 and "slow firing web: exit status -15" in log.read_text()
    runner.run(rule, alert("after"))
    assert runner.running == 0 and "after" not in log.read_text()


def test_a_command_that_cannot_run_is_a_line_in_the_log(tmp_path):
    log = tmp_path / "hooks.log"
    rule = parse_rule({"name": "r", "when": "stale", "exec": "/nonexistent/notify --page"}, 1)
    runner = HookRunner(log)
    runner.run(rule, alert())
    runner.join(30)
    assert "r firing web: cannot run: [Errno 2]" in log.read_text() and runner.running == 0


def test_environment_keeps_the_base_and_has_no_nul():
    env = environment(alert("a\0b"), {"PATH": "/bin", "XENTUI_ALERT_RULE": "spoofed"})
    assert env["PATH"] == "/bin" and env["XENTUI_ALERT_RULE"] == "busy" and env["XENTUI_ALERT_DOMAIN"] == "a\u2400b"
    assert state_dir({"XDG_STATE_HOME": "/s"}) == Path("/s/xentui")
    assert state_dir({"HOME": "/home/u"}) == Path("/home/u/.local/state/xentui")
