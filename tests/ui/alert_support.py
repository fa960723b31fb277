"""Alert boards for the live view's tests, built over real snapshots, and a small engine of one rule.

The live view reads the contract (xentui/alerts/board.py) as it is; these build what an engine would give.
"""

from __future__ import annotations

from dataclasses import replace

from xentui.alerts.board import Alert, AlertBoard, Severity, Values
from xentui.model import DomainView, Snapshot


def alert_on(view: DomainView, rule: str, severity: Severity, since: float, fired_at: float, values: Values = (),
             resolved_at: float | None = None) -> Alert:
    """``rule`` holding for ``view``'s domain (its host in a fleet)."""
    return Alert(rule=rule, severity=severity, host=view.host, domain_key=view.key, subject=view.name, since=since,
                 fired_at=fired_at, values=values, resolved_at=resolved_at)


def named(snapshot: Snapshot, name: str) -> DomainView:
    return next(v for v in snapshot.domains if v.name == name)


def board_over(snapshot: Snapshot, *, problems: tuple[str, ...] = ()) -> AlertBoard:
    """A crit on ``build`` (newest, fired this tick), a warn on ``db``, a resolved warn on ``web``."""
    now = snapshot.wall
    build = named(snapshot, "build")  # its figures as the table shows them, as an engine would give them
    crit = alert_on(build, "cpu-hot", Severity.CRIT, now - 125, now,
                    (("cpu_pct", build.rates.cpu_pct or 0.0), ("vcpus", build.sample.vcpus_current or 0)))
    warn = alert_on(named(snapshot, "db"), "steal", Severity.WARN, now - 3725, now - 3665, (("steal_pct", 23.5),))
    gone = alert_on(named(snapshot, "web"), "mem-high", Severity.WARN, now - 900, now - 840, (("mem_pct", 96.0),),
                    resolved_at=now - 300)
    return AlertBoard(firing=(crit, warn), resolved=(gone,), fired_now=(crit,), problems=problems)


class Fixed:
    """An engine whose board is always ``board`` (a screen drawn the same on every run)."""

    def __init__(self, board: AlertBoard):
        self.board = board

    def evaluate(self, snapshot: Snapshot) -> AlertBoard:
        return self.board

    def reset(self) -> None:
        pass


class FromTick:
    """One rule, as an engine applies it: ``rule`` fires for domain ``name`` from tick ``at`` (its seq) on, and
    resolves when the domain is gone or the clock goes back before ``at``; ``reset`` forgets it."""

    def __init__(self, name: str, at: int, severity: Severity = Severity.CRIT, rule: str = "late"):
        self.name, self.at, self.severity, self.rule = name, at, severity, rule
        self.firing: Alert | None = None
        self.evaluated: list[int] = []  # the seqs evaluated, in order

    def reset(self) -> None:
        self.firing = None

    def evaluate(self, snapshot: Snapshot) -> AlertBoard:
        self.evaluated.append(snapshot.seq)
        view = next((v for v in snapshot.domains if v.name == self.name), None)
        holds = view is not None and snapshot.seq >= self.at
        fired: tuple[Alert, ...] = ()
        resolved: tuple[Alert, ...] = ()
        if holds and self.firing is None:
            assert view is not None
            self.firing = alert_on(view, self.rule, self.severity, snapshot.wall, snapshot.wall)
            fired = (self.firing,)
        elif not holds and self.firing is not None:
            resolved = (replace(self.firing, resolved_at=snapshot.wall),)
            self.firing = None
        return AlertBoard(firing=(self.firing,) if self.firing else (), resolved=resolved, fired_now=fired,
                          resolved_now=resolved)
