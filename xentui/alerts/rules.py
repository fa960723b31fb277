"""Alert rules from ``config.toml``: ``[[alert]]`` tables, the ``[alerts]`` table, and the shipped defaults.

A bad rule is one line naming it and what is wrong; it is left out and xentui goes on without it.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xentui.alerts.board import Severity
from xentui.alerts.expr import Compiled, RuleError, compile_expr
from xentui.text import brief, visible

MAX_RULES = 100
MAX_NAME = 64
MAX_FOR_S = 7 * 86400.0
MAX_EXEC_CHARS = 2000
RULE_KEYS = ("name", "when", "for", "severity", "match", "exec")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


@dataclass(frozen=True)
class Rule:
    name: str
    when: str
    compiled: Compiled
    for_s: float = 0.0
    severity: Severity = Severity.WARN
    match: str = ""  # a glob on the domain's name ("HOST/NAME" when it holds a /), or the host's for a host rule
    exec: tuple[str, ...] = ()  # argv of the hook (no shell)

    @property
    def over_domains(self) -> bool:
        return self.compiled.over_domains


@dataclass(frozen=True)
class AlertSettings:
    """The ``[alerts]`` table."""

    defaults: bool = False  # the shipped rules below
    max_hooks: int = 4  # hooks running at once; more are skipped, with a line in the log
    hook_timeout_s: float = 10.0  # then the hook's process group is killed
    bell: bool = True  # the live view rings on a new crit
    history: int = 200  # resolved alerts kept


DEFAULTS = (  # (name, when, for, severity): off until [alerts] defaults = true
    ("domain-crashed", 'state == "crashed"', "0s", "crit"),
    ("domain-stale", "stale", "30s", "warn"),
    ("steal", "steal_pct_mean > 20", "60s", "warn"),
    ("host-memory", "host_mem_pct > 95", "60s", "crit"),
)


def parse_duration(value: object) -> float:
    """Seconds from ``"60s"``, ``"5m"``, ``"1h30m"``, ``"250ms"`` or a number of seconds; ValueError else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"for {brief(value)} must be a duration such as \"60s\", \"5m\" or \"1h30m\"")
    if isinstance(value, str):
        text = value.strip().lower()
        parts = list(_DURATION.finditer(text))
        if not text or "".join(p.group() for p in parts).replace(" ", "") != text.replace(" ", ""):
            raise ValueError(f"for {brief(value)} must be a duration such as \"60s\", \"5m\" or \"1h30m\"")
        seconds = sum(float(p.group(1)) * _UNIT_S[p.group(2)] for p in parts)
    else:
        seconds = float(value)
    if not 0 <= seconds <= MAX_FOR_S:  # nan too
        raise ValueError(f"for {brief(value)} must be from 0 s to 7 days")
    return seconds


def _text(table: Mapping[str, Any], key: str, limit: int) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, not {brief(value, 40)}")
    if len(value) > limit:
        raise ValueError(f"{key} is {len(value)} characters long; at most {limit}")
    return value


