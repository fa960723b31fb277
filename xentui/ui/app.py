"""The full-screen app: host header, live domain table, xentop's keys and htop's habits.

Widgets never call libvirt: a worker drives the Poller (its blocking calls run in its own
thread) and each Snapshot flows one way into the widgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import time
from pathlib import Path

from rich.cells import cell_len
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from xentui import config
from xentui.actions import Action
from xentui.history import History, capacity_for
from xentui.model import DomainView, Snapshot
from xentui.output.xentop import net_line, vbd_line, vcpu_line
from xentui.poller import Poller, check_delay
from xentui.sources import Source, SourceError
from xentui.text import one_line, visible
from xentui.ui import columns as cols
from xentui.ui import textual_workarounds
from xentui.ui.cache_render import cache_lines
from xentui.ui.charts import ChartsScreen, DomainChartsScreen, HostChartsScreen
from xentui.ui.domain_actions import ACTIONS, DomainActions
from xentui.ui.literal import Visible, lines, literal, markup
from xentui.ui.placement_screens import PcpuScreen, VcpuScreen
from xentui.ui.replay_controls import REPLAY_ACTIONS, REPLAY_BINDINGS, REPLAY_KEYS, ReplayControls
from xentui.ui.screens import ColumnsScreen, HelpScreen, PromptScreen
from xentui.ui.themes import DEFAULT_THEME, builtin_themes, user_themes
from xentui.ui.widgets.domain_table import DomainTable
from xentui.ui.widgets.host_header import HostHeader

textual_workarounds.install()
KEYS = [
    ("q Q Esc", "quit (Esc first clears a filter)"),
    ("Up Down PgUp PgDn", "move in the table"),
    ("s S", "sort by the next column (xentop)"),
    ("< > F6", "sort by the previous / next column"),
    ("i I", "invert the sort order"),
    ("click header", "sort by that column (again: invert)"),
    ("/", "filter by name: substring or regular expression (empty clears)"),
    ("t", "CPU(%): % of one pCPU (xentop) or % of the whole host (virt-top)"),
    ("d D", "delay between updates, 0.2 to 3600 s"),
    ("Space", "tag / untag the selected domain (actions apply to tagged domains, else the selected one)"),
    ("u U", "untag every domain"),
    ("z Z", "pause / resume updates"),
    ("x F9", "action menu: the actions offered for the domain's state (needs --write)"),
    ("p", "pause / resume the domain"),
    ("o", "shut down (ACPI; asks y/n)"),
    ("e", "reboot (asks y/n)"),
    ("k", "destroy: force off (asks you to type the domain's name)"),
    ("m", "set balloon memory (e.g. 512M)"),
    ("g", "start a defined domain that is off"),
    ("A", "attach / detach Cache QoS monitoring of the domain (xl psr-cmt-attach, a resctrl group)"),
    ("l L", "Cache QoS of the selected domain per socket: LLC held, % of that L3, memory bandwidth"),
    ("n N", "network lines of the selected domain (xentop -n)"),
    ("b B", "block device lines of the selected domain (xentop -x)"),
    ("v", "vCPU line of the selected domain (xentop -v)"),
    ("Enter V", "vCPU view of the selected domain: placement matrix, pin (p), all vCPUs (a), config too (c)"),
    ("h", "charts of the selected domain: CPU % per vCPU, memory, network, disk (history)"),
    ("H", "charts of the host: CPU busy, memory used, all domains' network and disk"),
    ("1", "pCPU view: use of each physical CPU and the vCPUs on it, by NUMA node (virt-top -1)"),
    ("r R", "show / hide the table header"),
    ("c F2", "choose columns"),
    ("Ctrl+L", "repaint"),
    ("Ctrl+P", "command palette: change theme, ..."),
    ("F1 ?", "this help"),
    *REPLAY_KEYS,
]


FULL_VIEWS = (VcpuScreen, PcpuScreen, ChartsScreen)  # screens that cover the table
GUARDED_ACTIONS = {"act", "menu", "tag", "untag", "vcpu_view", "pcpu_view", "cache_monitor"}


class XentuiApp(ReplayControls, DomainActions, App):
    TITLE = "xentui"
    CSS = """
    Screen { layout: vertical; }
    DomainTable { height: 1fr; }
    #detail { height: auto; max-height: 12; padding: 0 1; background: $panel; }
    #detail.-hidden { display: none; }
    """
    BINDINGS = [
        Binding("q,Q", "quit", "Quit"),
        Binding("escape", "escape", show=False),
        Binding("f1,question_mark", "help", "Help"),
        Binding("s,S", "sort(1)", "Sort", show=False),
        Binding("greater_than_sign,f6", "sort(1)", "Sort", key_display="> F6"),
        Binding("less_than_sign", "sort(-1)", show=False),
        Binding("i,I", "invert", "Invert", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("t", "cpu_mode", "CPU%"),
        Binding("d,D", "delay", "Delay"),
        Binding("space", "tag", "Tag"),
        Binding("u,U", "untag", show=False),
        Binding("z,Z", "pause", "Freeze", key_display="z"),
        Binding("x,f9", "menu", "Act", key_display="x"),
        Binding("p", "act('pause,resume')", show=False),
        Binding("o", "act('shutdown')", show=False),
        Binding("e", "act('reboot')", show=False),
        Binding("k", "act('destroy')", show=False),
        Binding("m", "act('balloon')", show=False),
        Binding("g", "act('start')", show=False),
        Binding("A", "cache_monitor", show=False),
        Binding("l,L", "detail('cache')", "LLC", show=False),
        Binding("n,N", "detail('nets')", "Nets", show=False),
        Binding("b,B", "detail('vbds')", "VBDs", show=False),
        Binding("v", "detail('vcpus')", "vCPUs", show=False),
        Binding("enter,V", "vcpu_view", "vCPUs", key_display="Enter"),
        Binding("1", "pcpu_view", "pCPUs"),
        Binding("h", "charts", "Charts"),
        Binding("H", "host_charts", show=False),
        Binding("r,R", "header", show=False),
        Binding("c,f2", "choose_columns", "Columns", key_display="c"),
        Binding("ctrl+l", "repaint", show=False),
        *REPLAY_BINDINGS,  # shown and on in a replay only
    ]

    # var, not reactive: a reactive would repaint the whole screen on every snapshot.
    snapshot: var[Snapshot | None] = var(None, always_update=True, init=False)
    paused: var[bool] = var(False)

    def __init__(self, source: Source, settings: config.Settings, *, config_path: Path | None = None,
                 problems: list[str] | None = None, prime: float | None = None, poll: bool = True):
        super().__init__()
        self.animation_level = "none"  # calm over SSH: nothing moves unless the data does
        self.source = source
        self.settings = settings
        self.config_path = config_path
        self.saver = config.Saver(config_path) if config_path is not None else None
        self.problems = list(problems or [])
        self.poller = Poller(source, settings.delay, prime=min(1.0, settings.delay) if prime is None else prime)
        self.poll = poll  # False: snapshots are set from outside (tests, screenshots)
        recording = getattr(source, "recording", None)  # a replay keeps an hour of the recording's own pace
        self.history = History(capacity_for(recording.header["delay"] if recording else settings.delay))
        self.filter_text = ""
        self.events = False  # lifecycle events subscribed
        self.lost: str | None = None  # the source stopped answering: what the header says
        self.lost_at = 0.0
        self.filter_re: re.Pattern | None = None
        self.details: set[str] = set()
        self.last_fit: tuple[str, ...] = ()
        self.cache_columns = False  # Cache QoS columns shown: only when some domain has Cache QoS
        for theme in builtin_themes():
            self.register_theme(theme)
        themes, errors = user_themes(config.config_dir() / "themes")
        for theme in themes:
            self.register_theme(theme)
        self.problems += errors
        if self.no_color:  # https://no-color.org (Textual read and removed NO_COLOR)
            self.theme = "no-color"
            textual_workarounds.no_color(self)
        elif settings.theme in self.available_themes:
            self.theme = settings.theme
        else:
            known = ", ".join(sorted(self.available_themes))
            self.problems.append(f"theme {settings.theme!r} not found (known: {known}); using {DEFAULT_THEME}")
            self.theme = DEFAULT_THEME

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield HostHeader("connecting…", id="host")
        yield DomainTable(id="domains")
        yield Static("", id="detail", classes="-hidden")
        yield Footer()

    def on_mount(self) -> None:
        for problem in self.problems:
            self.notify(problem, severity="warning", timeout=10)
        self.refit()
        self.table.focus()
        if self.poll:
            self.run_worker(self._replay() if self.replaying else self._poll(), name="poller", exclusive=True)
        if self.replaying is not None and self.replaying.fallback:
            self.notify(f"{self.replaying.fallback}: showing the bundled demo (-c URI picks a hypervisor)",
                        severity="warning", timeout=15)
        self.call_after_refresh(gc.freeze)  # start-up objects live for the whole run: never scan them again

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification (the app's, its screens', Textual's own) made visible, never markup."""
        super().notify(visible(message), title=visible(title), severity=severity, timeout=timeout, markup=False)

    @property
    def table(self) -> DomainTable:
        return self.query_one(DomainTable)

    def chosen_columns(self) -> tuple[str, ...]:
        keys = cols.known(self.settings.columns or cols.DEFAULT_COLUMNS)
        return keys if self.cache_columns else tuple(k for k in keys if k not in cols.CACHE_COLUMNS)

    def refit(self, force: bool = False) -> None:
        """Columns that fit the terminal, least important dropped first; rebuilt only on change."""
        name_width = self.name_width(self.snapshot)
        fitted = cols.fit(self.chosen_columns(), self.size.width - 2, name_width)
        if force or fitted != self.last_fit or name_width != self.table.name_width:
            self.table.name_width = name_width
            self.table.set_columns(fitted, self.settings.sort, self.settings.reverse)
            self.last_fit = fitted
            if self.snapshot:
                self.present(self.snapshot)

    @staticmethod
    def name_width(snapshot: Snapshot | None) -> int:
        """Cells the NAME column needs: the names as shown (tokens, wide characters), 8 to 40."""
        names = snapshot.domains if snapshot else ()
        return min(40, max([8, *(cell_len(visible(v.name)) for v in names)]))

    def on_resize(self) -> None:
        self.refit()

    # --- data ---------------------------------------------------------------------

    async def _subscribe(self) -> None:
        """libvirt lifecycle events make state changes show at once; without them, polling alone."""
        subscribe = getattr(self.source, "subscribe", None)
        if subscribe is None:
            return
        try:
            reason = await self.poller.call(lambda: subscribe(self._domain_event))
        except Exception as err:  # events are a bonus: never fatal
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        self.events = reason is None
        if reason is not None:
            self.notify(f"no lifecycle events ({reason}): changes show at the next update", timeout=6)

    def _domain_event(self, _uuid: str) -> None:
        self.poller.wake()  # on the loop's thread (libvirt's events run on it)

    async def _poll(self) -> None:
        await self._subscribe()
        attempt = 0
        while True:
            try:
                async for snapshot in self.poller.snapshots():
                    if self.lost is not None:
                        self.notify(f"connection back after {time.monotonic() - self.lost_at:.0f} s")
                        self.lost = None
                    attempt = 0
                    self.snapshot = snapshot
            except SourceError as err:
                wait = self.poller.backoff(attempt)
                attempt += 1
                if self.lost is None:
                    self.lost_at = time.monotonic()
                self.lost = (f"connection lost: {str(err).strip()}; retrying in {wait:.0f} s "
                             "(the data shown is from before)")
                self.show_header()
                await self.poller.wait_to_retry(wait)

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            self.history.add(snapshot)  # kept while frozen too: z freezes the view, not the history
        if snapshot is not None and not self.paused:
            if isinstance(self.screen, FULL_VIEWS):  # it covers the table: only it is drawn, the table on return
                if self.screen.is_mounted:  # just pushed, not composed yet: its on_mount shows self.snapshot
                    self.screen.show(snapshot)
            else:
                self.present(snapshot)

    def show_view(self, screen: Screen) -> None:
        """Open a full-screen view; the table, not redrawn while covered, catches up when it closes."""
        self.push_screen(screen, self._table_catches_up)

    def _table_catches_up(self, _result: object = None) -> None:
        if self.snapshot is not None and not self.paused:
            self.present(self.snapshot)

    def visible(self, snapshot: Snapshot) -> list[DomainView]:
        views = list(snapshot.domains)
        if self.filter_re is not None:
            views = [v for v in views if self.filter_re.search(v.name)]
        column = cols.BY_KEY.get(self.settings.sort, cols.BY_KEY["cpu_pct"])
        return cols.ordered(views, column, self.context, self.settings.reverse)

    @property
    def context(self) -> cols.Context:
        return cols.Context(cpu_mode=self.settings.cpu_mode, history=self.history)

    def present(self, snapshot: Snapshot) -> None:
        has_cache = any(v.cache is not None for v in snapshot.domains)
        if has_cache != self.cache_columns:
            self.cache_columns = has_cache
            self.refit(force=True)
        if self.name_width(snapshot) > self.table.name_width:
            self.refit()
        self.show_header()
        self.table.present(self.visible(snapshot), self.context)
        self.update_detail()

    def show_header(self) -> None:
        if self.snapshot is not None:
            alert = self.lost
            if alert is None and self.replaying is not None and self.replaying.fallback:
                alert = f"the bundled demo, not this host: {self.replaying.fallback}"  # said first: lines get cut
            self.query_one(HostHeader).show(self.snapshot, cpu_mode=self.settings.cpu_mode,
                                            mode_line=self.mode_line(), width=self.size.width, alert=alert)

    def mode_line(self) -> Content:
        if self.replaying is not None:
            return self.replay_mode_line()
        parts = [markup("[$level-warn]read-only[/]" if self.source.readonly
                        else "[$level-crit]WRITE[/]"),
                 literal(f"every {self.poller.delay:g} s" + (" + events" if self.events else ""))]
        if self.paused:
            parts.append(markup("[reverse] PAUSED [/]"))
        if self.lost is not None:
            parts.append(markup("[reverse $level-crit] STALE [/]"))
        if self.filter_text:
            parts.append(markup("filter: $text", text=self.filter_text))
        return literal("  ").join(parts)

    def selected(self) -> DomainView | None:
        uuid = self.table.cursor_domain()
        return None if uuid is None else self.table.views.get(uuid)

    def update_detail(self) -> None:
        pane = self.query_one("#detail", Static)
        view = self.selected()
        pane.set_class(not self.details or view is None, "-hidden")
        if not self.details or view is None:
            return
        shown = [Visible(visible(view.name) + (f": {one_line(view.sample.stale)}" if view.sample.stale else ""))]
        if "vcpus" in self.details:
            shown.extend(map(Visible, vcpu_line(view).split("\n")))  # numbers only
        if "nets" in self.details:
            shown.extend(Visible(net_line(i, n)) for i, n in enumerate(view.sample.nets))  # numbers only
        if "vbds" in self.details:
            shown.extend(Visible(vbd_line(i, b)) for i, b in enumerate(view.sample.blocks))  # the name made visible
        if "cache" in self.details:
            shown.extend(cache_lines(view, self.snapshot.host if self.snapshot else None))
        pane.update(lines(shown))  # plain text: "[ca: 0]" is not markup

    @on(DomainTable.CursorMoved)
    def _row_moved(self) -> None:
        self.update_detail()

    # --- settings -----------------------------------------------------------------

    def change(self, **changes) -> None:
        """Apply and persist a settings change."""
        self.settings = config.replace(self.settings, **changes)
        if self.saver is not None:
            self.saver.submit(self.settings, self._save_failed)

    def _save_failed(self, problem: str) -> None:
        with contextlib.suppress(RuntimeError):  # the app already stopped: nobody left to tell
            self.call_from_thread(self.notify, problem, severity="warning")

    def watch_theme(self, theme: str) -> None:
        if hasattr(self, "settings") and theme != self.settings.theme and theme != "no-color":
            self.change(theme=theme)

    # --- actions (keys) -------------------------------------------------------------

    def action_escape(self) -> None:
        if self.filter_text:
            self.apply_filter("")
        else:
            self.exit()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(KEYS))

    def action_sort(self, step: int) -> None:
        shown = self.table.shown or ("cpu_pct",)
        current = shown.index(self.settings.sort) if self.settings.sort in shown else -1
        key = shown[(current + step) % len(shown)]
        self.sort_by(key, reverse=self.settings.reverse)

    def sort_by(self, key: str, reverse: bool) -> None:
        self.change(sort=key, reverse=reverse)
        self.refit(force=True)

    def action_invert(self) -> None:
        self.sort_by(self.settings.sort, not self.settings.reverse)

    @on(DomainTable.HeaderClicked)
    def _header_clicked(self, event: DomainTable.HeaderClicked) -> None:
        key = event.key
        same = key == self.settings.sort
        self.sort_by(key, reverse=not self.settings.reverse if same else cols.BY_KEY[key].numeric)

    def action_cpu_mode(self) -> None:
        self.change(cpu_mode="host" if self.settings.cpu_mode == "pcpu" else "pcpu")
        if self.snapshot:
            self.present(self.snapshot)

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self.snapshot:
            self.present(self.snapshot)
        else:
            self.show_header()

    def action_detail(self, kind: str) -> None:
        self.details ^= {kind}
        self.update_detail()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Domain actions never fire while a dialog is open: keys typed fast after `/` (or pasted) can reach
        the app before the prompt's input has the focus, and `p` must not pause a VM then."""
        if action in REPLAY_ACTIONS:
            return self.replaying is not None
        if self.replaying is not None and action in ("act", "menu", "tag", "untag", "delay", "pause"):
            return False  # a recording cannot be acted on, and its pace is the recording's
        return not (action in GUARDED_ACTIONS and isinstance(self.screen, ModalScreen))

    def targets(self) -> list[DomainView]:
        """Tagged domains (in table order), else the selected one."""
        table = self.table
        tagged = [table.views[u] for u in table.order if u in table.tagged]
        chosen = self.selected()
        return tagged or ([chosen] if chosen is not None else [])

    def action_tag(self) -> None:
        self.table.toggle_tag()

    def action_untag(self) -> None:
        self.table.clear_tags()

    def action_act(self, names: str) -> None:
        self.request([Action(name) for name in names.split(",")])

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for action, (key, label, _confirm) in ACTIONS.items():
            yield SystemCommand(f"Domain: {label}", f"{action.value} the tagged or selected domain (key {key})",
                                lambda a=action: self.request([a]))

    def action_vcpu_view(self) -> None:
        view = self.selected()
        if view is not None:
            self.show_view(VcpuScreen(view.uuid))

    def action_charts(self) -> None:
        view = self.selected()
        if view is not None:
            self.show_view(DomainChartsScreen(view.uuid))

    def action_host_charts(self) -> None:
        self.show_view(HostChartsScreen())

    def action_pcpu_view(self) -> None:
        self.show_view(PcpuScreen())

    def action_header(self) -> None:
        self.table.show_header = not self.table.show_header

    def action_repaint(self) -> None:
        self.refresh(layout=True)

    def action_delay(self) -> None:
        def done(value: str | None) -> None:
            if value is None or not value.strip():
                return
            try:
                seconds = check_delay(value.strip())
            except ValueError as err:
                self.notify(one_line(str(err)), severity="error")
                return
            self.poller.delay = seconds
            self.change(delay=seconds)
            self.notify(f"updates every {seconds:g} s")

        self.push_screen(PromptScreen(literal("Delay (seconds, 0.2 to 3600):"), f"{self.poller.delay:g}"), done)

    def action_filter(self) -> None:
        def done(value: str | None) -> None:
            if value is not None:
                self.apply_filter(value.strip())

        self.push_screen(PromptScreen(literal("Filter by name (substring or regular expression; empty clears):"),
                                      self.filter_text, "e.g. web or ^db-[0-9]+$"), done)

    def apply_filter(self, text: str) -> None:
        self.filter_text = text
        if not text:
            self.filter_re = None
        else:
            try:
                self.filter_re = re.compile(text, re.IGNORECASE)
            except re.error as err:
                self.filter_re = re.compile(re.escape(text), re.IGNORECASE)
                self.notify(f"{text!r} is not a regular expression ({err}): matching it as plain text",
                            severity="warning")
        if self.snapshot:
            self.present(self.snapshot)

    def action_choose_columns(self) -> None:
        def done(keys: tuple[str, ...] | None) -> None:
            if keys:
                self.change(columns=keys)
                self.refit(force=True)

        self.push_screen(ColumnsScreen(self.chosen_columns()), done)

    def on_unmount(self) -> None:
        self.poller.close()
        if self.saver is not None:
            self.saver.close()


def run_app(source: Source, settings: config.Settings, problems: list[str], config_path: Path | None,
            loop: asyncio.AbstractEventLoop | None = None) -> int:
    # Each tick at 1000 domains allocates ~20 000 short-lived, acyclic objects: with the default
    # threshold (700) the cyclic GC ran ~30 times a tick, over Textual's whole heap (1 % of a core).
    gc.set_threshold(20_000, 20, 20)
    XentuiApp(source, settings, config_path=config_path, problems=problems).run(loop=loop)
    return 0
