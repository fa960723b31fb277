"""What the live view shows and how: filter, sort, CPU mode, detail lines, frozen; pure, no App needed.

The App keeps one :class:`ViewState` in a Textual ``var`` and reacts to each change in ``watch_view``
(re-sort, re-present, the detail pane, the header); the persisted part (sort, reverse, CPU mode)
comes from and goes to :class:`xentui.config.Settings`, kept by a :class:`SettingsStore`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from xentui import config
from xentui.model import DomainView
from xentui.ui import columns as cols

DETAILS = ("vcpus", "nets", "vbds", "cache")  # the detail pane's kinds of lines


@dataclass(frozen=True)
class ViewState:
    filter_text: str = ""
    sort: str = "cpu_pct"
    reverse: bool = True
    cpu_mode: str = "pcpu"
    details: frozenset[str] = field(default_factory=frozenset)
    frozen: bool = False  # z: the table keeps what it shows

    @classmethod
    def from_settings(cls, settings: config.Settings) -> ViewState:
        return cls(sort=settings.sort, reverse=settings.reverse, cpu_mode=settings.cpu_mode)

    def persisted(self) -> dict[str, object]:
        """The part kept in the settings file."""
        return {"sort": self.sort, "reverse": self.reverse, "cpu_mode": self.cpu_mode}

    def replace(self, **changes: object) -> ViewState:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # --- filter -----------------------------------------------------------------------------

    @cached_property
    def _filter(self) -> tuple[re.Pattern[str] | None, str | None]:
        if not self.filter_text:
            return None, None
        try:
            return re.compile(self.filter_text, re.IGNORECASE), None
        except re.error as err:
            problem = f"{self.filter_text!r} is not a regular expression ({err}): matching it as plain text"
            return re.compile(re.escape(self.filter_text), re.IGNORECASE), problem

    @property
    def filter_re(self) -> re.Pattern[str] | None:
        return self._filter[0]

    @property
    def filter_problem(self) -> str | None:
        """Why the filter is matched as plain text, when it is not a regular expression."""
        return self._filter[1]

    def filtered(self, text: str) -> ViewState:
        return self.replace(filter_text=text)

    # --- sort -----------------------------------------------------------------------------

    def sort_step(self, shown: Sequence[str], step: int) -> ViewState:
        """The previous (-1) or next (1) shown column, the order kept."""
        shown = tuple(shown) or ("cpu_pct",)
        current = shown.index(self.sort) if self.sort in shown else -1
        return self.replace(sort=shown[(current + step) % len(shown)])

    def inverted(self) -> ViewState:
        return self.replace(reverse=not self.reverse)

    def clicked(self, key: str) -> ViewState:
        """A click on a column's header: sort by it (a number largest first), again: invert."""
        if key == self.sort:
            return self.inverted()
        return self.replace(sort=key, reverse=cols.BY_KEY[key].numeric)

    # --- the rest -------------------------------------------------------------------------

    def other_cpu_mode(self) -> ViewState:
        return self.replace(cpu_mode="host" if self.cpu_mode == "pcpu" else "pcpu")

    def toggled_detail(self, kind: str) -> ViewState:
        return self.replace(details=self.details ^ {kind})

    def toggled_frozen(self) -> ViewState:
        return self.replace(frozen=not self.frozen)

    def visible(self, views: Sequence[DomainView], context: cols.Context) -> list[DomainView]:
        """The domains that pass the filter (name; in a fleet host and group too), in the sort's order."""
        shown = list(views)
        if self.filter_re is not None:
            pattern = self.filter_re
            shown = [v for v in shown if pattern.search(v.name)
                     or (v.host and (pattern.search(v.host) or pattern.search(context.group(v))))]
        column = cols.BY_KEY.get(self.sort, cols.BY_KEY["cpu_pct"])
        return cols.ordered(shown, column, context, self.reverse)


class SettingsStore:
    """The settings as the UI changes them; each change saved in order, off the event loop, when there is a file."""

    def __init__(self, settings: config.Settings, path: Path | None, on_problem: Callable[[str], None]):
        self.settings = settings
        self.saver = config.Saver(path) if path is not None else None
        self.on_problem = on_problem  # called in the saver's thread

    def change(self, **changes: object) -> config.Settings:
        self.settings = config.replace(self.settings, **changes)  # type: ignore[arg-type]
        if self.saver is not None:
            self.saver.submit(self.settings, self.on_problem)
        return self.settings

    def close(self) -> None:
        if self.saver is not None:
            self.saver.close()
