"""The alert rule language and the [[alert]] tables: parsed safely, one line per bad rule."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from xentui import config
from xentui.alerts import load
from xentui.alerts.expr import MAX_CHARS, MAX_DEPTH, Frame, RuleError, compile_expr
from xentui.alerts.figures import ALL, DOMAIN, HOST, hosts
from xentui.alerts.rules import DEFAULTS, MAX_RULES, matches, parse_duration, parse_rule, parse_rules, parse_settings
from xentui.model import RawSample, build_snapshot

from ..factories import synthetic_samples


def synthetic_frame():
    samples = synthetic_samples(count=3, domains=12, cache=True)
    snap = build_snapshot(samples[-2], samples[-1], 3)
    facts = hosts(snap)
    return snap, Frame(snap.domains, facts)


def values(when: str) -> dict[str, bool | None]:
    snap, frame = synthetic_frame()
    result = compile_expr(when).condition(frame)
    return {v.name: r for v, r in zip(snap.domains, result, strict=True)}


def test_every_figure_is_read_on_the_synthetic_host_and_compared_as_its_kind():
    snap, frame = synthetic_frame()
    known = set()
    for name, (kind, _get) in ALL.items():
        column = frame.column(name)
        assert len(column) == len(snap.domains)
        if any(x is not None for x in column):
            known.add(name)
        when = {"number": f"{name} >= 0", "text": f'{name} != ""', "true/false": f"{name} == false"}[kind.value]
        result = compile_expr(when).condition(frame)
        for x, r in zip(column, result, strict=True):
            assert r is (None if x is None else (x >= 0 if kind.value == "number" else
                                                 x != "" if kind.value == "text" else x is False))
    # every figure the made-up host has is known (its host has no pCPU figures, Prometheus lag, OVH nor guest memory)
    assert known >= set(ALL) - {"host_cpu_pct", "host_behind_s", "overhead_cpu_pct", "gmem_pct"}, set(ALL) - known


def test_figures_agree_with_the_batch_json():
    from xentui.output import records

    snap, frame = synthetic_frame()
    for index, view in enumerate(snap.domains):
        record = records.domain_record(view)
        for name in set(DOMAIN) & set(record):
            value = frame.column(name)[index]
            expect = record[name]
            assert value == pytest.approx(expect, abs=0.01) if isinstance(expect, float) else value == expect, name
        assert frame.column("cpu_pct")[index] == pytest.approx(record["cpu_pct_of_one_pcpu"] or 0, abs=0.01) or \
            record["cpu_pct_of_one_pcpu"] is None
    used = snap.host.mem_total_kib - snap.host.mem_free_kib
    assert frame.column("host_mem_pct")[0] == pytest.approx(100 * used / snap.host.mem_total_kib)


def test_precedence_parentheses_and_three_valued_logic():
    v = values('state == "crashed" or cpu_pct > 50 and not (vcpus < 2)')
    w = values('state == "crashed" or (cpu_pct > 50 and vcpus >= 2)')
    assert v == w
    off = values('state == "shutoff"')
    assert off["off"] is True
    assert values("cpu_pct > 10")["off"] is None  # unknown: no rate for a shut-off domain
    assert values("not (cpu_pct > 10)")["off"] is None  # never guessed by a negation
    assert values('cpu_pct > 10 or state == "shutoff"')["off"] is True
    assert values('cpu_pct > 10 and state == "running"')["off"] is False
    assert values("stale")["off"] is True and values("stale")["web"] is False
    assert values("50 < cpu_pct") == values("cpu_pct > 50")


@pytest.mark.parametrize(("when", "says"), [
    ("cpu_pct >", "a figure, number or string expected, found the end"),
    ("cpu_pct = 90", "(== compares)"),
    ("cpu_pct > 90 && stale", "use and, or, not"),
    ("cpu_pc > 90", "did you mean cpu_pct"),
    ('state > "a"', "compares with == or != only"),
    ('cpu_pct == "high"', "cannot be compared"),
    ("cpu_pct", "compare it, e.g. cpu_pct > 90"),
    ("1 < cpu_pct < 5", "one comparison at a time"),
    ("(cpu_pct > 1", "')' expected"),
    ("cpu_pct > 1 stale", "unexpected 'stale'"),
    ("", "empty"),
    ("__import__('os')", "unknown figure"),
    ("x" * (MAX_CHARS + 1), f"at most {MAX_CHARS}"),
    ("(" * (MAX_DEPTH + 2) + "stale" + ")" * (MAX_DEPTH + 2), "nested more than"),
    ("not " * (MAX_DEPTH + 2) + "stale", "nested more than"),
])
def test_bad_expressions_say_what_is_wrong(when, says):
    with pytest.raises(RuleError, match=None) as err:
        compile_expr(when)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_strings_escape_and_compare_literally():
    assert values(r'name == "web"')["web"] is True
    assert values(r"name == 'we\'b'")["web"] is False
    assert compile_expr('name == "a\\"b"').figures == ("name",)


@pytest.mark.parametrize(("text", "seconds"), [("60s", 60), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25),
                                               (90, 90), ("2", 2), ("0s", 0), (" 1 m ", 60)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-1s", "8d", True, [1], "1e400", "nan", float("nan"), "s"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="for "):
        parse_duration(text)


def test_a_rule_table_in_full():
    rule = parse_rule({"name": "busy", "when": "cpu_pct > 90", "for": "3s", "severity": "crit",
                       "match": "web*", "exec": "notify --to 'ops team'"}, 1)
    assert (rule.name, rule.for_s, rule.severity.value, rule.exec) == ("busy", 3, "crit",
                                                                       ("notify", "--to", "ops team"))
    assert rule.over_domains and not parse_rule({"name": "h", "when": "host_mem_pct > 95"}, 2).over_domains
    assert matches(rule, "web-1", "h") and not matches(rule, "db", "h")
    slash = parse_rule({"name": "m", "when": "stale", "match": "kvm2/*"}, 3)
    assert matches(slash, "anything", "kvm2") and not matches(slash, "kvm2", "kvm1")


@pytest.mark.parametrize(("table", "says"), [
    ({"when": "stale"}, "[[alert]] #1: has no name"),
    ({"name": "x"}, "alert 'x': has no when"),
    ({"name": "x", "when": "stale", "severity": "page"}, "alert 'x': severity 'page' must be"),
    ({"name": "x", "when": "stale", "sevrity": "crit"}, "alert 'x': unknown key 'sevrity'"),
    ({"name": "x", "when": "stale", "for": "soon"}, "alert 'x': for 'soon' must be a duration"),
    ({"name": "x", "when": "stale", "exec": 5}, "alert 'x': exec must be a command line"),
    ({"name": "x", "when": "stale", "exec": "a 'b"}, "cannot be split into words"),
    ({"name": "x", "when": "stale", "exec": ""}, "exec must name a command"),
    ({"name": 7, "when": "stale"}, "[[alert]] #1: name must be a string"),
    ({"name": "\x1b[31mred", "when": "cpu >"}, "alert '␛[31mred': at column"),
    ("cpu_pct > 9", "[[alert]] #1: must be a table"),
])
def test_bad_rules_are_one_line_naming_the_rule(table, says):
    rules, problems = parse_rules([table], parse_settings({})[0])
    assert rules == [] and len(problems) == 1 and says in problems[0] and "\n" not in problems[0]


def test_defaults_off_until_enabled_and_a_rule_of_the_same_name_replaces_one():
    assert parse_rules([], parse_settings({})[0])[0] == []
    settings, problems = parse_settings({"defaults": True})
    rules, problems = parse_rules([{"name": "steal", "when": "steal_pct > 50", "for": "2m"}], settings)
    assert [r.name for r in rules] == [d[0] for d in DEFAULTS] and problems == []
    assert next(r for r in rules if r.name == "steal").for_s == 120


def test_alerts_table_checked_key_by_key():
    settings, problems = parse_settings({"defaults": "yes", "max_hooks": 2, "hook_timeout": "5s", "bell": False,
                                         "colour": 1})
    assert (settings.defaults, settings.max_hooks, settings.hook_timeout_s, settings.bell) == (False, 2, 5, False)
    assert len(problems) == 2 and "defaults 'yes' must be true or false" in problems[0]
    assert "unknown key 'colour'" in problems[1]


def test_rule_count_bounded_and_duplicates_left_out():
    tables = [{"name": f"r{n}", "when": "stale"} for n in range(MAX_RULES + 5)] + [{"name": "r0", "when": "stale"}]
    rules, problems = parse_rules(tables, parse_settings({})[0])
    assert len(rules) == MAX_RULES and problems == [f"more than {MAX_RULES} [[alert]] rules: the rest are left out"]
    rules, problems = parse_rules([{"name": "a", "when": "stale"}, {"name": "a", "when": "stale"}],
                                  parse_settings({})[0])
    assert len(rules) == 1 and "a second rule of that name" in problems[0]


def test_config_file_rules_load_and_survive_a_save_from_the_ui(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('delay = 2.0\n[alerts]\ndefaults = true\n[[alert]]\nname = "busy"\nwhen = \'cpu_pct > 90 and '
                    'state == "running"\'\nfor = "3s"\nseverity = "crit"\nexec = ["/bin/echo", "a b"]\n'
                    '[[alert]]\nname = "bad"\nwhen = "cpu_pct >>"\n')
    settings, problems = config.load(path, env={})
    assert problems == []
    engine, problems = load(settings, hooks=False)
    assert [r.name for r in engine.rules] == [*(d[0] for d in DEFAULTS), "busy"]
    assert len(problems) == 1 and problems[0].startswith("alert 'bad': at column 10")
    assert config.save(config.replace(settings, delay=5.0), path) is None
    again, problems = config.load(path, env={})
    assert problems == [] and again.delay == 5.0
    assert again.alert == settings.alert and again.alerts == settings.alerts
    assert tomllib.loads(path.read_text())["alert"][0]["exec"] == ["/bin/echo", "a b"]


def test_alert_settings_from_elsewhere_are_one_line():
    _settings, problems = config.load(None, env={"XDG_CONFIG_HOME": "/nonexistent", "XENTUI_ALERT": "x"})
    assert problems == ["environment: alert must be [[alert]] tables of name, when, for, severity, match, exec"]


def test_host_figures_alone_make_a_host_rule():
    assert compile_expr("host_mem_pct > 95 and host_state == \"up\"").over_domains is False
    assert compile_expr("host_mem_pct > 95 and cpu_pct > 1").over_domains is True
    assert set(HOST) <= set(ALL)


def test_the_readme_examples_load_without_a_problem():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("## Alerts:", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    table = tomllib.loads(block)
    engine, problems = load(config.Settings(alert=tuple(table["alert"]), alerts=tuple(table["alerts"].items())),
                            hooks=False)
    assert problems == [] and [r.name for r in engine.rules][-3:] == ["busy", "crashed", "starved"]
    assert engine.rules[-3].exec == ("/usr/local/bin/page-oncall", "--team", "web")


def test_host_mem_pct_counts_page_cache_as_available_where_the_source_says_so():
    from dataclasses import replace

    from tests.factories import HOST

    cached = replace(HOST, mem_total_kib=1000, mem_free_kib=20, mem_available_kib=600)  # a KVM host, full cache
    assert cached.mem_pressure_pct == 40.0
    assert replace(cached, mem_available_kib=None).mem_pressure_pct == 98.0  # Xen: free is all there is
    assert replace(cached, mem_total_kib=0).mem_pressure_pct is None  # size unknown: unknown, never 0
    shot = build_snapshot(None, RawSample(0.0, 1.0, cached, ()), seq=1)
    engine, problems = load(config.Settings(alert=({"name": "mem", "when": "host_mem_pct > 95", "for": "0s"},)),
                            hooks=False)
    assert problems == [] and engine.evaluate(shot).firing == ()
    shot = build_snapshot(None, RawSample(0.0, 1.0, replace(cached, mem_available_kib=10), ()), seq=1)
    assert [a.rule for a in engine.evaluate(shot).firing] == ["mem"]
