"""The domain table: rows keyed by domain key (UUID; host/UUID in a fleet); only the lines that changed are repainted.

A Line-API widget (not DataTable: DataTable repaints every visible row when one cell
changes, tens of KB per frame over SSH).  Each tick ``present()`` compares the new rows
with the old ones line by line and refreshes only the changed lines, so when only a few
numbers move only a few lines are sent.  The cursor stays on its domain when the order
changes; scroll position survives every refresh.  Colours come from component classes
(``domain-table--crit``, ``domain-table--paused``, ...) styled with theme variables.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from xentui.model import DomainView
from xentui.ui import keys
from xentui.ui.alert_render import MARK as ALERT_MARK  # NAME's level is a firing alert's (columns.py)
from xentui.ui.columns import AGED, BY_KEY, HOST_WIDTH, Context, fit
from xentui.ui.frame import Rows

LEVELS = ("warn", "crit", "aged", "warn-aged", "crit-aged", "running", "blocked", "paused", "pmsuspended", "crashed",
          "shutdown", "shutoff", "dying", "nostate")
Cells = tuple[tuple[str, str | None], ...]


def with_age(level: str | None, aged: bool) -> str | None:
    """A cell's level, dim where its figure was read on an earlier tick (a warn or crit keeps its colour)."""
    if not aged:
        return level
    return f"{level}-aged" if level in ("warn", "crit") else "aged"


class DomainTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {f"domain-table--{level}" for level in LEVELS} | {
        "domain-table--header", "domain-table--cursor", "domain-table--tagged"}
    DEFAULT_CSS = """
    DomainTable { background: $surface; }
    DomainTable > .domain-table--header { text-style: bold; background: $panel; }
    DomainTable > .domain-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground;
                                          text-style: bold; }
    DomainTable > .domain-table--tagged { text-style: bold underline; }
    DomainTable > .domain-table--warn { color: $level-warn; }
    DomainTable > .domain-table--crit { color: $level-crit; text-style: bold; }
    DomainTable > .domain-table--aged { text-style: dim; }
    DomainTable > .domain-table--warn-aged { color: $level-warn; text-style: dim; }
    DomainTable > .domain-table--crit-aged { color: $level-crit; text-style: bold dim; }
    DomainTable > .domain-table--running { color: $dom-running; }
    DomainTable > .domain-table--blocked { color: $dom-blocked; }
    DomainTable > .domain-table--paused { color: $dom-paused; text-style: italic; }
    DomainTable > .domain-table--pmsuspended { color: $dom-paused; }
    DomainTable > .domain-table--crashed { color: $dom-crashed; text-style: bold reverse; }
    DomainTable > .domain-table--dying { color: $dom-crashed; }
    DomainTable > .domain-table--shutdown { color: $dom-shutdown; }
    DomainTable > .domain-table--shutoff { color: $dom-shutdown; }
    DomainTable > .domain-table--nostate { color: $dom-blocked; }
    """
    BINDINGS = keys.TABLE_BINDINGS

    class HeaderClicked(Message):
        def __init__(self, key: str):
            super().__init__()
            self.key = key

    class CursorMoved(Message):
        def __init__(self, uuid: str | None):
            super().__init__()
            self.uuid = uuid

    class RowsShown(Message):
        """The keys of the rows now on screen (when they change): their slow figures are read every tick."""

        def __init__(self, keys: tuple[str, ...]):
            super().__init__()
            self.keys = keys

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.shown: tuple[str, ...] = ()
        self._cell_makers: tuple[tuple[Callable[[DomainView, Context], str],
                                       Callable[[DomainView, Context], str | None], bool], ...] = ()
        self._widths: tuple[int, ...] = ()
        self._numeric: tuple[bool, ...] = ()  # of each shown column: right-aligned
        self._length = 0  # a line's cells
        self.widths: dict[str, int] = {}
        self.labels: dict[str, str] = {}
        self.name_width = 16
        self.host_width = HOST_WIDTH
        self.fitted: tuple[str, ...] = ()  # the columns asked for that fit, as last built
        self.order: list[str] = []  # domain keys (DomainView.key) in display order (never changed in place)
        self.views: dict[str, DomainView] = {}  # (never changed in place)
        self.ctx = Context()
        self.cells: dict[str, Cells] = {}  # computed this tick, on demand
        self._painted: dict[int, tuple[str, Cells]] = {}  # what each line showed when last drawn
        self.cursor = 0
        self._restore: str | None = None  # the cursor's domain across a rebuild of the columns
        self._show_header = True
        self._strips: dict[str, tuple[tuple[Cells, bool, bool, int, int], Strip]] = {}  # (as drawn, the line)
        self.tagged: set[str] = set()  # keys tagged with Space: actions apply to them
        self._styles: dict[str, Style] = {}
        self._rows_told: tuple[str, ...] = ()

    # --- public -------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.order)

    @property
    def show_header(self) -> bool:
        return self._show_header

    @show_header.setter
    def show_header(self, value: bool) -> None:
        self._show_header = value
        self._resize()
        self.refresh()

    def cursor_domain(self) -> str | None:
        return self.order[self.cursor] if 0 <= self.cursor < len(self.order) else None

    def select(self, row_key: str) -> bool:
        """The cursor put on ``row_key``'s row (False: not in the table)."""
        if row_key not in self.views:
            return False
        self._move_to(self.order.index(row_key))
        return True

    def toggle_tag(self) -> None:
        """Tag or untag the cursor's domain, then move down (as htop's Space)."""
        row_key = self.cursor_domain()
        if row_key is None:
            return
        self.tagged ^= {row_key}
        self._refresh_rows([self.cursor])
        self.action_move(1)

    def clear_tags(self) -> None:
        rows = [i for i, row_key in enumerate(self.order) if row_key in self.tagged]
        self.tagged.clear()
        self._refresh_rows(rows)

    def cell_text(self, row_key: str, key: str) -> str:
        return self.cells_for(row_key)[self.shown.index(key)][0]

    def fit(self, keys: tuple[str, ...], width: int, name_width: int, sort_key: str, reverse: bool,
            force: bool = False, host_width: int = HOST_WIDTH) -> bool:
        """The columns that fit ``width`` (NAME ``name_width`` wide, HOST ``host_width``), least important dropped
        first; rebuilt only on change (True)."""
        fitted = fit(keys, width, name_width, host_width)
        if not (force or fitted != self.fitted or name_width != self.name_width or host_width != self.host_width):
            return False
        self.name_width, self.host_width = name_width, host_width
        self.set_columns(fitted, sort_key, reverse)
        self.fitted = fitted
        return True

    def set_columns(self, keys: tuple[str, ...], sort_key: str, reverse: bool) -> None:
        """(Re)build the columns; everything is repainted once."""
        self.shown = keys
        self._cell_makers = tuple((BY_KEY[k].text, BY_KEY[k].level, k in AGED) for k in keys)
        self.widths, self.labels = {}, {}
        for key in keys:
            column = BY_KEY[key]
            label = column.header + (("▼" if reverse else "▲") if key == sort_key else "")
            width = (self.name_width if key == "name" else max(self.host_width, len(label)) if key == "host"
                     else max(column.width, len(label)))
            self.widths[key] = width
            self.labels[key] = label
        self._widths = tuple(self.widths.values())  # of each shown column, in order (as _numeric)
        self._numeric = tuple(BY_KEY[k].numeric for k in keys)
        self._length = sum(w + 2 for w in self._widths)
        self._restore = self.cursor_domain() or self._restore
        self.cells = {}
        self._painted = {}  # the next present() paints every row
        self._strips.clear()
        self._resize()
        self.refresh()

    def present(self, rows: Rows, ctx: Context) -> None:
        """Show ``rows`` in their order; repaint only the visible cells whose text changed.

        Cells are computed for the visible lines only (and for others when scrolled to), so a
        1000-domain tick costs what 40 lines cost.  ``rows`` are kept as given, never changed.
        """
        chosen = self.cursor_domain() or self._restore
        self._restore = None
        old_count, old_cursor = len(self.order), self.cursor
        self.order = rows.keys
        self.views = rows.by_key
        self.ctx = ctx
        self.cells = {}
        if chosen in self.views:
            self.cursor = self.order.index(chosen)
        else:
            self.cursor = min(self.cursor, max(0, len(self.order) - 1))
        for row_key in [u for u in self._strips if u not in self.views]:
            del self._strips[row_key]
        if self.tagged:
            self.tagged &= self.views.keys()  # a domain that went is no longer tagged
        if old_count != len(self.order):
            self._resize()
        top = int(self.scroll_offset.y)
        on_screen = range(top, top + max(0, self.size.height - self.header_lines))
        whole = {old_cursor, self.cursor} if self.cursor != old_cursor else set()
        for i in on_screen:
            painted = self._painted.get(i)
            if i >= len(self.order):
                if painted is not None:
                    whole.add(i)
                continue
            row_key = self.order[i]
            if painted is None or painted[0] != row_key:
                whole.add(i)
            elif i not in whole and painted[1] != self.cells_for(row_key):
                new = self.cells_for(row_key)
                self._refresh_cells(i, [n for n, (a, b) in enumerate(zip(painted[1], new, strict=True)) if a != b])
        self._refresh_rows(sorted(whole))
        if chosen != self.cursor_domain():
            self.post_message(self.CursorMoved(self.cursor_domain()))
        if self.cursor != old_cursor:
            self._keep_cursor_visible()
        self._tell_rows_shown()

    def _tell_rows_shown(self) -> None:
        top = int(self.scroll_offset.y)
        keys = tuple(self.order[top:top + max(0, self.size.height - self.header_lines)])
        if keys != self._rows_told:
            self._rows_told = keys
            self.post_message(self.RowsShown(keys))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._tell_rows_shown()

    def on_resize(self) -> None:
        self._tell_rows_shown()

    def cells_for(self, row_key: str) -> Cells:
        cells = self.cells.get(row_key)
        if cells is None:
            view, ctx = self.views[row_key], self.ctx
            if view.monitor_age_s is None:
                cells = tuple((text(view, ctx), level(view, ctx)) for text, level, _aged in self._cell_makers)
            else:
                cells = tuple((text(view, ctx), with_age(level(view, ctx), aged))
                              for text, level, aged in self._cell_makers)
            self.cells[row_key] = cells
        return cells

    # --- drawing ------------------------------------------------------------------

    @property
    def header_lines(self) -> int:
        return 1 if self._show_header else 0

    def _resize(self) -> None:
        width = sum(w + 2 for w in self.widths.values())
        self.virtual_size = Size(width, len(self.order) + self.header_lines)

    def _refresh_rows(self, rows: list[int]) -> None:
        top, (width, height) = int(self.scroll_offset.y), self.size
        regions = [Region(0, y, width, 1) for y in {row + self.header_lines - top for row in rows}
                   if self.header_lines <= y < height]
        if regions:
            self.refresh(*regions)  # (once: each call clears the widget's caches again)

    def _refresh_cells(self, row: int, columns: list[int]) -> None:
        y = row + self.header_lines - int(self.scroll_offset.y)
        if not self.header_lines <= y < self.size.height:
            return
        x = -int(self.scroll_offset.x)
        regions = []
        for n, width in enumerate(self._widths):
            if n in columns:
                regions.append(Region(x, y, width + 2, 1))
            x += width + 2
        if regions:
            self.refresh(*regions)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"domain-table--{name}", partial=True)
        return style

    def _line(self, texts: list[tuple[str, Style | None]], base: Style, mark: str = " ", pad: int = 0,
              pad_style: Style | None = None) -> Strip:
        """One row, ``pad`` blanks after it (in ``pad_style``, else ``base``); ``mark`` replaces the first column's
        left padding (``*``: tagged, ``!``: an alert fires; both readable without colour).  One segment per run of
        one style (fewer escape sequences sent), joined as it is made: each row that moved is drawn every tick."""
        pad_style = base if pad_style is None else pad_style
        if not texts:
            return Strip([Segment(" " * pad, pad_style)] if pad else [], pad)
        segments: list[Segment] = []
        plain: list[str] = [mark]  # the text in ``base`` since the last styled cell
        for (text, style), width, numeric in zip(texts, self._widths, self._numeric, strict=True):
            body = text[:width].rjust(width) if numeric else set_cell_size(text, width)  # wide chars
            if style is not None and (styled := base + style) != base:
                segments.append(Segment("".join(plain), base))
                segments.append(Segment(body, styled))
                plain = [" ", " "]  # its right padding, the next cell's left
            else:
                plain += (body, " ", " ")
        plain.pop()  # (no cell after the last)
        if pad and pad_style == base:
            plain.append(" " * pad)
        segments.append(Segment("".join(plain), base))
        if pad and pad_style != base:
            segments.append(Segment(" " * pad, pad_style))
        return Strip(segments, self._length + pad)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._styles.get("")  # (Widget.rich_style walks the ancestors' styles: kept until they change)
        if base is None:
            base = self._styles[""] = self.rich_style
        x = int(self.scroll_offset.x)
        if y < self.header_lines:
            header = base + self._style("header")
            strip = self._line([(self.labels[k], None) for k in self.shown], header)
            return strip.crop(x, x + width).extend_cell_length(width, header)
        row = y - self.header_lines + int(self.scroll_offset.y)
        if row >= len(self.order):
            self._painted.pop(row, None)
            return Strip.blank(width, base)
        row_key = self.order[row]
        cells = self.cells_for(row_key)
        self._painted[row] = (row_key, cells)
        selected = row == self.cursor
        tagged = row_key in self.tagged
        drawn = (cells, selected, tagged, x, width)
        cached = self._strips.get(row_key)
        if cached is None or cached[0] != drawn:
            # On the cursor row the cursor's colours win: level colours on it would be hard to read.
            row_base = base + self._style("cursor") if selected else base
            if tagged:
                row_base += self._style("tagged")
            texts = [(t, self._style(level) if level and not selected else None) for t, level in cells]
            mark = "*" if tagged else ALERT_MARK if cells and cells[0][1] else " "
            if x == 0 and self._length <= width:  # the whole line fits: made to the widget's width at once
                strip = self._line(texts, row_base, mark, width - self._length, base)
            else:
                strip = self._line(texts, row_base, mark).crop(x, x + width).extend_cell_length(width, base)
            # The same Strip while the line does not change: Textual's caches of its own keep their work.
            cached = self._strips[row_key] = (drawn, strip)
        return cached[1]

    # --- input --------------------------------------------------------------------

    def _move_to(self, row: int) -> None:
        if not self.order:
            return
        row = max(0, min(len(self.order) - 1, row))
        if row != self.cursor:
            self._refresh_rows([self.cursor, row])
            self.cursor = row
            self._keep_cursor_visible()
            self.post_message(self.CursorMoved(self.cursor_domain()))

    def _keep_cursor_visible(self) -> None:
        rows = self.size.height - self.header_lines
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif rows > 0 and self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False)

    def action_move(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, step: int) -> None:
        self._move_to(self.cursor + step * max(1, self.size.height - self.header_lines))

    def on_click(self, event: events.Click) -> None:
        if event.y < self.header_lines:
            x = event.x + int(self.scroll_offset.x)
            for key in self.shown:
                x -= self.widths[key] + 2
                if x < 0:
                    self.post_message(self.HeaderClicked(key))
                    return
        else:
            self._move_to(event.y - self.header_lines + int(self.scroll_offset.y))
