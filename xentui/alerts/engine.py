"""The alert engine: each snapshot in, an :class:`AlertBoard` out.

Deterministic on ``snapshot.wall`` alone (a replay fires as the live session would have): a rule's condition
holding for a subject (a domain, keyed by ``DomainView.key`` across a fleet, or a host) starts its clock; it
fires once it has held ``for`` seconds, and resolves when it no longer holds or the subject is gone.  A clock
that goes back (a replay seeking backwards) starts every rule afresh.  Hooks, when given, run on the
transitions (xentui.alerts.hooks); the engine itself does no I/O.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from xentui.alerts import figures
from xentui.alerts.board import Alert, AlertBoard, Value
from xentui.alerts.rules import AlertSettings, Rule, matches
from xentui.model import Snapshot

_HOST_KEY = "host:"  # the subject key of a host rule: prefix + the host's name
_MAX_MATCH_CACHE = 20000


class Hooks(Protocol):
    def run(self, rule: Rule, alert: Alert) -> None: ...

    def join(self, timeout_s: float) -> None: ...


class AlertEngine:
    def __init__(self, rules: Sequence[Rule], *, problems: Iterable[str] = (), hooks: Hooks | None = None,
                 history: int = 200, settings: AlertSettings | None = None):
        self.rules = tuple(rules)
        self.settings = settings or AlertSettings()  # [alerts]: the UI reads bell
        self.problems = tuple(problems)
        self.hooks = hooks
        self._held: list[dict[str, float]] = [{} for _ in self.rules]  # subject key -> since
        self._firing: list[dict[str, Alert]] = [{} for _ in self.rules]
        self._resolved: deque[Alert] = deque(maxlen=history)
        self._matched: list[dict[tuple[str, str], bool]] = [{} for _ in self.rules]
        self._last_wall: float | None = None
        self.board = AlertBoard(problems=self.problems)

    def reset(self) -> None:
        """Forget every clock and alert (a replay moved back in time)."""
        for table in (*self._held, *self._firing):
            table.clear()
        self._resolved.clear()

    def evaluate(self, snapshot: Snapshot) -> AlertBoard:
        wall = snapshot.wall
        if self._last_wall is not None and wall < self._last_wall:
            self.reset()
        self._last_wall = wall
        hosts = figures.hosts(snapshot)
        fired: list[Alert] = []
        resolved: list[Alert] = []
        by_key: dict[str, Any] = {}
        for index, rule in enumerate(self.rules):
            held = self._held[index]
            now = self._held[index] = {}
            if rule.over_domains:
                self._domains(index, rule, snapshot, hosts, held, now)
            else:
                self._hosts(rule, wall, hosts, held, now)
            firing = self._firing[index]
            for key, since in now.items():
                if key not in firing and wall - since >= rule.for_s:
                    if not by_key:
                        by_key = snapshot.by_key()
                    view, host = _subject(key, by_key, hosts)
                    alert = _alert(rule, key, view, host, since, wall)
                    firing[key] = alert
                    fired.append(alert)
            for key in [k for k in firing if k not in now]:
                alert = dataclasses.replace(firing.pop(key), resolved_at=wall)
                resolved.append(alert)
                self._resolved.appendleft(alert)
        for alert in fired + resolved:
            if self.hooks is not None:
                self.hooks.run(self._rule(alert.rule), alert)
        every = sorted((a for table in self._firing for a in table.values()), key=lambda a: -a.fired_at)
        self.board = AlertBoard(firing=tuple(every), resolved=tuple(self._resolved), fired_now=tuple(fired),
                                resolved_now=tuple(resolved), problems=self.problems)
        return self.board

    def _domains(self, index: int, rule: Rule, snapshot: Snapshot, hosts: dict[str, figures.HostFacts],
                 held: dict[str, float], now: dict[str, float]) -> None:
        condition = rule.compiled.condition
        wall = snapshot.wall
        matched = self._matched[index] if rule.match else None
        if matched is not None and len(matched) > _MAX_MATCH_CACHE:
            matched.clear()
        no_host = figures.HostFacts("", {})
        for view in snapshot.domains:
            if matched is not None:
                sample = view.sample
                ok = matched.get((sample.host, sample.name))
                if ok is None:
                    ok = matched[(sample.host, sample.name)] = matches(rule, sample.name, sample.host)
                if not ok:
                    continue
            if condition(view, hosts.get(view.sample.host, no_host)):
                key = view.sample.key
                since = held.get(key, wall)
                now[key] = since if since <= wall else wall

    @staticmethod
    def _hosts(rule: Rule, wall: float, hosts: dict[str, figures.HostFacts], held: dict[str, float],
               now: dict[str, float]) -> None:
        for host, facts in hosts.items():
            if rule.match and not matches(rule, facts.name, facts.name):
                continue
            if rule.compiled.condition(None, facts):
                key = _HOST_KEY + host
                now[key] = held.get(key, wall)

    def _rule(self, name: str) -> Rule:
        return next(r for r in self.rules if r.name == name)


def _subject(key: str, by_key: dict[str, Any], hosts: dict[str, figures.HostFacts]
             ) -> tuple[Any, figures.HostFacts]:
    if key.startswith(_HOST_KEY):
        return None, hosts[key[len(_HOST_KEY):]]
    view = by_key[key]
    return view, hosts.get(view.sample.host, figures.HostFacts("", {}))


def _alert(rule: Rule, key: str, view: Any, host: figures.HostFacts, since: float, wall: float) -> Alert:
    values: list[tuple[str, Value]] = []
    for name in rule.compiled.figures:
        value = figures.ALL[name][1](view, host)
        values.append((name, round(value, 3) if isinstance(value, float) else value))
    if view is None:
        return Alert(rule=rule.name, severity=rule.severity, host=key[len(_HOST_KEY):], domain_key="",
                     subject=host.name, since=since, fired_at=wall, values=tuple(values))
    return Alert(rule=rule.name, severity=rule.severity, host=view.sample.host, domain_key=key,
                 subject=view.sample.name, since=since, fired_at=wall, values=tuple(values))
