"""Every reach into Textual's private parts, in one place (Textual is pinned exactly in pyproject.toml).

1. Send only the changed part of a line to the terminal.
Textual 8.2.8's ``ChopsUpdate.render_segments`` crops a partial update on the right only
(its source says "TODO: crop to x extents"): a changed cell at column 90 resends the line
from column 0.  Over SSH at 3 a.m. those bytes are the frame rate.  This crops both sides,
so a tick where only numbers change sends only those numbers.  ``tests/ui/test_partial_updates.py``
checks the patch against its output.

2. NO_COLOR without colours: Textual's answer to NO_COLOR is greyscale, which still sends colours;
:func:`no_color` swaps its private line filters for one that strips them.

3. :func:`screen_bytes` and :func:`full_frame`: what a full repaint draws, read from the compositor (for tests).

4. :func:`character_to_key`: Textual's name for the key a character types (``+`` -> ``plus``), as its input
parser makes it: the user's ``[keys]`` must name keys exactly as the key events will.
"""

from __future__ import annotations

from rich.console import Console
from rich.control import Control
from textual._compositor import ChopsUpdate
from textual.app import App
from textual.filter import ANSIToTruecolor, Monochrome, NoColor
from textual.keys import _character_to_key


def render_segments(self: ChopsUpdate, console: Console) -> str:
    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    last_y = self.spans[-1][0]
    for y, x1, x2 in self.spans:
        for end, (x, strip) in zip(self.chop_ends[y], self.chops[y].items(), strict=False):
            if strip is None or x > x2 or end <= x1:
                continue
            start, stop = max(x, x1), min(end, x2)
            piece = strip if (start, stop) == (x, end) else strip.crop(start - x, stop - x)
            append(move_to(start, y).segment.text)
            append(piece.render(console))
        if y != last_y:
            append("\n")
    return "".join(sequences)


def install() -> None:
    ChopsUpdate.render_segments = render_segments  # type: ignore[method-assign]


def no_color(app: App) -> None:
    """The terminal's own colours only (https://no-color.org): meaning by bold and reverse."""
    app._filters = [f for f in app._filters if not isinstance(f, Monochrome | ANSIToTruecolor)]
    app._filters.append(NoColor())


def full_frame(app: App) -> object:
    """The compositor's full update of the screen with the screens under it (what the terminal would show)."""
    return app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)


def screen_bytes(app: App) -> str:
    """What a full repaint of the current screen sends to the terminal (tests: no control byte from a name)."""
    return app.screen._compositor.render_update(full=True).render_segments(app.console)


def character_to_key(character: str) -> str:
    """The key name Textual's events give for one typed character (``?`` -> ``question_mark``)."""
    return _character_to_key(character)
