"""The domain table: rows keyed by domain UUID, only changed cells rewritten.

Cursor, scroll and selection survive every refresh; the cursor stays on its domain when
the order changes; a vanished domain's row goes and a new one comes.  Colours come from
component classes (``domain-table--crit``, ``domain-table--paused``, ...) styled with
theme variables in CSS, never from colours in code.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from xentui.model import DomainView
from xentui.ui.columns import BY_KEY, Context

LEVELS = ("warn", "crit", "running", "blocked", "paused", "pmsuspended", "crashed", "shutdown", "shutoff", "dying",
          "nostate")


class NameCell(str):
    """A name that knows its row, so that DataTable.sort can put rows in our order."""

    row_key: str

    def __new__(cls, text: str, row_key: str) -> NameCell:
        cell = super().__new__(cls, text)
        cell.row_key = row_key
        return cell


class DomainTable(DataTable):
    COMPONENT_CLASSES = {f"domain-table--{level}" for level in LEVELS}
    DEFAULT_CSS = """
    DomainTable > .domain-table--warn { color: $level-warn; }
    DomainTable > .domain-table--crit { color: $level-crit; text-style: bold; }
    DomainTable > .domain-table--running { color: $dom-running; }
    DomainTable > .domain-table--blocked { color: $dom-blocked; }
    DomainTable > .domain-table--paused { color: $dom-paused; }
    DomainTable > .domain-table--pmsuspended { color: $dom-paused; }
    DomainTable > .domain-table--crashed { color: $dom-crashed; text-style: bold reverse; }
    DomainTable > .domain-table--paused { text-style: italic; }
    DomainTable > .domain-table--dying { color: $dom-crashed; }
    DomainTable > .domain-table--shutdown { color: $dom-shutdown; }
    DomainTable > .domain-table--shutoff { color: $dom-shutdown; }
    DomainTable > .domain-table--nostate { color: $dom-blocked; }
    """

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.shown: tuple[str, ...] = ()
        self.name_width = 16
        self.widths: dict[str, int] = {}
        self._cells: dict[str, tuple[tuple[str, str | None], ...]] = {}
        self._order: list[str] = []

    def _styles(self) -> dict[str, object]:
        return {level: self.get_component_rich_style(f"domain-table--{level}", partial=True) for level in LEVELS}

    def set_columns(self, keys: tuple[str, ...], sort_key: str, reverse: bool) -> None:
        """(Re)build the columns; rows are refilled on the next present()."""
        cursor = self.cursor_domain()
        self.clear(columns=True)
        self.widths = {}
        for key in keys:
            column = BY_KEY[key]
            label = column.header + (("▼" if reverse else "▲") if key == sort_key else "")
            width = self.name_width if key == "name" else max(column.width, len(label))
            self.widths[key] = width
            self.add_column(label.rjust(width) if column.numeric else label, key=key, width=width)
        self.shown = keys
        self._cells = {}
        self._order = []
        self._restore = cursor

    def cursor_domain(self) -> str | None:
        """The UUID of the row under the cursor."""
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except RowDoesNotExist:
            return None

    def present(self, views: list[DomainView], ctx: Context) -> None:
        """Show ``views`` in this order, touching only what changed."""
        cursor = getattr(self, "_restore", None) or self.cursor_domain()
        self._restore = None
        styles = self._styles()
        columns = [BY_KEY[k] for k in self.shown]
        wanted = []
        for view in views:
            uuid = view.uuid
            wanted.append(uuid)
            cells = tuple((c.text(view, ctx), c.level(view, ctx)) for c in columns)
            old = self._cells.get(uuid)
            if old == cells:
                continue
            self._cells[uuid] = cells
            rendered = [self._render(c, text, level, styles, uuid, self.widths[c.key])
                        for c, (text, level) in zip(columns, cells, strict=True)]
            if old is None:
                self.add_row(*rendered, key=uuid)
            else:
                for column, cell, before, value in zip(columns, cells, old, rendered, strict=True):
                    if cell != before:
                        self.update_cell(uuid, column.key, value)
        gone = set(self._cells) - set(wanted)
        for uuid in gone:
            self.remove_row(uuid)
            del self._cells[uuid]
        if wanted != self._order:
            rank = {uuid: i for i, uuid in enumerate(wanted)}
            self.sort("name", key=lambda name: rank[name.row_key])
            self._order = wanted
        if cursor in self._cells:
            row = self.get_row_index(cursor)
            if row != self.cursor_row:
                self.move_cursor(row=row, animate=False)

    @staticmethod
    def _render(column, text: str, level: str | None, styles: dict, uuid: str, width: int) -> object:
        if column.key == "name":
            return NameCell(text, uuid)
        padded = text.rjust(width) if column.numeric else text
        return Text(padded, style=styles[level] if level else "")
