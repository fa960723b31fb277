"""Alerts: rules over the figures xentui shows, held for a time, with hooks (issue 19).

The way in: ``engine, problems = xentui.alerts.load(settings)``, then ``engine.evaluate(snapshot)`` on each
snapshot (in the poller's thread: it is pure computation, about a millisecond at 1000 domains and 10 rules),
which returns the :class:`AlertBoard` to show.  ``load(settings, hooks=False)`` for a replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from xentui.alerts.board import Alert, AlertBoard, Severity
from xentui.alerts.engine import AlertEngine
from xentui.alerts.rules import AlertSettings, Rule, parse_rules, parse_settings

if TYPE_CHECKING:
    from xentui.config import Settings

__all__ = ["Alert", "AlertBoard", "AlertEngine", "AlertSettings", "Rule", "Severity", "load"]


def load(settings: Settings, *, hooks: bool = True, env: Mapping[str, str] | None = None,
         log_path: Path | None = None) -> tuple[AlertEngine, list[str]]:
    """The engine of the settings' ``[alerts]`` and ``[[alert]]`` tables, and one line per bad rule or key.

    ``hooks``: run the rules' ``exec`` (False in a replay); their output goes to ``log_path`` (default
    ``$XDG_STATE_HOME/xentui/hooks.log``)."""
    options, problems = parse_settings(dict(settings.alerts))
    rules, rule_problems = parse_rules(list(settings.alert), options)
    problems += rule_problems
    runner = None
    if hooks and any(rule.exec for rule in rules):
        from xentui.alerts.hooks import HookRunner, state_dir

        runner = HookRunner(log_path or state_dir(env) / "hooks.log", timeout_s=options.hook_timeout_s,
                            max_running=options.max_hooks)
    engine = AlertEngine(rules, problems=problems, hooks=runner, history=options.history, settings=options)
    return engine, problems
