"""The one units module: byte suffixes both ways, and '-' for what is not known."""

from __future__ import annotations

import pytest

from xentui.actions import ActionError, parse_memory_kib
from xentui.units import UNIT_BYTES, byte_scale, human_bytes, human_kib, number, pct


def test_human_bytes_and_kib():
    assert human_bytes(0) == "0B" and human_bytes(1023) == "1023B" and human_bytes(1536) == "1.5KiB"
    assert human_bytes(3 << 30, "/s") == "3.0GiB/s" and human_bytes(None) == "-"
    assert human_bytes(5 * 1024**6) == "5120.0PiB"  # no unit past PiB
    # a figure that rounds up to 1024 of a unit is shown in the next: never "1024.0MiB" nor "1024B"
    assert human_kib(1048575) == "1.0GiB" and human_bytes(1023.6) == "1.0KiB" and human_bytes(1023.4) == "1023B"
    assert human_bytes(1024 * 1023.94) == "1023.9KiB" and human_bytes(-1024 * 1023.96) == "-1.0MiB"
    assert human_kib(2048) == "2.0MiB" and human_kib(None) == "-"


def test_one_decimal_or_a_dash():
    assert pct(12.345) == "12.3" and pct(12.345, "%") == "12.3%" and pct(None, "%") == "-"
    assert number(7) == "7.0" and number(7, "{}") == "7" and number(None) == "-"


def test_byte_scale_picks_the_largest_unit_the_peak_reaches():
    assert byte_scale(0) == (1, "B") and byte_scale(float("nan")) == (1, "B")
    assert byte_scale(1023) == (1, "B") and byte_scale(1024) == (1024, "KiB")
    assert byte_scale(5 << 20) == (1 << 20, "MiB") and byte_scale(7 << 40) == (1 << 30, "GiB")


def test_size_suffixes_read_the_same_everywhere():
    assert UNIT_BYTES["K"] == UNIT_BYTES["KiB"] == UNIT_BYTES["KB"] == 1024
    assert UNIT_BYTES["MiB"] == 1 << 20 and UNIT_BYTES["GB"] == 1 << 30
    # the balloon dialog: a bare number is MiB, as xl mem-set reads it
    assert [parse_memory_kib(t) for t in ("512", "512M", "2g", "262144k", "1T", "3 MiB")] == \
        [512 * 1024, 512 * 1024, 2 * 1024**2, 262144, 1024**3, 3 * 1024]
    with pytest.raises(ActionError):
        parse_memory_kib("12P")
