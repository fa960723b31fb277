"""A long-running command's stdout read as JSON lines in a daemon thread, bounded, newest frame kept.

The stream has no deadline of its own: whoever reads it waits for the next frame with one
(:meth:`FrameStream.next_frame`).  Its stderr is kept (the last lines, bounded) to say why it ended.
Each frame is stamped on the stream's own clock: the first one's arrival, then the frames' own
``interval_s`` added up (the sender's intervals, whatever the network's delays), skipped frames included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from typing import IO, Any

from xentui import limits
from xentui.threads import spawning

MAX_STDERR_LINES = 20
MAX_STDERR_LINE = 1024
END_S = 1.0  # after its output ends: how long the command is given to exit, and its stderr to be read


class StreamEnded(Exception):
    """The command ended or sent a line that is not a frame: one line saying why."""


class FrameStream:
    """``argv`` started in its own session; each stdout line parsed as JSON (size and nesting bounded)."""

    def __init__(self, argv: list[str]) -> None:
        self._changed = threading.Condition()
        self._frame: Any = None
        self._stamp = 0.0
        self._seq = 0
        self._ended: str | None = None
        self._stderr: deque[str] = deque(maxlen=MAX_STDERR_LINES)
        with spawning():
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, start_new_session=True)
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._stderr_reader = threading.Thread(target=self._read_stderr, args=(self._proc.stderr,),
                                               name="xentui-stream-err", daemon=True)
        self._stderr_reader.start()  # before the stdout reader, which joins it when the command ends
        threading.Thread(target=self._read, args=(self._proc.stdout,), name="xentui-stream", daemon=True).start()

    def next_frame(self, after: int, timeout: float) -> tuple[int, Any, float]:
        """(seq, frame, stamp) of the newest frame past ``after``, waiting ``timeout`` s at most; StreamEnded when the
        command ended (or misbehaved) with nothing newer; TimeoutError when no frame came in time."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq > after or self._ended is not None, timeout)
            if self._seq > after:
                return self._seq, self._frame, self._stamp
            if self._ended is not None:
                raise StreamEnded(self._ended)
            raise TimeoutError

    def close(self) -> None:
        """Stop the command (its whole session); never waits for it long."""
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
        self._end("closed")

    def _end(self, why: str) -> None:
        with self._changed:
            if self._ended is None:
                self._ended = why
            self._changed.notify_all()

    def _read(self, out: IO[bytes]) -> None:
        try:
            while line := out.readline(limits.MAX_LINE_BYTES + 1):
                if len(line) > limits.MAX_LINE_BYTES:
                    raise ValueError(f"a line longer than {limits.size(limits.MAX_LINE_BYTES)}")
                brackets = line.count(b"[") + line.count(b"{")
                if brackets > limits.MAX_BRACKETS or limits.depth(line, brackets) > limits.MAX_DEPTH:
                    raise ValueError(f"a line nesting deeper than {limits.MAX_DEPTH} or with over "
                                     f"{limits.MAX_BRACKETS:,} brackets")
                frame = limits.parse(line)
                interval: Any = frame.get("interval_s") if type(frame) is dict else None
                with self._changed:
                    if self._seq and isinstance(interval, int | float) and 0 < interval < limits.MAX_SECONDS:
                        self._stamp += interval
                    else:  # the first frame, or one without an interval: from its arrival
                        self._stamp = time.monotonic()
                    self._frame, self._seq = frame, self._seq + 1
                    self._changed.notify_all()
        except (ValueError, UnicodeDecodeError) as err:  # LimitError is a ValueError
            self._end(f"it sent {err if str(err).startswith('a line') else 'a line that is not JSON'}")
            self.close()
            return
        except OSError as err:
            self._end(f"its output failed: {err.strerror or err}")
            return
        except Exception as err:  # never leave a reader waiting on a stream that will say nothing more
            self._end(f"reading it failed: {type(err).__name__}")
            self.close()
            return
        try:
            ended = f"it ended (exit status {self._proc.wait(timeout=END_S)})"
        except subprocess.TimeoutExpired:  # it closed its output and runs on: no frame can come any more
            ended = "it closed its output"
        self._stderr_reader.join(timeout=END_S)  # its last words, which say why
        said = list(self._stderr)  # one C call: the stderr reader may still be appending
        self._end(next((ln for ln in reversed(said) if ln.strip()), "") or ended)
        self.close()  # stops one that runs on; nothing to do for one that exited

    def _read_stderr(self, err: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            for raw in iter(lambda: err.readline(MAX_STDERR_LINE), b""):
                self._stderr.append(raw.decode(errors="replace").strip())