def _exec(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        if len(value) > MAX_EXEC_CHARS:
            raise ValueError(f"exec is {len(value)} characters long; at most {MAX_EXEC_CHARS}")
        try:
            argv = shlex.split(value)
        except ValueError as err:
            raise ValueError(f"exec {brief(value, 60)} cannot be split into words: {err}") from None
    elif isinstance(value, list | tuple) and all(isinstance(a, str) for a in value):
        argv = list(value)
        if sum(len(a) for a in argv) > MAX_EXEC_CHARS:
            raise ValueError(f"exec is longer than {MAX_EXEC_CHARS} characters")
    else:
        raise ValueError("exec must be a command line (\"notify-admin --page\") or a list of words")
    if not argv or "\0" in "".join(argv):
        raise ValueError("exec must name a command (and no NUL character)")
    return tuple(argv)


def parse_rule(table: object, number: int) -> Rule:
    """One ``[[alert]]`` table; ValueError with a line naming the rule and what is wrong."""
    label = f"[[alert]] #{number}"
    try:
        if not isinstance(table, Mapping):
            raise ValueError("must be a table of name, when, for, severity, match, exec")
        name = _text(table, "name", MAX_NAME).strip()
        if name:
            label = f"alert {visible(name)!r}"
        unknown = [str(k) for k in table if k not in RULE_KEYS]
        if unknown:
            raise ValueError(f"unknown key {visible(unknown[0][:40])!r} (known: {', '.join(RULE_KEYS)})")
        if not name:
            raise ValueError("has no name; e.g. name = \"busy\"")
        when = _text(table, "when", 10**6)
        if not when.strip():
            raise ValueError("has no when; e.g. when = \"cpu_pct > 90\"")
        compiled = compile_expr(when)
        severity = table.get("severity", "warn")
        if severity not in ("warn", "crit"):
            raise ValueError(f"severity {brief(severity, 40)} must be \"warn\" or \"crit\"")
        match = _text(table, "match", 200)
        return Rule(name=name, when=when, compiled=compiled, for_s=parse_duration(table.get("for", 0)),
                    severity=Severity(severity), match=match,
                    exec=_exec(table["exec"]) if "exec" in table else ())
    except (RuleError, ValueError) as err:
        raise ValueError(f"{label}: {visible(str(err))}") from None


def parse_settings(table: object) -> tuple[AlertSettings, list[str]]:
    """The ``[alerts]`` table, each bad key a line (its default kept)."""
    if not isinstance(table, Mapping):
        return AlertSettings(), ["[alerts] must be a table, e.g. [alerts] defaults = true"] if table else []
    problems: list[str] = []
    values: dict[str, Any] = {}
    checks: dict[str, tuple[str, Any]] = {
        "defaults": ("true or false", lambda v: v if isinstance(v, bool) else None),
        "bell": ("true or false", lambda v: v if isinstance(v, bool) else None),
        "max_hooks": ("a whole number from 1 to 64", lambda v: v if type(v) is int and 1 <= v <= 64 else None),
        "history": ("a whole number from 1 to 10000", lambda v: v if type(v) is int and 1 <= v <= 10000 else None),
        "hook_timeout": ("a duration from 0.1 s to 1 h, e.g. \"10s\"", _timeout),
    }
    for key, value in table.items():
        if key not in checks:
            problems.append(f"[alerts]: unknown key {visible(str(key)[:40])!r} (known: {', '.join(checks)})")
            continue
        what, check = checks[key]
        checked = check(value)
        if checked is None:
            problems.append(f"[alerts]: {key} {brief(value, 40)} must be {what}")
        else:
            values["hook_timeout_s" if key == "hook_timeout" else key] = checked
    return AlertSettings(**values), problems


def _timeout(value: object) -> float | None:
    try:
        seconds = parse_duration(value)
    except ValueError:
        return None
    return seconds if 0.1 <= seconds <= 3600 else None


def parse_rules(tables: object, settings: AlertSettings) -> tuple[list[Rule], list[str]]:
    """The rules of ``[[alert]]`` (after the shipped ones when enabled: a rule of the same name replaces one)."""
    problems: list[str] = []
    rules: dict[str, Rule] = {}
    if settings.defaults:
        for name, when, for_, severity in DEFAULTS:
            rules[name] = parse_rule({"name": name, "when": when, "for": for_, "severity": severity}, 0)
    if not isinstance(tables, list | tuple):
        return list(rules.values()), (["alert must be [[alert]] tables"] if tables else [])
    seen: set[str] = set()
    for number, table in enumerate(tables, 1):
        if len(seen) >= MAX_RULES:
            problems.append(f"more than {MAX_RULES} [[alert]] rules: the rest are left out")
            break
        try:
            rule = parse_rule(table, number)
        except ValueError as err:
            problems.append(str(err))
            continue
        if rule.name in seen:
            problems.append(f"alert {visible(rule.name)!r}: a second rule of that name is left out")
            continue
        seen.add(rule.name)
        rules[rule.name] = rule
    return list(rules.values()), problems


def matches(rule: Rule, name: str, host: str) -> bool:
    """Whether the rule's ``match`` glob takes this subject (names are data: compared, never interpreted)."""
    if not rule.match:
        return True
    return fnmatch.fnmatchcase(f"{host}/{name}" if "/" in rule.match else name, rule.match)
