"""XenStore.close() while a read abandoned at its deadline is still inside xs_read: the handle is closed by that
read when it returns, never under it (libxenstore would use freed memory)."""

from __future__ import annotations

import ctypes
import threading

from xentui.sources.xen.libxenstat import XenStore


class SlowLib:
    """libxenstore's three calls; xs_read waits until released."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.closed_while_reading = False
        self.reading = 0
        self.closes = 0

    def xs_read(self, handle: int, _t: int, _path: bytes, length: ctypes.c_uint) -> int:
        self.reading += 1
        self.inside.set()
        assert self.release.wait(10)
        self.reading -= 1
        return 0  # "no such path"

    def xs_close(self, handle: int) -> None:
        self.closed_while_reading = self.reading > 0
        self.closes += 1


def store(lib: SlowLib) -> XenStore:
    xs = XenStore.__new__(XenStore)
    xs.lib, xs.handle = lib, 1
    xs._lock, xs._reading, xs._closing = threading.Lock(), 0, False
    return xs


def test_close_during_a_read_waits_for_it_and_reads_after_close_answer_none() -> None:
    lib = SlowLib()
    xs = store(lib)
    reader = threading.Thread(target=xs.read, args=("/local/domain/1/name",))
    reader.start()
    assert lib.inside.wait(10)
    xs.close()  # returns at once: the read is hung, the app is quitting
    assert lib.closes == 0 and xs.read("/x") is None
    lib.release.set()
    reader.join(10)
    assert not reader.is_alive() and lib.closes == 1 and not lib.closed_while_reading and xs.handle is None


def test_close_with_no_read_in_flight_closes_at_once() -> None:
    lib = SlowLib()
    xs = store(lib)
    xs.close()
    xs.close()
    assert lib.closes == 1 and xs.read("/x") is None
