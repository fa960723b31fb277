"""Watch mode (``xentui -b --alerts``): only the transitions, one text line or one JSON object each.

Names and values are outside text: visible tokens in text lines, ASCII-escaped in JSON, never interpreted.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from xentui.alerts.board import Alert, Severity, Value
from xentui.alerts.engine import AlertEngine
from xentui.model import Snapshot
from xentui.text import visible

if TYPE_CHECKING:
    from xentui.config import Settings

EXIT_ALERT = 3  # --exit-on: an alert of that severity (or worse) fired
_RANK = {Severity.WARN: 1, Severity.CRIT: 2}


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, tz=UTC).isoformat(timespec="milliseconds")


def _value(value: Value) -> str:
    if isinstance(value, str):
        return f'"{visible(value)}"'
    if value is None:
        return "unknown"
    return str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)


def text_line(alert: Alert) -> str:
    """``TIME firing|resolved SEVERITY RULE domain|host NAME [on HOST] ...``"""
    resolved = alert.resolved_at is not None
    when = alert.fired_at if alert.resolved_at is None else alert.resolved_at
    what = f"domain {visible(alert.subject)}" if alert.domain_key else f"host {visible(alert.subject)}"
    where = f" on {visible(alert.host)}" if alert.domain_key and alert.host else ""
    tail = (f"after {when - alert.fired_at:.1f} s firing" if resolved else
            f"held since {_iso(alert.since)}: " + " ".join(f"{k}={_value(v)}" for k, v in alert.values))
    return (f"{_iso(when)} {'resolved' if resolved else 'firing'} {alert.severity.value} {visible(alert.rule)} "
            f"{what}{where} {tail}".rstrip())


def json_line(alert: Alert) -> str:
    record = {
        "time": _iso(alert.resolved_at if alert.resolved_at is not None else alert.fired_at),
        "state": "firing" if alert.resolved_at is None else "resolved",
        "severity": alert.severity.value,
        "rule": alert.rule,
        "host": alert.host or None,
        "domain": alert.subject if alert.domain_key else None,
        "domain_key": alert.domain_key or None,
        "subject": alert.subject,
        "since": round(alert.since, 3),
        "fired_at": round(alert.fired_at, 3),
        "resolved_at": None if alert.resolved_at is None else round(alert.resolved_at, 3),
        "values": dict(alert.values),
    }
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True)


class Watch:
    """Feeds each snapshot to the engine and turns its transitions into output lines."""

    def __init__(self, engine: AlertEngine, fmt: str = "text", exit_on: Severity | None = None):
        self.engine = engine
        self.line = json_line if fmt == "json" else text_line
        self.exit_on = exit_on

    def step(self, snapshot: Snapshot) -> tuple[str, int | None]:
        """The lines of this snapshot's transitions (resolved first), and the exit status when one must end it."""
        board = self.engine.evaluate(snapshot)
        lines = [self.line(a) for a in (*board.resolved_now, *board.fired_now)]
        text = "".join(line + "\n" for line in lines)
        if self.exit_on is not None and any(_RANK[a.severity] >= _RANK[self.exit_on] for a in board.fired_now):
            return text, EXIT_ALERT
        return text, None

    def close(self) -> None:
        """Let the hooks under way end (each is killed at its own timeout)."""
        hooks = self.engine.hooks
        if hooks is not None:
            hooks.join(self.engine.settings.hook_timeout_s + 8.0)


def open_watch(settings: Settings, problems: list[str], fmt: str, exit_on: str | None, *, replay: bool,
               err: TextIO | None = None) -> Watch | None:
    """The watch of the settings' rules (no hooks in a replay), after one line per problem; None when there is
    no rule to watch (said in one line)."""
    from xentui import alerts, config

    err = sys.stderr if err is None else err
    engine, alert_problems = alerts.load(settings, hooks=not replay)
    for line in (*problems, *alert_problems):
        print(f"xentui: {line}", file=err)
    if not engine.rules:
        print(f"xentui: --alerts has no rule to watch: add [[alert]] tables (name, when, for, severity) to "
              f"{visible(str(config.config_dir() / 'config.toml'))}, or [alerts] defaults = true", file=err)
        return None
    return Watch(engine, fmt, Severity(exit_on) if exit_on else None)
