"""libxenstat and libxenstore through ctypes: the few calls xentop makes, typed."""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import threading
from pathlib import Path
from typing import Any, Protocol

from xentui.sources.base import SourceError

CAPABILITIES = Path("/proc/xen/capabilities")
# xentop's flag letters, in its order, and the libxenstat call behind each.
FLAG_CALLS = (("d", "dying"), ("s", "shutdown"), ("b", "blocked"), ("c", "crashed"), ("p", "paused"), ("r", "running"))


class Stat(Protocol):
    """What XenSource reads: :class:`XenStat`, or a test's fake of it."""

    lib: Any
    handle: Any
    has_vbd_error: bool

    def close(self) -> None: ...


class Store(Protocol):
    """What XenSource reads of xenstore: :class:`XenStore`, or a test's fake of it."""

    def read(self, path: str) -> str | None: ...

    def close(self) -> None: ...


def is_dom0(capabilities: Path = CAPABILITIES) -> bool:
    """True in a Xen control domain (``/proc/xen/capabilities`` holds ``control_d``)."""
    try:
        return "control_d" in capabilities.read_text()
    except OSError:
        return False


def _find_library(name: str, pattern: str) -> str | None:
    found = ctypes.util.find_library(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/*/{pattern}") + glob.glob(f"/usr/lib/{pattern}")
                        + glob.glob(f"/usr/local/lib/{pattern}"))
    return candidates[-1] if candidates else None


def _declare(lib: ctypes.CDLL, restype: Any, names: str, *argtypes: Any) -> None:
    for name in names.split():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = list(argtypes)


class XenStat:
    """The few libxenstat calls xentop makes, typed for ctypes."""

    def __init__(self, path: str | None = None) -> None:
        path = path or _find_library("xenstat", "libxenstat.so*")
        if not path:
            raise SourceError("libxenstat not found: install Xen's tools (Debian: libxenmisc4.17) on this dom0")
        lib = ctypes.CDLL(path)
        p, u, ull, s = ctypes.c_void_p, ctypes.c_uint, ctypes.c_ulonglong, ctypes.c_char_p
        _declare(lib, p, "xenstat_init")
        _declare(lib, None, "xenstat_uninit xenstat_free_node", p)
        _declare(lib, p, "xenstat_get_node", p, u)
        _declare(lib, p, "xenstat_node_domain_by_index xenstat_domain_vcpu xenstat_domain_network "
                         "xenstat_domain_vbd", p, u)
        _declare(lib, s, "xenstat_node_xen_version xenstat_domain_name", p)
        _declare(lib, ull, "xenstat_node_tot_mem xenstat_node_free_mem xenstat_node_cpu_hz xenstat_domain_cpu_ns "
                           "xenstat_domain_cur_mem xenstat_domain_max_mem xenstat_vcpu_ns", p)
        _declare(lib, u, "xenstat_node_num_domains xenstat_node_num_cpus xenstat_domain_id xenstat_domain_num_vcpus "
                         "xenstat_domain_ssid xenstat_domain_num_networks xenstat_domain_num_vbds xenstat_vcpu_online "
                         "xenstat_network_id xenstat_vbd_type xenstat_vbd_dev", p)
        _declare(lib, u, " ".join(f"xenstat_domain_{call}" for _, call in FLAG_CALLS), p)
        _declare(lib, ull, "xenstat_network_rbytes xenstat_network_rpackets xenstat_network_rerrs "
                           "xenstat_network_rdrop xenstat_network_tbytes xenstat_network_tpackets "
                           "xenstat_network_terrs xenstat_network_tdrop xenstat_vbd_oo_reqs xenstat_vbd_rd_reqs "
                           "xenstat_vbd_wr_reqs xenstat_vbd_rd_sects xenstat_vbd_wr_sects", p)
        self.has_vbd_error = hasattr(lib, "xenstat_vbd_error")
        if self.has_vbd_error:
            _declare(lib, ctypes.c_bool, "xenstat_vbd_error", p)
        self.lib: Any = lib
        self.handle: int | None = lib.xenstat_init()
        if not self.handle:
            raise SourceError("xenstat_init failed: run xentui as root in dom0 (it needs /dev/xen/privcmd)")

    def count_domains(self) -> int:
        node = self.lib.xenstat_get_node(self.handle, 0)
        if not node:
            raise SourceError("failed to retrieve statistics from libxenstat")
        try:
            return int(self.lib.xenstat_node_num_domains(node))
        finally:
            self.lib.xenstat_free_node(node)

    def close(self) -> None:
        if self.handle:
            self.lib.xenstat_uninit(self.handle)
            self.handle = None


class XenStore:
    """Read-only xenstore access for domain UUIDs (libxenstore through ctypes)."""

    def __init__(self) -> None:
        path = _find_library("xenstore", "libxenstore.so*")
        self.lib: Any = ctypes.CDLL(path) if path else None
        self.libc = ctypes.CDLL(None)
        self.handle: int | None = None
        self._lock = threading.Lock()
        self._reading = 0  # reads in flight (a thread abandoned at its deadline may still be in xs_read)
        self._closing = False
        if self.lib:
            _declare(self.lib, ctypes.c_void_p, "xs_open", ctypes.c_ulong)
            _declare(self.lib, ctypes.c_void_p, "xs_read", ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p,
                     ctypes.POINTER(ctypes.c_uint))
            _declare(self.lib, None, "xs_close", ctypes.c_void_p)
            self.libc.free.argtypes = [ctypes.c_void_p]
            self.handle = self.lib.xs_open(0)

    def read(self, path: str) -> str | None:
        """None once closed; the handle is closed by the last read in flight, never under one (use after free)."""
        with self._lock:
            if not self.handle or self._closing:
                return None
            handle, self._reading = self.handle, self._reading + 1
        try:
            length = ctypes.c_uint()
            ptr = self.lib.xs_read(handle, 0, path.encode(), ctypes.byref(length))
            if not ptr:
                return None
            try:
                return ctypes.string_at(ptr, length.value).decode(errors="replace")
            finally:
                self.libc.free(ptr)
        finally:
            self._done_reading()

    def _done_reading(self) -> None:
        with self._lock:
            self._reading -= 1
            if self._closing and not self._reading:
                self._close_now()

    def close(self) -> None:
        """At once, or (a read still in xs_read: a hung xenstored) when that read returns."""
        with self._lock:
            self._closing = True
            if not self._reading:
                self._close_now()

    def _close_now(self) -> None:
        if self.handle:
            self.lib.xs_close(self.handle)
            self.handle = None


def uuid_from_vm_path(vm: str, domid: int) -> str:
    """A domain's UUID from its xenstore ``vm`` path (``/vm/<uuid>``), else ``xen-domid-N``."""
    return vm.rsplit("/", 1)[-1] if vm.startswith("/vm/") else f"xen-domid-{domid}"


class RunningCount:
    """How many domains run on this dom0, for a source that does not see them all (libvirt's libxl driver)."""

    def __init__(self) -> None:
        self._stat: XenStat | None = None
        self._failed = False

    def count(self) -> int | None:
        """The number of domains libxenstat sees; None when it cannot be read here (then never asked again)."""
        if self._failed:
            return None
        try:
            if self._stat is None:
                if not is_dom0():
                    raise SourceError("not a dom0")
                self._stat = XenStat()
            return self._stat.count_domains()
        except (SourceError, OSError):
            self._failed = True
            return None

    def hidden(self, listed: int) -> str | None:
        """What to tell the admin when libvirt's libxl driver lists ``listed`` of more running domains."""
        running = self.count()
        if running is None or running <= listed:
            return None
        return (f"libvirt lists only the domains it started: {running - listed} more of the {running} running "
                f"on this host are not shown (run xentui without -c to see every domain)")

    def close(self) -> None:
        if self._stat is not None:
            self._stat.close()
