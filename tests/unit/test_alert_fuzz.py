"""Bad rules fuzzed: always one line naming the rule, never a traceback; a rule that parses always evaluates."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xentui.alerts import AlertEngine
from xentui.alerts.figures import ALL
from xentui.alerts.rules import RULE_KEYS, parse_rules, parse_settings
from xentui.model import build_snapshot

from ..factories import synthetic_samples

WORDS = [*ALL, "and", "or", "not", "true", "false", "(", ")", "==", "!=", "<", "<=", ">", ">=", "=", "&&", "!",
         "90", "-1.5", "2e9", "1e999", '"crashed"', "'x'", '"', "\\", "\x1b[31m", "\u202e", "\0", "é"]
SAMPLES = synthetic_samples(count=3, domains=12, cache=True)
SNAPSHOTS = [build_snapshot(None, SAMPLES[0], 0), build_snapshot(SAMPLES[1], SAMPLES[2], 1)]
values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                  max_size=3), max_leaves=6)
expressions = st.one_of(st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join), st.text(max_size=80))
tables = st.fixed_dictionaries({"name": st.text(max_size=20) | values, "when": expressions | values},
                               optional={k: values | st.sampled_from(["warn", "crit", "3s", "5m", "x"])
                                         for k in (*RULE_KEYS[2:], "nme")})


def check(rule_tables: object) -> None:
    rules, problems = parse_rules(rule_tables, parse_settings({})[0])
    for line in problems:
        assert isinstance(line, str) and "\n" not in line and "Traceback" not in line and len(line) < 1200
        assert line.startswith(("[[alert]] #", "alert '", 'alert "', "alert must be", "more than"))
    engine = AlertEngine(rules)
    for snapshot in SNAPSHOTS:
        board = engine.evaluate(snapshot)
        assert len(board.firing) <= len(rules) * (len(snapshot.domains) + 1)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tables, max_size=4))
def test_fuzzed_rule_tables(rule_tables):
    check(rule_tables)


@settings(max_examples=600, deadline=None)
@given(expressions)
def test_fuzzed_expressions(when):
    check([{"name": "fuzz", "when": when}])


@settings(max_examples=100, deadline=None)
@given(values)
def test_fuzzed_alert_sections(value):
    check(value)
    options, problems = parse_settings(value)
    assert all("\n" not in line for line in problems) and options.max_hooks >= 1
