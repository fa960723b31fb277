"""Outside text made harmless: names, messages and values xentui did not write itself.

``visible`` turns every character that is not plainly visible into a visible token, so no control
byte reaches a terminal and no name can look like another one:

- C0 controls and DEL become their Control Pictures: ESC ``␛``, CR ``␍``, TAB ``␉``, LF ``␊``, DEL ``␡``;
- C1 controls, format characters (bidi overrides, zero-width), line/paragraph separators, spaces other
  than U+0020, invisible fillers, surrogates, private use, unassigned code points become ``⟨U+202E⟩``;
- the markers themselves (a literal ``␛`` or ``⟨`` in a name) become ``⟨U+241B⟩`` / ``⟨U+27E8⟩``.

The tokens carry a non-ASCII marker on purpose: printable ASCII is left as it is, and a token could
otherwise be typed as a plain name (``web^[01``).  So the mapping is one-to-one: distinct names always
look distinct.  Text that went through once is a :class:`Visible` and is not converted
again.  No textual import here: batch output uses it too.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

PICTURES = 0x2400  # U+2400..U+241F: the Control Pictures of C0; U+2421 of DEL
TOKEN = "⟨"  # U+27E8: starts every ⟨U+XXXX⟩ token
HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
# Default_Ignorable code points that are neither Cf nor Cn: blank or invisible when drawn.
IGNORABLE = frozenset([0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0x180B, 0x1810),
                       *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])
FORMULA = ("=", "+", "-", "@", "\t", "\r", "'")  # OWASP's CSV injection prefixes, and the quote itself
CACHED = 256  # longer strings are not kept in the cache


class Visible(str):
    """Text already made visible (by :func:`visible` or :func:`one_line`): shown as it is, never converted twice."""

    __slots__ = ()


def _token(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(PICTURES + code)
    if code == 0x7F:
        return "␡"
    if ch == " ":
        return ch
    if (unicodedata.category(ch) in HIDDEN or code in IGNORABLE or PICTURES <= code <= 0x2421
            or ch == TOKEN):
        return f"{TOKEN}U+{code:04X}⟩"
    return ch


def _convert(s: str) -> Visible:
    return Visible("".join(ch if " " <= ch <= "~" else _token(ch) for ch in s))


_cached = lru_cache(maxsize=8192)(_convert)  # every table cell, every frame: names repeat


def visible(s: str) -> str:
    """``s`` with every control, format, invisible or look-alike-making character as a visible token."""
    if (s.isascii() and s.isprintable()) or isinstance(s, Visible):
        return s
    return _cached(s) if len(s) <= CACHED else _convert(s)


def one_line(s: str) -> Visible:
    """An outside message (libvirt, xl, xenstore) as one visible line: the ends trimmed, inner breaks as ``␊``."""
    return s if isinstance(s, Visible) else Visible(visible(s.strip()))


def csv_cell(s: str) -> str:
    """A text cell for CSV: ``visible(s)``, with a leading ``'`` when a spreadsheet would read a formula."""
    return "'" + visible(s) if s.startswith(FORMULA) else visible(s)


def brief(value: object, limit: int = 80) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters (a file's value may be megabytes long)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def first_line(err: BaseException) -> str:
    """An exception's first line of text, or its type's name when it has none."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):[^@/?#]*@")


def hide_password(uri: str) -> str:
    """``uri`` with the password of its ``user:password@`` part shown as ``***`` (for messages)."""
    return _PASSWORD.sub(r"\1:***@", uri)
