"""The one door for outside text into widgets: every string shown goes through here as Content.

Names, messages, recording contents and what the user typed are never parsed as markup (Textual's
``markup.escape`` misses forms such as ``[ @click=...]`` with a leading space, so nothing relies on it),
and their control and format characters are made visible (:func:`xentui.text.visible`).  Widgets get
Content, never a str: a str given to ``Static``, ``Label`` or ``Option`` would be markup.  Notifications
go through ``XentuiApp.notify`` (visible, never markup).  ``tests/unit/test_text_door.py`` checks that ui
modules build what they show only here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from textual.content import Content

from xentui.text import Visible, visible

# What an Input takes (Input(restrict=TYPED)): a paste with a control, bidi or zero-width character is
# refused whole; Textual's Input would echo it raw.
TYPED = r"[^\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]*"

__all__ = ["TYPED", "Visible", "lines", "literal", "markup", "stack"]


def literal(text: str) -> Content:
    """Outside text as plain Content, made visible; never markup."""
    return Content(visible(text))


def lines(texts: Iterable[str]) -> Content:
    """Several lines of outside text, each made visible (a line break inside one shows as ``␊``)."""
    return Content("\n".join(map(visible, texts)))


def stack(parts: Iterable[Content]) -> Content:
    """Lines of Content, each made here, one under the other."""
    return Content("\n").join(parts)


def markup(template: str, **values: object) -> Content:
    """xentui's own markup ``template``; outside ``values`` go in at ``$name`` as literal, visible text.

    Textual substitutes ``$name`` inside text after parsing the tags (``string.Template``), so a value
    can never open, close or add a tag.  Numbers are formatted by the caller.
    """
    return _parsed(template, tuple((k, visible(v if isinstance(v, str) else str(v))) for k, v in values.items()))


@functools.lru_cache(maxsize=1024)
def _parsed(template: str, values: tuple[tuple[str, str], ...]) -> Content:
    """Content is immutable: the header's lines, made again every tick, are parsed once while they stay the same."""
    return Content.from_markup(template, **dict(values))
