"""What a Pilot app puts on the terminal: the compositor's full frame, read as segments and as bytes.

The frame is the one ``App.export_screenshot`` renders (its compositor is Textual's only way to it);
the bytes are what the driver would write for it.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console
from rich.segment import Segment
from textual.app import App
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tests.hostile import leaks, unsafe_in
from tests.ui.waiting import until
from xentui.text import visible
from xentui.ui.dialogs.help import KEY_WIDTH
from xentui.ui.textual_workarounds import full_frame

# Textual's own mouse actions, on scrollbars; any other "@" action (e.g. @click) on screen came from text.
SCROLLBAR_ACTIONS = {"grab", "release", "scroll_up", "scroll_down", "scroll_left", "scroll_right"}


def _frame(app: App):
    return full_frame(app)  # Textual's private parts, in one product module


Place = Widget | Callable[[], Widget | None] | None  # a widget, or how to find it when it is there


def rows(app: App, within: Place = None, strips: list[Strip] | None = None) -> list[Strip]:
    """The screen's rows (or these), or only the part a widget covers (cut by cells: wide characters count
    twice)."""
    strips = strips or [Strip.join(line) for line in _frame(app).strips]
    if within is None:
        return strips
    widget = within if isinstance(within, Widget) else within()
    if widget is None:
        return []
    r = widget.region
    return [s.crop(r.x, r.right) for s in strips[r.y:r.bottom]]


def lines(app: App, within: Place = None) -> list[str]:
    return [s.text for s in rows(app, within)]


def help_text(app: App) -> str:
    """The text of every Static on the screen (the help's key and column lines), a wrapped line's continuation
    (the help's hanging indent) joined back to it: one line per key or column."""
    lines: list[str] = []
    for line in "\n".join(str(widget.render()) for widget in app.screen.query(Static)).splitlines():
        if lines and line.startswith(" " * (KEY_WIDTH + 2)) and line.strip():
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return "\n".join(lines)


def row_of(app: App, name: str) -> Strip:
    """The domain table's drawn row (a Strip) of the domain called ``name``."""
    table = app.table  # type: ignore[attr-defined]
    key = next(k for k in table.order if table.views[k].name == name)
    return table.render_line(table.order.index(key) + table.header_lines - int(table.scroll_offset.y))


def terminal_bytes(app: App, strips: list[Strip]) -> bytes:
    """What the driver writes for these rows: styles as escape sequences, text as it is."""
    width, height = app.size
    console = Console(file=io.StringIO(), width=width, height=height, force_terminal=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)
    return "\n".join(strip.render(console) for strip in strips).encode()


def _segment_harm(seg: Segment) -> list[str]:
    found = []
    if bad := unsafe_in(seg.text):
        found.append(f"raw {', '.join(bad)} in {seg.text!r}")
    style = seg.style
    if style is not None and style.link:
        found.append(f"a link ({style.link}) on {seg.text!r}")
    if style is not None and any(k.startswith("@") and not (k.startswith("@mouse.") and v in SCROLLBAR_ACTIONS)
                                 for k, v in style.meta.items()):
        found.append(f"an action {style.meta} on {seg.text!r}")
    return found


def harm(app: App, strips: list[Strip] | None = None) -> list[str]:
    """Everything on the whole screen (or these rows of it) that a hostile name could have caused."""
    strips = strips or rows(app)
    found = [problem for strip in strips for seg in strip for problem in _segment_harm(seg)]
    return found + [f"{what} in the terminal output" for what in leaks(terminal_bytes(app, strips))]


def probe(name: str) -> str:
    """What of a name must read literally on any screen: its visible form, as far as a cut column keeps it."""
    return visible(name)[:24]


async def shows_harmlessly(pilot, app: App, *names: str, within: Place = None,
                           what: str = "the screen") -> None:
    """Until every name reads literally (in ``within``, else anywhere); then nothing on the whole screen may
    be harmful, and the app still runs."""
    def missing() -> list[str]:
        frame[:] = rows(app)
        text = "\n".join(s.text for s in rows(app, within, frame))
        return [probe(n) for n in names if probe(n) not in text]

    frame: list[Strip] = []

    try:
        await until(pilot, lambda: not missing(), what)
    except AssertionError:
        raise AssertionError(f"{what} never showed {missing()}:\n" + "\n".join(lines(app, within))) from None
    assert app.is_running and app.return_code is None, f"the app stopped on {what}"
    assert not (found := harm(app, frame)), f"{what}: " + "; ".join(found)
