"""This machine seen through psutil: used when the hypervisor is local (and dom0's boot time)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import psutil


def is_local_uri(uri: str) -> bool:
    """True when ``uri`` names a hypervisor on this machine (no remote host part)."""
    host = urlsplit(uri).hostname
    return host in (None, "", "localhost", "127.0.0.1", "::1")


def pcpu_busy_ns() -> tuple[int, ...]:
    """Cumulative busy time of each CPU of this machine (/proc/stat: all but idle and iowait), in ns.  Guest
    time is in /proc/stat's user and nice already: its own columns are not added again."""
    return tuple(
        int((sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0))
            * 1e9) for t in psutil.cpu_times(percpu=True)
    )


Memory = tuple[int, int, int | None]  # (total, free, available) KiB; available None: not said


def memory_kib() -> Memory:
    """(MemTotal, MemFree, MemAvailable) of this machine in KiB: what libvirt's node memory stats report, and what
    the kernel could hand out without swapping."""
    memory = psutil.virtual_memory()
    return memory.total // 1024, memory.free // 1024, memory.available // 1024


def boot_time() -> float | None:
    """When this machine booted (/proc/stat's btime); on a dom0, near enough, the host; None if unknown."""
    try:
        return float(psutil.boot_time())
    except (OSError, RuntimeError):
        return None


# Where libvirt's daemons listen on this machine (monolithic libvirtd, or the modular virtqemud).
DAEMON_SOCKETS = ("/run/libvirt/libvirt-sock", "/run/libvirt/virtqemud-sock", "/run/libvirt/virtxend-sock")
LIBVIRT_TCP_PORT = 16509


def daemon_reachable(uri: str, readonly: bool = False, timeout: float = 0.5) -> bool | None:
    """Whether the daemon behind ``uri`` accepts a connection now (a socket connect, no libvirt call);
    None when that cannot be told cheaply (ssh, tls, the test driver)."""
    parts = urlsplit(uri)
    scheme = parts.scheme
    if scheme.startswith("test") or "+ssh" in scheme or "+tls" in scheme or "+libssh" in scheme:
        return None
    if parts.hostname and not scheme.endswith("+unix"):
        if "+tcp" not in scheme:
            return None  # plain remote URIs default to TLS
        try:
            with socket.create_connection((parts.hostname, parts.port or LIBVIRT_TCP_PORT), timeout=timeout):
                return True
        except OSError:
            return False
    paths = [p + ("-ro" if readonly else "") for p in DAEMON_SOCKETS]
    for path in paths:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(path)
                return True
        except OSError:
            continue
    return False
