"""Waiting in Pilot tests for what happens in worker threads: bounded, with a message."""

from __future__ import annotations


async def until(pilot, check, what: str, seconds: float = 10.0) -> None:
    """Pause until ``check()`` holds; fail saying ``what`` never happened."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never: {what}")
