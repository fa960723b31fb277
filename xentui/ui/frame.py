"""What a frame needs from a snapshot, computed once per snapshot: the rows in the view's order (with their keys),
the NAME and HOST columns' widths, which optional columns have a figure (Cache QoS, PCI, ...), the fleet header's
figures.

Pure (no Textual) and memoised per snapshot: the live feed calls :func:`prepare` in the poller's worker thread
before the snapshot reaches the event loop, so that a frame at 10,000 rows only diffs and paints the lines on
screen.  Whatever was not prepared (a test's snapshot, a key pressed since) is computed when asked, by the same
functions: the result never depends on where it was computed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from rich.cells import cell_len

from xentui.model import DomainView, Snapshot
from xentui.text import visible
from xentui.ui import columns as cols
from xentui.ui import presence
from xentui.ui.fleet import FleetFigures, fleet_figures
from xentui.ui.state import ViewState

T = TypeVar("T")


@dataclass(frozen=True)
class Rows:
    """The domains shown, in order; read-only (the table keeps them as they are)."""

    views: list[DomainView]
    keys: list[str]  # DomainView.key of each, in the same order
    by_key: dict[str, DomainView]

    @classmethod
    def of(cls, views: list[DomainView]) -> Rows:
        keys = [v.key for v in views]
        return cls(views, keys, dict(zip(keys, views, strict=True)))


class Memo(Generic[T]):
    """The last results, each for one snapshot (by identity) and one hashable key; safe between threads.  One by
    default: a 10,000-domain snapshot is tens of MiB, and only the newest is asked for again."""

    def __init__(self, size: int = 1):
        self.size = size
        self._entries: list[tuple[Snapshot, Hashable, T]] = []
        self._lock = threading.Lock()

    def get(self, snapshot: Snapshot, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            for shot, k, value in self._entries:
                if shot is snapshot and k == key:
                    return value
        value = compute()  # outside the lock: the other thread is never held up by it
        with self._lock:
            self._entries = [(snapshot, key, value), *self._entries[:self.size - 1]]
        return value


_ROWS: Memo[Rows] = Memo()
_WIDTHS: Memo[int] = Memo()
_HOST_WIDTHS: Memo[int] = Memo()
_FLEET: Memo[FleetFigures] = Memo()
_PRESENT: Memo[frozenset[str]] = Memo()


def _order_key(view: ViewState, ctx: cols.Context) -> Hashable:
    """What of the view and context the rows' order depends on."""
    seq = ctx.history.last_seq if view.sort == "cpu_hist" and ctx.history is not None else None
    return (view.filter_text, view.sort, view.reverse, view.cpu_mode, tuple(ctx.groups.items()), id(ctx.history),
            seq)


def rows(snapshot: Snapshot, view: ViewState, ctx: cols.Context) -> Rows:
    """The domains that pass the view's filter, in its sort's order."""
    return _ROWS.get(snapshot, _order_key(view, ctx), lambda: Rows.of(view.visible(snapshot.domains, ctx)))


def names_width(snapshot: Snapshot | None) -> int:
    """Cells the NAME column needs for the snapshot's domains (none: 8)."""
    if snapshot is None:
        return names_width_of(())
    return _WIDTHS.get(snapshot, None, lambda: names_width_of(snapshot.domains))


def names_width_of(views: tuple[DomainView, ...] | list[DomainView]) -> int:
    """Cells the NAME column needs: the names as shown (tokens, wide characters), 8 to 40."""
    widest = max((cell_len(visible(name)) for name in {v.name for v in views}), default=0)
    return min(40, max(8, widest))


def hosts_width(snapshot: Snapshot | None) -> int:
    """Cells the HOST column needs for a fleet's host names as shown (``127.0.0.1:9177`` whole, not cut to what
    looks like another port), 4 to MAX_HOST_WIDTH; HOST_WIDTH for one host."""
    if snapshot is None or not snapshot.fleet:
        return cols.HOST_WIDTH
    return _HOST_WIDTHS.get(snapshot, None, lambda: min(cols.MAX_HOST_WIDTH, max(
        4, max((cell_len(visible(h.name)) for h in snapshot.hosts), default=0))))


def present(snapshot: Snapshot) -> frozenset[str]:
    """The optional and conditional columns whose figure some domain has (presence.present, once a snapshot)."""
    return _PRESENT.get(snapshot, None, lambda: presence.present(snapshot.domains))


def conditional(snapshot: Snapshot) -> frozenset[str]:
    """The columns shown only when some domain has their figures (Cache QoS, PCI, RD/WR ms, PSI, NUMA, IP, AGENT,
    GMEM(%))."""
    return present(snapshot) & presence.CONDITIONAL_COLUMNS


def measured(snapshot: Snapshot | None) -> frozenset[str]:
    """The optional columns whose figure some domain has here: the chooser and the help list them."""
    return frozenset() if snapshot is None else present(snapshot) & cols.OPTIONAL_KEYS


def fleet(snapshot: Snapshot) -> FleetFigures:
    """The fleet header's sums and counts."""
    return _FLEET.get(snapshot, None, lambda: fleet_figures(snapshot))


def groups_of(snapshot: Snapshot) -> dict[str, str]:
    """A fleet's host -> group (as FleetView.groups gives once the snapshot is shown)."""
    return {h.name: h.group for h in snapshot.hosts}


def prepare(snapshot: Snapshot, view: ViewState, ctx: cols.Context) -> None:
    """In a worker thread: compute what the snapshot's frame will ask for."""
    names_width(snapshot)
    present(snapshot)
    if snapshot.fleet:
        fleet(snapshot)
        hosts_width(snapshot)
    rows(snapshot, view, ctx)
