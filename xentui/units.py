"""Units and human-readable numbers: the one place for byte suffixes and for '-' meaning unknown.

Screens use these; batch text keeps xentop's raw formats.  Pure standard library.
"""

from __future__ import annotations

KIB, MIB, GIB, TIB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
UNKNOWN = "-"  # what a figure that is not known reads as
BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")  # each 1024 times the one before
# A size suffix as libvirt, sysfs and admins write it -> bytes (binary, whatever the spelling).
UNIT_BYTES = {"B": 1, "K": KIB, "KB": KIB, "KiB": KIB, "M": MIB, "MB": MIB, "MiB": MIB,
              "G": GIB, "GB": GIB, "GiB": GIB, "T": TIB}
_SCALES = ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB"))


def human_bytes(value: float | None, suffix: str = "") -> str:
    """1536 -> '1.5KiB'; None -> '-'."""
    if value is None:
        return UNKNOWN
    amount = float(value)
    for unit in BINARY_UNITS:
        digits = 0 if unit == "B" else 1
        if abs(round(amount, digits)) < 1024 or unit == BINARY_UNITS[-1]:  # as shown: 1023.96MiB is 1.0GiB
            return f"{amount:.{digits}f}{unit}{suffix}"
        amount /= 1024
    raise AssertionError("unreachable")


def human_kib(value: int | None) -> str:
    return UNKNOWN if value is None else human_bytes(value * KIB)


def number(value: float | None, fmt: str = "{:.1f}") -> str:
    """A figure in ``fmt`` (one decimal by default); None -> '-'."""
    return UNKNOWN if value is None else fmt.format(value)


def pct(value: float | None, sign: str = "") -> str:
    """A percentage with one decimal, ``sign`` after it (e.g. '%'); None -> '-' alone."""
    return UNKNOWN if value is None else f"{value:.1f}{sign}"


def byte_scale(peak: float) -> tuple[int, str]:
    """The largest binary unit ``peak`` reaches: (bytes per unit, its name); (1, 'B') below 1 KiB or unknown."""
    return next(((scale, name) for scale, name in _SCALES if peak >= scale), (1, "B"))
