"""The alert engine: each snapshot in, an :class:`AlertBoard` out.

Deterministic on ``snapshot.wall`` alone (a replay fires as the live session would have): a rule's condition
holding for a subject (a domain, keyed by ``DomainView.key`` across a fleet, or a host) starts its clock; it
fires once it has held ``for`` seconds, and resolves when it no longer holds or the subject is gone.  A condition
unknown for a tick (a stale domain, a missed rate) keeps the subject's state (its clock, its alert) that tick.  A
wall clock that steps back (NTP) keeps every state; a replay seeking backwards calls :meth:`reset`.  Hooks, when
given, run on the transitions (xentui.alerts.hooks); the engine itself does no I/O.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from itertools import compress
from typing import Protocol

from xentui.alerts import figures
from xentui.alerts.board import Alert, AlertBoard, Value
from xentui.alerts.expr import Frame
from xentui.alerts.rules import AlertSettings, Rule, matches
from xentui.model import DomainView, Snapshot

_HOST_KEY = "host:"  # the subject key of a host rule: prefix + the host's name
_MAX_MATCH_CACHE = 20000


class Hooks(Protocol):
    def run(self, rule: Rule, alert: Alert) -> None: ...

    def join(self, timeout_s: float) -> None: ...

    def close(self) -> None: ...


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
        self.board = AlertBoard(problems=self.problems)
        self._by_name = {rule.name: rule for rule in self.rules}

    def reset(self) -> None:
        """Forget every clock and alert (a replay moved back in time)."""
        for held in self._held:
            held.clear()
        for firing in self._firing:
            firing.clear()
        self._resolved.clear()
        self.board = AlertBoard(problems=self.problems)

    def close(self) -> None:
        """The app quits: its hooks under way killed (their process groups)."""
        if self.hooks is not None:
            self.hooks.close()

    def evaluate(self, snapshot: Snapshot) -> AlertBoard:
        wall = snapshot.wall
        hosts = figures.hosts(snapshot)
        frames: dict[bool, Frame] = {}
        fired: list[Alert] = []
        resolved: list[Alert] = []
        for index, rule in enumerate(self.rules):
            frame = frames.get(rule.over_domains)
            if frame is None:
                frame = frames[rule.over_domains] = Frame(snapshot.domains, hosts, rule.over_domains)
            truth = rule.compiled.condition(frame)
            holds = list(compress(range(len(truth)), truth))  # None (unknown) is falsy: not held
            unknown = [i for i, t in enumerate(truth) if t is None] if None in truth else []
            if rule.match:
                matched = self._matches(index, rule, frame)
                holds = [i for i in holds if matched[i]]
                unknown = [i for i in unknown if matched[i]]
            held, firing = self._held[index], self._firing[index]
            keys = self._keys(rule, frame, hosts, holds)
            now = self._held[index] = {key: held.get(key, wall) for key in keys}
            for key in self._keys(rule, frame, hosts, unknown):  # unknown this tick: as it was
                if key in held:
                    now[key] = held[key]
            for_s = rule.for_s
            new = [key for key in keys if key not in firing and (for_s <= 0 or wall - now[key] >= for_s)]
            if new:
                where = dict(zip(keys, holds, strict=True))
                for key in new:
                    i = where[key]
                    alert = firing[key] = _alert(rule, key, frame.views[i] if rule.over_domains else None,
                                                 frame.hosts[i], now[key], wall)
                    fired.append(alert)
            for key in [k for k in firing if k not in now]:
                alert = dataclasses.replace(firing.pop(key), resolved_at=wall)
                resolved.append(alert)
                self._resolved.appendleft(alert)
        if self.hooks is not None:
            for alert in fired + resolved:
                self.hooks.run(self._by_name[alert.rule], alert)
        every = self.board.firing
        if fired or resolved:
            every = tuple(sorted((a for table in self._firing for a in table.values()), key=lambda a: -a.fired_at))
        self.board = AlertBoard(firing=every, resolved=tuple(self._resolved), fired_now=tuple(fired),
                                resolved_now=tuple(resolved), problems=self.problems)
        return self.board

    @staticmethod
    def _keys(rule: Rule, frame: Frame, hosts: Mapping[str, object], indices: list[int]) -> list[str]:
        """The subject keys of the frame's ``indices``."""
        if rule.over_domains:
            every = frame.keys
            return [every[i] for i in indices]
        names = list(hosts)
        return [_HOST_KEY + names[i] for i in indices]

    def _matches(self, index: int, rule: Rule, frame: Frame) -> list[bool | None]:
        """The rule's ``match`` for every subject of the frame, remembered by (host, name)."""
        cache = self._matched[index]
        subjects = frame.names
        matched = list(map(cache.get, subjects))
        if None in matched:
            if len(cache) > _MAX_MATCH_CACHE:
                cache.clear()
            for i, (host, name) in enumerate(subjects):
                if matched[i] is None:
                    matched[i] = cache[(host, name)] = matches(rule, name, host)
        return matched


def _alert(rule: Rule, key: str, view: DomainView | None, host: figures.HostFacts, since: float, wall: float) -> Alert:
    values: list[tuple[str, Value]] = []
    for name in rule.compiled.figures:
        value = figures.ALL[name][1](host if name in figures.HOST else view)
        values.append((name, round(value, 3) if isinstance(value, float) else value))
    if view is None:
        return Alert(rule=rule.name, severity=rule.severity, host=key[len(_HOST_KEY):], domain_key="",
                     subject=host.name, since=since, fired_at=wall, values=tuple(values))
    return Alert(rule=rule.name, severity=rule.severity, host=view.sample.host, domain_key=key,
                 subject=view.sample.name, since=since, fired_at=wall, values=tuple(values))
