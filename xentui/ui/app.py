"""The full-screen app: host header, live domain table, xentop's keys and htop's habits.

Widgets never call libvirt: a worker drives the Poller (its blocking calls run in its own
thread) and each Snapshot flows one way into the widgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on
from textual.app import App, ComposeResult, ScreenStackError, SystemCommand
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer

from xentui import config
from xentui.actions import Action
from xentui.history import DOMAIN_VALUES, STORED_DOMAIN_VALUES, History, capacity_for
from xentui.model import DomainView, RawSample, Snapshot
from xentui.poller import Poller
from xentui.sources import Source
from xentui.text import visible
from xentui.ui import columns as cols
from xentui.ui import frame, keys, presence, textual_workarounds
from xentui.ui.controllers.actions import DomainActions
from xentui.ui.controllers.alerts import AlertKeys, alerts_of
from xentui.ui.controllers.connection import Connection
from xentui.ui.controllers.dialogs import DialogKeys
from xentui.ui.controllers.fleet import FleetView
from xentui.ui.controllers.replay import ReplayController, ReplayKeys
from xentui.ui.state import SettingsStore, ViewState
from xentui.ui.theming import install_themes
from xentui.ui.views.base import Interest, LiveView
from xentui.ui.views.hosts import HostsScreen
from xentui.ui.views.pcpu import PcpuScreen
from xentui.ui.views.sched import SchedulerKeys
from xentui.ui.views.vcpu import VcpuScreen
from xentui.ui.widgets.detail_pane import DetailPane, GuestFollow
from xentui.ui.widgets.domain_table import DomainTable
from xentui.ui.widgets.host_header import HostHeader

if TYPE_CHECKING:  # a replay's modules load only for a replay (start-up time)
    from xentui.recording.player import ReplayPlayer
    from xentui.recording.writer import Recorder

NOTIFY_MAX = 400  # characters of a notification: outside text (a recording's, a hypervisor's) may be megabytes
FIRST_GAP_S = 0.5  # the first snapshot has no rates: the second follows this soon (at most the delay)


class XentuiApp(ReplayKeys, AlertKeys, SchedulerKeys, GuestFollow, DialogKeys, App[None]):
    TITLE = "xentui"
    CSS_PATH = [Path(__file__).with_name(f"{name}.tcss") for name in ("app", "dialogs", "views")]  # subclasses too
    BINDINGS = keys.APP_BINDINGS  # the keymap (xentui/ui/keys.py); replay keys on in a replay only

    # var, not reactive: a reactive would repaint the whole screen on every snapshot.
    snapshot: var[Snapshot | None] = var(None, always_update=True, init=False)
    view: var[ViewState] = var(ViewState(), init=False)  # filter, sort, CPU mode, details, frozen

    def __init__(self, source: Source, settings: config.Settings, *, config_path: Path | None = None,
                 problems: list[str] | None = None, prime: float = 0.0, poll: bool = True,
                 player: ReplayPlayer | None = None, recorder: Recorder | None = None):
        super().__init__()
        self.animation_level = "none"  # calm over SSH: nothing moves unless the data does
        self.source = source
        self.store = SettingsStore(settings, config_path, self.warn_from_thread)  # settings persist through it
        self.config_path = config_path
        self.problems = list(problems or [])
        # The first sample is shown at once (rates not yet known), the second soon after, then every delay.
        self.poller = Poller(source, settings.delay, prime=prime, first_gap=min(FIRST_GAP_S, settings.delay))
        self.recorder = recorder
        self.replay = ReplayController(self, player) if player is not None else None
        self.feed: Connection | ReplayController = self.replay or Connection(self, self.poller, recorder)
        self.poll = poll  # False: snapshots are set from outside (tests, screenshots)
        # A replay keeps an hour of the recording's own pace; a source with a store of its own, less of its domains'.
        self.history = History(capacity_for(player.recording.header["delay"] if player else settings.delay),
                               STORED_DOMAIN_VALUES if source.KEEPS_HISTORY and not player else DOMAIN_VALUES)
        self.events = False  # lifecycle events subscribed
        self.lost: str | None = None  # the source stopped answering: what the header says (set by Connection)
        self.conditional_columns: frozenset[str] = frozenset()  # of presence.CONDITIONAL_COLUMNS: shown here
        self.actions = DomainActions(self)
        self.alerts = alerts_of(self, settings, replay=player is not None)  # the rules' engine (xentui/alerts/)
        self.fleet = FleetView(self)  # a fleet's whole snapshot, and the host opened on its own
        self.fleet_columns: tuple[str, ...] = ()  # HOST (and GROUP where hosts have groups): a fleet's only
        self.keymap, problems = keys.check_keymap(settings.keys)
        self.problems += problems + install_themes(self, settings)
        self.set_reactive(XentuiApp.view, ViewState.from_settings(settings))

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield HostHeader("connecting…", id="host")
        yield DomainTable(id="domains")
        yield DetailPane("", id="detail", classes="-hidden")
        yield Footer()

    def on_mount(self) -> None:
        for problem in self.problems:
            self.notify(problem, severity="warning", timeout=10)
        self.set_keymap(keys.textual_keymap(self.keymap))  # and the ids sharing a rebound id's keys, kept
        self.refit()
        self.table.focus()
        if self.poll:
            self.run_worker(self.feed.run(), name="poller", exclusive=True)
        if self.recorder is not None:
            self.notify(f"recording to {self.recorder.path}", timeout=6)
        if self.replaying is not None and self.replaying.fallback:
            self.notify(f"{self.replaying.fallback}: showing the bundled demo (-c URI picks a hypervisor)",
                        severity="warning", timeout=15)
        self.call_after_refresh(gc.freeze)  # start-up objects live for the whole run: never scan them again

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification (the app's, its screens', Textual's own) made visible, never markup, and bounded."""
        message = message if len(message) <= NOTIFY_MAX else message[:NOTIFY_MAX] + "…"
        super().notify(visible(message), title=visible(title[:NOTIFY_MAX]), severity=severity, timeout=timeout,
                       markup=False)

    @property
    def table(self) -> DomainTable:
        return self.query_one(DomainTable)

    def chosen_columns(self) -> tuple[str, ...]:
        keys = cols.with_fleet(cols.known(self.settings.columns or cols.DEFAULT_COLUMNS), self.fleet_columns)
        return tuple(k for k in keys if k not in presence.CONDITIONAL_COLUMNS or k in self.conditional_columns)

    def refit(self, force: bool = False, width: int | None = None) -> None:
        """Columns that fit the terminal (the table fits itself); the snapshot again when they changed."""
        if self.table.fit(self.chosen_columns(), (width or self.size.width) - 2, frame.names_width(self.snapshot),
                          self.view.sort, self.view.reverse, force, frame.hosts_width(self.snapshot)) \
                and self.snapshot:
            self.present(self.snapshot)

    def on_resize(self, event: events.Resize) -> None:  # before App's own handler: self.size is still the old
        self.refit(width=event.size.width)

    # --- data ---------------------------------------------------------------------

    def validate_snapshot(self, snapshot: Snapshot | None) -> Snapshot | None:
        return self.fleet.narrow(snapshot)  # a fleet: kept whole there; the host opened alone, when one is

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            return
        self.history.add(self.fleet.whole or snapshot)  # kept while frozen too: z freezes the view, not the history
        with contextlib.suppress(NoMatches, ScreenStackError):  # the app closed while the tick was on its way
            if self.paused:
                return
            if not isinstance(self.screen, LiveView):  # a view covers the table: only it is drawn, the table on return
                self.present(snapshot)
            elif self.screen.is_mounted:  # just pushed, not composed yet: its on_mount shows self.snapshot
                self.screen.show(snapshot)

    def watch_view(self, old: ViewState, new: ViewState) -> None:
        """The view state changed: persist its settings part, then redraw what it affects."""
        if new.persisted() != old.persisted():
            self.change(**new.persisted())
        if new.filter_problem is not None and new.filter_text != old.filter_text:
            self.notify(new.filter_problem, severity="warning")
        if (new.sort, new.reverse) != (old.sort, old.reverse):
            self.refit(force=True)
        elif (new.filter_text, new.cpu_mode) != (old.filter_text, old.cpu_mode) or (old.frozen and not new.frozen):
            if self.snapshot:
                self.present(self.snapshot)
        elif new.frozen != old.frozen:
            self.show_header()
        if new.details != old.details:
            self.update_detail()

    @property
    def paused(self) -> bool:
        return self.view.frozen

    def set_interest(self, interest: Interest | None) -> None:
        """What placement the view on top wants read: passed on to the poller."""
        uuid, every_domain = interest or (None, False)
        self.poller.watch_placement(uuid, every_domain=every_domain)

    def show_view(self, screen: Screen[None]) -> None:
        """Open a full-screen view; the table, not redrawn while covered, catches up when it closes."""
        self.push_screen(screen, self._table_catches_up)

    def _table_catches_up(self, _result: object = None) -> None:
        if self.snapshot is not None and not self.paused:
            self.present(self.snapshot)

    @property
    def context(self) -> cols.Context:
        return cols.Context(self.view.cpu_mode, self.history, attach_key=keys.key_hint("cache_monitor", self.keymap),
                            cpu_key=keys.key_hint("cpu_mode", self.keymap),  # the keys named, as the keymap has them
                            hosts_key=keys.key_hint("hosts", self.keymap), groups=self.fleet.groups(),
                            alerts=self.alerts.shown, guest=(s := self.settings).guest, steal_levels=s.steal_levels,
                            disk_ms_levels=s.disk_ms_levels)

    def present(self, snapshot: Snapshot) -> None:
        shown = frame.conditional(snapshot)
        fleet = cols.fleet_keys(snapshot)
        if shown != self.conditional_columns or fleet != self.fleet_columns:
            self.conditional_columns, self.fleet_columns = shown, fleet
            self.refit(force=True)
        if frame.names_width(snapshot) > self.table.name_width or frame.hosts_width(snapshot) > self.table.host_width:
            self.refit()
        self.show_header(ctx := self.context)  # one Context a frame (a fleet's groups are a dict of its hosts)
        self.table.present(frame.rows(snapshot, self.view, ctx), ctx)  # prepared off the loop
        self.update_detail()

    def show_header(self, ctx: cols.Context | None = None) -> None:
        if self.snapshot is not None:
            self.query_one(HostHeader).show(self.snapshot, ctx=ctx or self.context, mode_line=self.feed.mode_line(),
                                            width=self.size.width, alert=self.feed.alert())

    def selected(self) -> DomainView | None:
        key = self.table.cursor_domain()
        return None if key is None else self.table.views.get(key)

    def targets(self) -> list[DomainView]:
        """Tagged domains (in table order), else the selected one."""
        table = self.table
        tagged = [table.views[u] for u in table.order if u in table.tagged]
        chosen = self.selected()
        return tagged or ([chosen] if chosen is not None else [])

    @on(DomainTable.RowsShown)
    def _rows_shown(self, event: DomainTable.RowsShown) -> None:
        self.poller.show_rows(event.keys)

    @on(DomainTable.CursorMoved)
    def update_detail(self) -> None:
        with contextlib.suppress(NoMatches):  # a cursor message met after the app closed: nothing left to show
            chosen = self.selected()  # with its own host's facts (in a fleet, one of many)
            self.query_one(DetailPane).show(chosen, self.view.details, self.fleet.host_of(chosen) if chosen else None,
                                            keys.key_hint("cache_monitor", self.keymap),
                                            self.snapshot.wall if self.snapshot is not None else None)

    # --- settings -----------------------------------------------------------------

    @property
    def settings(self) -> config.Settings:
        return self.store.settings

    def change(self, **changes: object) -> None:
        """Apply and persist a settings change."""
        self.store.change(**changes)

    def warn_from_thread(self, problem: str, timeout: float | None = None) -> None:
        """From a worker thread: a settings save, or a recording's write (the recording stopped), failed."""
        with contextlib.suppress(RuntimeError):  # the app already stopped: nobody left to tell
            self.call_from_thread(self.notify, problem, severity="warning", timeout=timeout)

    def watch_theme(self, theme: str) -> None:
        if hasattr(self, "store") and theme != self.settings.theme and theme != "no-color":
            self.change(theme=theme)

    # --- actions (keys) -------------------------------------------------------------

    @property
    def replaying(self) -> ReplayPlayer | None:  # the player, in a replay only (its keys are on then, keys.py)
        return self.replay.player if self.replay is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Replay keys only in a replay, live-only keys never in one (keys.py says which); domain actions never while
        a dialog is open: keys typed fast after `/` (or pasted) reach the app before the prompt has the focus."""
        if action in keys.REPLAY_ACTIONS:
            return self.replaying is not None
        if keys.fleet_only(action, parameters):
            return self.fleet.active  # off (and out of the footer and help) for one host
        if action in keys.ALERTS_ACTIONS:
            return self.alerts.on  # no alert rule: off (and out of the help)
        if self.replaying is not None and action in keys.LIVE_ONLY_ACTIONS:
            return False  # a recording cannot be acted on, and its pace is the recording's
        return not (action in keys.GUARDED_ACTIONS and isinstance(self.screen, ModalScreen))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from self.actions.commands()

    def action_escape(self) -> None:
        if self.view.filter_text:
            self.view = self.view.filtered("")
        elif not self.fleet.leave():  # a host opened alone: back to the fleet
            self.exit()

    def action_hosts(self) -> None:
        self.show_view(HostsScreen())

    def action_sort(self, step: int) -> None:
        self.view = self.view.sort_step(self.table.shown, step)

    def action_invert(self) -> None:
        self.view = self.view.inverted()

    @on(DomainTable.HeaderClicked)
    def _header_clicked(self, event: DomainTable.HeaderClicked) -> None:
        self.view = self.view.clicked(event.key)

    def action_cpu_mode(self) -> None:
        self.view = self.view.other_cpu_mode()

    def action_pause(self) -> None:
        self.view = self.view.toggled_frozen()

    def action_detail(self, kind: str) -> None:
        self.view = self.view.toggled_detail(kind)

    def action_tag(self) -> None:
        self.table.toggle_tag()

    def action_untag(self) -> None:
        self.table.clear_tags()

    def action_act(self, names: str) -> None:
        self.actions.request([Action(name) for name in names.split(",")])

    def action_menu(self) -> None:
        self.actions.menu()

    def action_cache_monitor(self) -> None:
        self.actions.cache_monitor()

    def action_vcpu_view(self) -> None:
        if (view := self.selected()) is not None and not self.fleet.opened_for(view):
            self.show_view(VcpuScreen(view.key))

    def action_charts(self) -> None:
        from xentui.ui.views.charts import DomainChartsScreen  # plotext loads when first needed (start-up time)

        if (view := self.selected()) is not None:
            self.show_view(DomainChartsScreen(view.key))

    def action_host_charts(self) -> None:
        from xentui.ui.views.charts import HostChartsScreen

        self.show_view(HostChartsScreen())

    def action_pcpu_view(self) -> None:
        fleet = bool(self.snapshot and self.snapshot.fleet)  # a fleet has no one set of pCPUs: the domain's host's
        if not fleet or ((view := self.selected()) is not None and self.fleet.opened_for(view)):
            self.show_view(PcpuScreen())

    def action_header(self) -> None:
        self.table.show_header = not self.table.show_header

    def action_repaint(self) -> None:
        self.refresh(layout=True)

    def on_unmount(self) -> None:
        self.poller.close()
        self.alerts.close()  # its hooks under way killed
        self.store.close()


def run_app(source: Source, settings: config.Settings, problems: list[str], config_path: Path | None,
            loop: asyncio.AbstractEventLoop | None = None, *, player: ReplayPlayer | None = None,
            recorder: Recorder | None = None, first: RawSample | Future[RawSample | None] | None = None) -> int:
    # Each tick at 1000 domains allocates ~20 000 short-lived, acyclic objects: with the default
    # threshold (700) the cyclic GC ran ~30 times a tick, over Textual's whole heap (1 % of a core).
    gc.set_threshold(20_000, 20, 20)
    textual_workarounds.install()
    app = XentuiApp(source, settings, config_path=config_path, problems=problems, player=player, recorder=recorder)
    if first is not None:
        app.poller.preload(first)
    app.run(loop=loop)
    return 0
