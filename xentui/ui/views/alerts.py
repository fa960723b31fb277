"""The alerts view: firing alerts (newest first), then those resolved lately, then the rules refused and why.

Each line: severity, firing or when resolved, the rule, the host (a fleet), the subject, since when and for how
long, the figures that fired it.  Enter on a domain's alert selects that domain in the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from xentui.alerts.board import Alert
from xentui.model import Snapshot
from xentui.text import one_line
from xentui.ui.alert_render import alert_detail, alert_line, view_heading
from xentui.ui.literal import literal, markup, stack
from xentui.ui.views.base import LiveView

if TYPE_CHECKING:
    from xentui.ui.app import XentuiApp

LISTED = 500  # alerts listed (a host gone stale can fire one per domain): rebuilt on the loop every tick
Identity = tuple[str, str, str, float]  # rule, host, domain key, since: one alert across boards


def refused(count: int) -> str:
    return "" if not count else f", {count} rule{'' if count == 1 else 's'} refused"


def identity(alert: Alert) -> Identity:
    return alert.rule, alert.host, alert.domain_key, alert.since


class AlertsScreen(LiveView):
    """Every alert of the board shown; Enter: its domain selected in the table."""

    BINDINGS = [Binding("exclamation_mark", "close", "Back", show=False)]
    TITLE_ID = "alerts-title"
    DEFAULT_CSS = """
    AlertsScreen #alerts-list { height: 1fr; border: none; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    AlertsScreen #alerts-title { text-wrap: nowrap; text-overflow: ellipsis; }
    AlertsScreen #alerts-detail { height: auto; max-height: 6; padding: 0 1; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[Alert] = []  # the list's alerts, in its order (option ids are positions)

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        yield OptionList(id="alerts-list")
        yield Static(id="alerts-detail")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#alerts-list", OptionList).focus()

    def show(self, snapshot: Snapshot) -> None:
        board = self.xentui.alerts.board
        fleet = self.xentui.fleet.active  # the feed gives a fleet: the HOST column
        firing, resolved = len(board.firing), len(board.resolved)
        self.set_title(stack([
            markup("[b]Alerts[/b]: $firing firing, $resolved resolved lately$problems.  Enter: select its domain   "
                   "Esc: back", firing=firing, resolved=resolved,
                   problems=refused(len(board.problems))),
            literal(view_heading(fleet))]))
        options = self.query_one("#alerts-list", OptionList)
        chosen = self._chosen(options.highlighted)
        every = len(board.firing) + len(board.resolved)
        self.alerts = [*board.firing[:LISTED], *board.resolved[:max(0, LISTED - len(board.firing))]]
        options.clear_options()
        options.add_options(Option(alert_line(a, snapshot.wall, fleet), id=str(n)) for n, a in enumerate(self.alerts))
        if every > len(self.alerts):
            options.add_option(Option(literal(f"… {every - len(self.alerts)} more not listed"), disabled=True))
        options.add_options(Option(markup("[$level-warn]rule refused:[/] $why", why=one_line(p)), disabled=True)
                            for p in board.problems)
        if not board.firing and not board.resolved:
            options.add_option(Option(literal("no alert has fired" + (" yet" if self.xentui.alerts.on else
                                                                     ": no rule is configured")), disabled=True))
        ids = [identity(a) for a in self.alerts]
        options.highlighted = ids.index(chosen) if chosen in ids else (0 if self.alerts else None)
        self.show_detail(options.highlighted)

    def show_detail(self, index: int | None) -> None:
        alert = self.alerts[index] if index is not None and index < len(self.alerts) else None
        now = self.xentui.snapshot.wall if self.xentui.snapshot is not None else 0.0
        self.query_one("#alerts-detail", Static).update(literal("") if alert is None else alert_detail(alert, now))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_detail(event.option_index)

    def _chosen(self, index: int | None) -> Identity | None:
        return identity(self.alerts[index]) if index is not None and index < len(self.alerts) else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_index >= len(self.alerts):
            return
        app, alert = self.xentui, self.alerts[event.option_index]
        self.dismiss(None)
        app.call_next(select_domain, app, alert)  # after the table has caught up (show_view's callback)


def select_domain(app: XentuiApp, alert: Alert) -> None:
    """The alert's domain selected in the table, or one line why not."""
    if not alert.domain_key:
        app.notify(f"{one_line(alert.rule)}: an alert of host {one_line(alert.subject)}, not of a domain")
    elif not app.table.select(alert.domain_key):
        app.notify(f"{one_line(alert.subject)} is not in the table now (gone, filtered out, or on another host "
                   "than the one open)", severity="warning")
