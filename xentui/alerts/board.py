"""What the alert engine hands the outputs each tick: the alerts firing, those resolved lately, and this tick's
transitions.  Pure data (no I/O, no textual); the engine (``xentui.alerts.engine``) builds one per snapshot in
the poller's thread, and the live view, ``-b --alerts`` and replays read it as it is.
"""

from __future__ import annotations

import enum

from xentui.model._fast_record import frozen_record

Value = float | int | str | bool | None
Values = tuple[tuple[str, Value], ...]  # (figure as named in the batch JSON, its value when it fired)


class Severity(enum.Enum):
    WARN = "warn"
    CRIT = "crit"


@frozen_record
class Alert:
    """One rule holding (or having held) for one subject: a domain, or a host (``domain_key`` "")."""

    rule: str
    severity: Severity
    host: str  # the fleet's host name ("" when one host is watched)
    domain_key: str  # DomainSample.key; "" for a rule over a host's figures
    subject: str  # the domain's (or host's) name as shown: outside text, literal only
    since: float  # wall seconds when the condition began to hold (fired at since + for)
    fired_at: float
    values: Values = ()
    resolved_at: float | None = None  # None while firing


@frozen_record
class AlertBoard:
    firing: tuple[Alert, ...] = ()  # newest first
    resolved: tuple[Alert, ...] = ()  # newest first, bounded
    fired_now: tuple[Alert, ...] = ()  # transitions of this tick
    resolved_now: tuple[Alert, ...] = ()
    problems: tuple[str, ...] = ()  # bad rules, one line each (xentui runs without them)

    def count(self, severity: Severity) -> int:
        return sum(1 for a in self.firing if a.severity is severity)
