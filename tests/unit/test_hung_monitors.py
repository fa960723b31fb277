"""A domain's QEMU monitor that does not answer: how long it has been busy is what was seen, never assumed."""

from __future__ import annotations

import libvirt
import pytest

from xentui.sources.deadlines import NoAnswer
from xentui.sources.libvirt import errors, stale


class Domain:
    def controlInfo(self) -> list[int]:  # libvirt's name
        raise AssertionError("asked through bounded(), never directly")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_control_question_that_hangs_counts_only_the_time_it_waited(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(stale.time, "monotonic", clock)

    def bounded(_key, _call, seconds):
        clock.now += seconds  # the question waits its whole deadline, then gives up
        raise NoAnswer

    monitors = stale.HungMonitors(bounded)
    key = ("uuid", 1)
    first = monitors._monitor_busy_ms(Domain(), key)
    assert first == stale.CONTROL_DEADLINE_S * 1000 < stale.STUCK_AFTER_MS  # one slow answer is not "stuck"
    clock.now += 1.0  # the next tick
    assert monitors._monitor_busy_ms(Domain(), key) == 2000  # busy since the first question was asked
    assert monitors._monitor_busy_ms(Domain(), key) >= stale.STUCK_AFTER_MS


@pytest.mark.parametrize("message", ["", "   ", "\n"])
def test_a_libvirt_error_without_words_is_named_by_its_type(message):
    err = libvirt.libvirtError(message)
    assert errors.error_line(err) == "libvirtError"
