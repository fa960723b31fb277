"""A child process's output read line by line in a thread of its own, so that a test waits for each line with a
deadline (a bare ``readline`` waits for ever on a child that hangs without a word)."""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import IO

import pytest


class StreamLines:
    """The lines of ``stream`` as they come; once it is read here, read it only through this."""

    def __init__(self, stream: IO[str] | None):
        self._lines: queue.Queue[str | None] = queue.Queue()
        if stream is None:
            self._lines.put(None)
        else:
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def next(self, timeout: float, what: str) -> str | None:
        """The next line (None: the stream ended); the test fails, naming ``what``, if none comes in ``timeout`` s."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no {what} within {timeout:g} s (load average {os.getloadavg()[0]:.1f})")

    def rest(self, timeout: float) -> str:
        """Every line until the stream ends (the child exited); the test fails if it is still open after
        ``timeout`` s."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while (line := self.next(max(0.0, deadline - time.monotonic()), "end of the output")) is not None:
            got.append(line)
        return "".join(got)
