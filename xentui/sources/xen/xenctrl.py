"""Each pCPU's busy time on Xen, as ``xentop -p`` reads it: libxenctrl's ``xc_getcpuinfo`` (the hypervisor's
cumulative idle time per pCPU) through ctypes.  dom0's /proc/stat would show dom0's vCPUs, not the pCPUs.

xentop (tools/xentop/pcpu.c) takes usage = 100 * (1 - idle_diff / wall_diff) and asks for at most 128 pCPUs;
here the busy counter is the same figure's numerator (wall time elapsed minus idle time, since the first read)
and every pCPU is asked for.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from typing import Any

from xentui.limits import MAX_CPUS
from xentui.sources.xen.libxenstat import _declare, _find_library


class XenCpuInfo:
    """``xc_interface_open`` once; ``idle_ns()`` per tick."""

    def __init__(self, lib: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        """``lib``: libxenctrl (found here unless a test passes its own, and ``clock``); raises OSError when it
        cannot be used."""
        if lib is None:
            path = _find_library("xenctrl", "libxenctrl.so*")
            if not path:
                raise OSError("libxenctrl not found")
            lib = ctypes.CDLL(path)
            _declare(lib, ctypes.c_void_p, "xc_interface_open", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint)
            _declare(lib, ctypes.c_int, "xc_interface_close", ctypes.c_void_p)
            _declare(lib, ctypes.c_int, "xc_getcpuinfo", ctypes.c_void_p, ctypes.c_int,
                     ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_int))
        self.lib = lib
        self.clock = clock
        self.handle = lib.xc_interface_open(None, None, 0)
        if not self.handle:
            raise OSError("xc_interface_open failed")
        self._size = 256  # grown (to MAX_CPUS at most) while Xen fills the whole array
        self._prev: tuple[float, tuple[int, ...]] | None = None  # (clock, idle) of the last read
        self._last: tuple[int, ...] = ()

    def idle_ns(self) -> tuple[float, tuple[int, ...]]:
        """(monotonic seconds at the read, each pCPU's cumulative idle ns); raises OSError when Xen refuses."""
        while True:
            info = (ctypes.c_uint64 * self._size)()  # xc_cpuinfo_t is one uint64_t: idletime
            nr = ctypes.c_int(0)
            before = self.clock()
            if self.lib.xc_getcpuinfo(self.handle, self._size, info, ctypes.byref(nr)) < 0:
                raise OSError("xc_getcpuinfo failed")
            stamp = (before + self.clock()) / 2
            if nr.value < self._size or self._size >= MAX_CPUS:
                return stamp, tuple(info[: max(0, min(nr.value, self._size))])
            self._size = min(MAX_CPUS, self._size * 4)

    def busy_ns(self) -> tuple[int, ...] | None:
        """Each pCPU's busy ns since the first read: per window (between the reads' own clock readings), wall time
        minus idle time clamped to 0..wall (as pcpu.c clamps each window to 0-100 %, so one window's error is never
        carried into the next).  None when Xen does not answer or the pCPU count changed (then counted afresh)."""
        try:
            now, idle = self.idle_ns()
        except OSError:
            return None
        if self._prev is None or len(self._prev[1]) != len(idle):
            self._prev, self._last = (now, idle), (0,) * len(idle)
            return self._last
        wall = max(0, int((now - self._prev[0]) * 1e9))
        self._last = tuple(last + min(wall, max(0, wall - (i - i0)))
                           for last, i, i0 in zip(self._last, idle, self._prev[1], strict=True))
        self._prev = (now, idle)
        return self._last

    def close(self) -> None:
        if self.handle:
            self.lib.xc_interface_close(self.handle)
            self.handle = None


def open_cpuinfo() -> XenCpuInfo | None:
    """This dom0's libxenctrl, or None when it is missing or refuses (then -p says no pCPU data)."""
    try:
        return XenCpuInfo()
    except OSError:
        return None
