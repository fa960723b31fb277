"""``xentui -b --alerts``: transitions only, text or JSON, --exit-on, on a replay as it would have fired."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from xentui.alerts import Alert, Severity
from xentui.alerts.watch import EXIT_ALERT, text_line

from ..factories import run_cli
from ..hostile import NAMES

RULES = """
[[alert]]
name = "busy"
when = "cpu_pct > 99"
for = "3s"
severity = "crit"
match = "*busy*"

[[alert]]
name = "half"
when = "cpu_pct > 40 and cpu_pct < 60"
for = "5s"
"""


@pytest.fixture
def rules(tmp_path, monkeypatch):
    (tmp_path / "xentui").mkdir()
    (tmp_path / "xentui" / "config.toml").write_text(RULES)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "xentui" / "config.toml"


def expected(frames: list[dict], when, for_s: float, match: str) -> list[tuple[str, str, float]]:
    """The transitions the batch JSON's own figures imply: (state, domain, epoch_s), in order."""
    held: dict[str, float] = {}
    firing: set[str] = set()
    out = []
    for frame in frames:
        t = frame["epoch_s"]
        now = {d["name"] for d in frame["domains"] if match in d["name"] and d["cpu_pct_of_one_pcpu"] is not None
               and when(d["cpu_pct_of_one_pcpu"])}
        for name in sorted(firing - now):
            firing.discard(name)
            out.append(("resolved", name, t))
        held = {name: held.get(name, t) for name in now}
        for name in sorted(now - firing):
            if t - held[name] >= for_s - 1e-6:
                firing.add(name)
                out.append(("firing", name, t))
    return out


def test_the_demo_replayed_fires_and_resolves_as_its_figures_say(rules):
    code, out, err = run_cli(["-b", "--alerts", "--demo", "--format", "json"])
    assert code == 0 and err == ""
    again = run_cli(["-b", "--alerts", "--demo", "--format", "json"])
    assert again == (code, out, err)  # deterministic
    events = [json.loads(line) for line in out.splitlines()]
    _code, frames_text, _ = run_cli(["-b", "--demo", "--format", "json"])
    frames = [json.loads(line) for line in frames_text.splitlines()]
    for rule, when, for_s, match in (("busy", lambda c: c > 99, 3, "busy"), ("half", lambda c: 40 < c < 60, 5, "")):
        got = [(e["state"], e["domain"], e["resolved_at"] or e["fired_at"]) for e in events if e["rule"] == rule]
        want = expected(frames, when, for_s, match)
        assert [(s, d) for s, d, _ in got] == [(s, d) for s, d, _ in want] and len(got) >= 1
        assert [t for *_, t in got] == pytest.approx([t for *_, t in want], abs=0.002)
    busy = [e for e in events if e["rule"] == "busy"]
    assert {e["state"] for e in busy} == {"firing", "resolved"}  # the recorded busy guest dipped below 99 %
    assert all(e["severity"] == "crit" and e["values"]["cpu_pct"] > 99 for e in busy if e["state"] == "firing")
    assert all(e["fired_at"] - e["since"] >= 3 - 0.002 for e in busy)


def test_text_lines_and_exit_on_crit(rules):
    code, out, err = run_cli(["-b", "--alerts", "--demo", "--exit-on", "crit"])
    lines = out.splitlines()
    assert code == EXIT_ALERT and err == ""
    assert " firing crit busy domain xtlab-busy held since " in lines[-1]
    assert float(lines[-1].rsplit("cpu_pct=", 1)[1]) > 99
    assert all(" firing warn half " in line for line in lines[:-1])
    code, out, _ = run_cli(["-b", "--alerts", "--demo", "--exit-on", "warn"])
    assert code == EXIT_ALERT and len(out.splitlines()) == 1
    code, out, _ = run_cli(["-b", "--alerts", "--demo", "-i", "5"])
    assert code == 0 and out == ""  # five ticks: nothing held long enough yet


def test_a_text_line_is_one_visible_line():
    name = NAMES["osc-title"] + NAMES["newline"]
    alert = Alert(rule="r\x1b", severity=Severity.WARN, host="h\u202e", domain_key="h/u", subject=name,
                  since=1_700_000_000.0, fired_at=1_700_000_003.0, values=(("name", name), ("cpu_pct", 1.5)),
                  resolved_at=1_700_000_010.0)
    line = text_line(alert)
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line and "\x07" not in line
    assert line.startswith("2023-11-14T22:13:30.000+00:00 resolved warn r␛ domain ") and \
        line.endswith(" on h⟨U+202E⟩ after 7.0 s firing")


@pytest.mark.parametrize(("argv", "says"), [
    (["--alerts", "--demo"], "--alerts prints alert transitions in batch mode: add -b"),
    (["-b", "--alerts", "--demo", "--format", "csv"], "use --format text or json"),
    (["-b", "--demo", "--exit-on", "crit"], "--exit-on ends the alerts' watch mode"),
    (["-b", "--alerts", "--demo", "--exit-on", "page"], "invalid choice: 'page'"),
])
def test_usage_errors_are_one_line(argv, says, rules):
    code, out, err = run_cli(argv)
    assert code == 2 and out == "" and says in err and len(err.strip().splitlines()) == 1


def test_no_rule_and_bad_rules_are_said_in_one_line_each(rules):
    rules.write_text('[[alert]]\nname = "x"\nwhen = "cpu_pct >"\n')
    code, out, err = run_cli(["-b", "--alerts", "--demo"])
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "xentui: alert 'x': at column 10: a figure, number or string expected, found the end",
        f"xentui: --alerts has no rule to watch: add [[alert]] tables (name, when, for, severity) to {rules}, "
        "or [alerts] defaults = true"]
    rules.write_text("[alerts]\ndefaults = true\n")
    code, out, err = run_cli(["-b", "--alerts", "--demo"])
    assert code == 0 and out == "" and err == ""  # the demo's guests never crash nor go stale


def test_a_fleet_keys_each_domain_by_its_host(rules):
    rules.write_text('[[alert]]\nname = "crashed"\nwhen = \'state == "crashed"\'\nseverity = "crit"\n')
    fleet = [sys.executable, "-m", "xentui", "-b", "--alerts", "-c", "synthetic://8", "-c", "synthetic://9", "-d",
             "0.2", "-i", "15"]  # a process each: a fleet's second batch run in one process prints no frame
    proc = subprocess.run([*fleet, "--format", "json"], capture_output=True, text=True, timeout=120)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and proc.stderr == ""
    assert sorted((e["host"], e["domain"]) for e in events) == [("8", "ci-runner"), ("9", "ci-runner")]
    assert len({e["domain_key"] for e in events}) == 2
    proc = subprocess.run(fleet, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == ""
    assert sorted(line.split(" held since")[0].split(" ", 1)[1] for line in proc.stdout.splitlines()) == [
        "firing crit crashed domain ci-runner on 8", "firing crit crashed domain ci-runner on 9"]
