"""The help: the keys of the screen it was opened from (its active bindings), then the columns."""

from __future__ import annotations

import textwrap
from collections.abc import Collection, Iterable, Mapping

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from xentui.ui import keys
from xentui.ui.columns import AGED_HELP, listed
from xentui.ui.literal import markup, stack

KEY_WIDTH = 12


def key_lines(rows: Iterable[tuple[str, str]], width: int = 0) -> Content:
    """``key  what`` lines, the key bold and right-aligned; ``width`` (> 0): ``what`` wrapped to it with a hanging
    indent, under the start of the first line's text."""
    lines: list[Content] = []
    indent = " " * (KEY_WIDTH + 2)
    for key, what in rows:
        head = f"{key:>{KEY_WIDTH}}"
        pad = " " * (len(head) + 2)
        wrapped = textwrap.wrap(what, width, initial_indent=pad, subsequent_indent=indent, break_on_hyphens=False) \
            if width > len(indent) + 10 else []  # (too narrow, or not laid out yet: the terminal wraps it)
        first, *rest = wrapped or [pad + what]
        lines.append(markup("[b]$key[/b]  $what", key=head, what=first[len(pad):]))
        lines.extend(markup("$line", line=line) for line in rest)
    return stack(lines)


class KeyLines(Static):
    """``key  what`` lines wrapped to the width they are given, again when it changes."""

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__(key_lines(rows))
        self.rows = rows

    def on_resize(self) -> None:
        self.update(key_lines(self.rows, self.content_size.width))


def help_rows(active: Mapping[str, ActiveBinding]) -> list[tuple[str, str]]:
    """One row per help text of the keymap's active bindings: its keys (in keymap order), then the text."""
    found: dict[str, list[tuple[int, int, str]]] = {}
    for n, (key, (_node, binding, _enabled, tooltip)) in enumerate(active.items()):
        if binding.id in keys.BY_ID and tooltip:
            found.setdefault(tooltip, []).append((keys.POSITION[binding.id], n, keys.display(key)))
    rows: list[tuple[str, str]] = []
    for text in keys.HELP_ORDER:
        if text in found:
            rows.append((" ".join(shown for *_order, shown in sorted(found[text])), text))
            if text in keys.MOUSE_HELP:
                rows.append(keys.MOUSE_HELP[text])
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close")]

    def __init__(self, active: Mapping[str, ActiveBinding], fleet: bool = False, optional: Collection[str] = ()):
        super().__init__()
        self.rows = help_rows(active)
        self.fleet = fleet  # a fleet's columns listed too
        self.optional = optional  # OVH(%), TYPE, PCI listed too (known here)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(markup("[b]xentui keys[/b]  (Esc closes; arrows scroll)"))
            yield KeyLines(self.rows)
            yield Label(markup("[b]columns[/b]"))
            yield KeyLines([(c.header, c.help) for c in listed(self.fleet, self.optional)])
            yield Label(markup("[b]cells[/b]"))
            yield KeyLines([("dim", AGED_HELP)])
