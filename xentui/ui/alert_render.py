"""Alerts as the live view shows them: the header's alert line, the rows' marks, the alerts view's lines.

Rule names, subjects (VM and host names) and values are outside text: they go in literal and made visible
(xentui/ui/literal.py), never as markup.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from rich.cells import set_cell_size
from textual.content import Content

from xentui.alerts.board import Alert, AlertBoard, Severity, Value, Values
from xentui.text import Visible, visible
from xentui.ui.literal import literal, markup, stack

LEVEL = {Severity.CRIT: "crit", Severity.WARN: "warn"}  # the table's level (theme: $level-crit, $level-warn)
COUNTS = " [b $level-crit]$crit crit[/], [$level-warn]$warn warn[/]"
HEAD = {Severity.CRIT: "[b reverse $level-crit] ALERTS [/]" + COUNTS,  # labelled in the worst one's colour
        Severity.WARN: "[b reverse $level-warn] ALERTS [/]" + COUNTS}
FIRING = {Severity.CRIT: "[b $level-crit]$sev[/] [$level-crit]$state[/] ",
          Severity.WARN: "[b $level-warn]$sev[/] [$level-warn]$state[/] "}
MARK = "!"  # before a firing row's name: readable without colour (no-color theme)
RULE_CELLS = 16
HOST_CELLS = 10
SUBJECT_CELLS = 16  # cut in the list; the highlighted alert's detail has it whole
VALUES_SHOWN = 6  # figures per alert in a line
VALUES_DETAIL = 40  # in the detail
VALUE_CHARS = 40  # of a text value (a state, a name)


@dataclass(frozen=True)
class AlertsShown:
    """The board shown now, its rows' marks and the key of the alerts view (as the keymap has it)."""

    board: AlertBoard = field(default_factory=AlertBoard)
    levels: Mapping[str, str] = field(default_factory=dict)  # domain key -> "warn"/"crit" (marks(board))
    key: str = "!"


def marks(board: AlertBoard) -> dict[str, str]:
    """Domain key -> the level of its worst firing alert ("crit" over "warn"); host alerts mark no row."""
    out: dict[str, str] = {}
    for alert in board.firing:
        if alert.domain_key and out.get(alert.domain_key) != "crit":
            out[alert.domain_key] = LEVEL[alert.severity]
    return out


def duration(seconds: float) -> str:
    """``45s``, ``2m 05s``, ``3h 02m``, ``4d 01h``."""
    s = max(0, int(seconds)) if math.isfinite(seconds) else 0
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall)) if math.isfinite(wall) else "-"


def subject(alert: Alert, fleet: bool) -> str:
    """The alert's subject as shown: its host's name before it in a fleet (host alerts: the host alone)."""
    name = visible(alert.subject) or "-"
    return Visible(f"{visible(alert.host)}/{name}") if fleet and alert.host and alert.domain_key else name


def value_text(value: Value) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:.1f}" if math.isfinite(value) else "-"
    return visible(value[:VALUE_CHARS]) if isinstance(value, str) else str(value)


def values_text(values: Values, most: int = VALUES_SHOWN) -> str:
    """``cpu_pct=95.2 state=crashed``: the figures that fired it, as the batch JSON names them."""
    shown = " ".join(f"{visible(str(name))}={value_text(v)}" for name, v in values[:most])
    return Visible(shown + (f" (+{len(values) - most})" if len(values) > most else ""))


def header_line(shown: AlertsShown, now: float, fleet: bool) -> Content | None:
    """``ALERTS 1 crit, 2 warn  newest: cpu-hot web-1 since 12:03:04 (2m 05s)  1 rule problem  (!: the alerts)``;
    None when nothing fires and every rule is good."""
    board = shown.board
    if not board.firing and not board.problems:
        return None
    crit, warn = board.count(Severity.CRIT), board.count(Severity.WARN)
    parts = [markup(HEAD[Severity.CRIT if crit else Severity.WARN], crit=crit, warn=warn)]
    if board.firing:
        newest = board.firing[0]
        parts.append(markup("newest: [b]$rule[/] $subject since $since ($held)", rule=newest.rule,
                            subject=subject(newest, fleet), since=clock(newest.since),
                            held=duration(now - newest.since)))
    if board.problems:
        count = len(board.problems)
        parts.append(markup("[$level-warn]$n rule problem$s[/]", n=count, s="" if count == 1 else "s"))
    parts.append(markup("([b]$key[/b]: the alerts)", key=shown.key))
    return literal("  ").join(parts)


@cache
def lead(severity: Severity, firing: bool) -> Content:
    """An alert line's severity and state, coloured: four of them, each parsed once (a markup parse was 80 % of a
    line's cost, and the view redraws up to 500 lines on the event loop every tick)."""
    template = FIRING[severity] if firing else "[b dim]$sev[/] [dim]$state[/] "
    return markup(template, sev=f"{LEVEL[severity].upper():<4}", state=f"{'firing' if firing else 'resolved':<8}")


def alert_line(alert: Alert, now: float, fleet: bool) -> Content:
    """One alert of the view: severity, firing/resolved, rule, (host,) subject, since, for how long, values."""
    firing = alert.resolved_at is None
    held = (now if firing else alert.resolved_at or now) - alert.since
    host = f"{set_cell_size(visible(alert.host) or '-', HOST_CELLS)} " if fleet else ""
    text = Visible(f"{set_cell_size(visible(alert.rule), RULE_CELLS)} {host}"
                   f"{set_cell_size(visible(alert.subject) or '-', SUBJECT_CELLS)} "
                   f"{clock(alert.since)} {duration(held):>8} ")
    return lead(alert.severity, firing) + literal(text) + literal(values_text(alert.values))


def view_heading(fleet: bool) -> str:
    host = f"{'HOST':<{HOST_CELLS}} " if fleet else ""
    return (f"SEV  {'STATE':<8} {'RULE':<{RULE_CELLS}} {host}{'SUBJECT':<{SUBJECT_CELLS}} SINCE    {'FOR':>8} "
            "VALUES")


def alert_detail(alert: Alert, now: float) -> Content:
    """The highlighted alert whole: what, on which domain or host, since when, how long, every value."""
    what = "domain" if alert.domain_key else "host"
    where = markup(" on host $host", host=alert.host) if alert.domain_key and alert.host else literal("")
    first = markup("[b]$rule[/] ($sev) on $what $subject", rule=alert.rule, sev=LEVEL[alert.severity], what=what,
                   subject=alert.subject) + where
    if alert.resolved_at is None:
        when = literal(f": firing since {clock(alert.since)} ({duration(now - alert.since)}), "
                       f"fired {clock(alert.fired_at)}")
    else:
        when = literal(f": resolved {clock(alert.resolved_at)}, held {duration(alert.resolved_at - alert.since)} "
                       f"from {clock(alert.since)}")
    values = values_text(alert.values, VALUES_DETAIL) or "-"
    return stack([first + when, markup("values: $values", values=values)])
