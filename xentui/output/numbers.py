"""Figures as batch output writes them."""

from __future__ import annotations


def rounded(value: float | None, places: int = 3) -> float | None:
    """``value`` rounded to ``places`` decimals; None (JSON null, an empty CSV cell) stays None."""
    return None if value is None else round(value, places)
