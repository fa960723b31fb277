"""The domain table's line: made in one pass, it must be what a Strip of one segment per cell part, simplified,
would be (the same text in the same styles, runs of one style joined), padded to the widget's width in the
table's own style (the cursor's colours stop at the last column)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from xentui.ui.widgets.domain_table import DomainTable

BASE = Style(color="white", bgcolor="black")
CURSOR = BASE + Style(bgcolor="blue", bold=True)
RED, DIM = Style(color="red"), Style(dim=True)


def table() -> DomainTable:
    widget = DomainTable()
    widget.set_columns(("name", "state", "cpu_pct", "mem", "psi"), "cpu_pct", True)
    return widget


def reference(widget: DomainTable, texts: list[tuple[str, Style | None]], base: Style, mark: str, pad: int,
              pad_style: Style) -> list[Segment]:
    """The line as three segments a styled cell, one a plain one, simplified, then padded (the former way)."""
    segments = []
    for n, (text, style) in enumerate(texts):
        width, numeric = widget._widths[n], widget._numeric[n]
        body = text[:width].rjust(width) if numeric else text[:width].ljust(width)
        left = mark if n == 0 else " "
        if style:
            segments += [Segment(left, base), Segment(body, base + style), Segment(" ", base)]
        else:
            segments.append(Segment(f"{left}{body} ", base))
    strip = Strip(segments).simplify()
    return list(strip.extend_cell_length(strip.cell_length + pad, pad_style).simplify())


def test_the_line_is_the_simplified_cells_padded_in_the_table_style() -> None:
    widget = table()
    cases = [
        [("web-1", None), ("-----r", RED), ("12.5", None), ("1.0GiB", DIM), ("cpu 0.0", None)],
        [("web-2", RED), ("-----r", RED), ("12.5", RED), ("1.0GiB", None), ("cpu 0.0", RED)],
        [("a-name-far-too-long-for-its-column", None), ("--p---", None), ("0.0", None), ("32MiB", None), ("-", None)],
        [("db", Style()), ("-----r", None), ("100.0", DIM), ("2GiB", DIM), ("io 5.0", RED)],
    ]
    for texts in cases:
        for base, mark in ((BASE, " "), (CURSOR, "*"), (BASE, "!")):
            for pad in (0, 7):
                got = widget._line(texts, base, mark, pad, BASE)
                want = reference(widget, texts, base, mark, pad, BASE)
                assert list(got) == want, (texts, base, mark, pad)
                assert got.cell_length == widget._length + pad == sum(len(s.text) for s in got)


def test_a_table_with_no_columns_draws_its_padding_only() -> None:
    widget = DomainTable()
    widget.set_columns((), "cpu_pct", True)
    assert list(widget._line([], BASE, " ", 4)) == [Segment("    ", BASE)]
    assert widget._line([], BASE).cell_length == 0
