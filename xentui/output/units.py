"""Human-readable numbers for screens (batch text keeps xentop's raw formats)."""

from __future__ import annotations

_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(value: float | None, suffix: str = "") -> str:
    """1536 -> '1.5KiB'; None -> '-'."""
    if value is None:
        return "-"
    amount = float(value)
    for unit in _BINARY:
        if abs(amount) < 1024 or unit == _BINARY[-1]:
            text = f"{amount:.0f}" if unit == "B" else f"{amount:.1f}"
            return f"{text}{unit}{suffix}"
        amount /= 1024
    raise AssertionError("unreachable")


def human_kib(value: int | None) -> str:
    return "-" if value is None else human_bytes(value * 1024)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
