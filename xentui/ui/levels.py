"""A figure's level by two thresholds: the table's cells and the detail pane colour by it."""

from __future__ import annotations


def level_of(value: float | None, warn: float, crit: float) -> str | None:
    """"crit" at ``crit`` and above, "warn" at ``warn`` and above, else None (also for an unknown figure)."""
    if value is None:
        return None
    return "crit" if value >= crit else "warn" if value >= warn else None
