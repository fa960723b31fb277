"""Alerts in the live view: the engine's board for each snapshot, the rows' marks, the bell, the alerts view's key.

The engine (anything with ``evaluate(snapshot) -> AlertBoard``, xentui/alerts/) is called in the poller's thread
(:meth:`Connection.prepare`) or the replay's worker thread, never on the event loop; the board reaches the loop
with its snapshot (:meth:`AlertsController.take`).  A replay moved back or forward (a seek, a jump, a step back)
restarts the engine on the ticks before the new position, so its alerts are those that would have fired there,
and never rings the bell.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from xentui.alerts.board import AlertBoard, Severity
from xentui.ui import keys
from xentui.ui.alert_render import AlertsShown, marks

if TYPE_CHECKING:
    from xentui import config
    from xentui.model import Snapshot
    from xentui.ui.app import XentuiApp


class Evaluator(Protocol):
    """An alert engine (xentui.alerts.AlertEngine): deterministic on the snapshots' wall clock."""

    def evaluate(self, snapshot: Snapshot) -> AlertBoard: ...

    def reset(self) -> None: ...


class AlertsController:
    """What fires now for ``app``: ``engine`` evaluates each snapshot (None: no alert rules); ``bell``: a terminal
    bell on each new crit alert."""

    def __init__(self, app: XentuiApp, engine: Evaluator | None = None, *, bell: bool = True):
        self.app = app
        self.engine = engine
        self.bell = bell
        self.shown = AlertsShown()

    @property
    def board(self) -> AlertBoard:
        return self.shown.board

    @property
    def on(self) -> bool:
        """Alerts are evaluated (rules configured), or a rule was refused (the view lists why)."""
        return self.engine is not None or bool(self.board.problems)

    def evaluate(self, snapshot: Snapshot) -> AlertBoard | None:
        """In a worker thread: the board of ``snapshot`` (None: no engine)."""
        engine = self.engine
        return engine.evaluate(snapshot) if engine is not None else None

    def evaluate_from(self, before: Iterable[Snapshot], snapshot: Snapshot) -> AlertBoard | None:
        """In a worker thread, after a replay's jump: the engine started afresh on the ticks ``before`` (their
        transitions are the past's), then ``snapshot``'s board."""
        engine = self.engine
        if engine is None:
            return None
        engine.reset()
        for shot in before:
            engine.evaluate(shot)
        return engine.evaluate(snapshot)

    def close(self) -> None:
        """The app quits: the hooks under way killed (an engine without ``close`` has none)."""
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def take(self, board: AlertBoard | None, *, ring: bool = True) -> None:
        """On the loop, before its snapshot is set: the board shown from now on; a bell when a crit alert fired
        this tick (``ring`` False: a replay's jump, whose transitions are not news)."""
        if board is None:
            return
        self.shown = AlertsShown(board, marks(board), keys.key_hint("alerts", self.app.keymap))
        if ring and self.bell and any(a.severity is Severity.CRIT for a in board.fired_now):
            self.app.bell()


def alerts_of(app: XentuiApp, settings: config.Settings, *, replay: bool) -> AlertsController:
    """The controller of the settings' alert rules (``[[alert]]``, ``[alerts]``): no engine when there is none;
    no hooks in a replay.  A refused rule is told at start (the header and the view keep saying it)."""
    if not settings.alert and not settings.alerts:
        return AlertsController(app)  # the alert modules are not even loaded (start-up time)
    from xentui.alerts import load

    engine, problems = load(settings, hooks=not replay)
    app.problems += problems
    return AlertsController(app, engine if engine.rules or problems else None, bell=engine.settings.bell)


class AlertKeys:
    """The App's alerts key (on when alerts are: check_action)."""

    alerts: AlertsController

    def action_alerts(self) -> None:
        from xentui.ui.views.alerts import AlertsScreen

        self.show_view(AlertsScreen())  # type: ignore[attr-defined]
