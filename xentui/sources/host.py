"""This machine seen through psutil: used when the hypervisor is local."""

from __future__ import annotations

from urllib.parse import urlsplit

import psutil


def is_local_uri(uri: str) -> bool:
    """True when ``uri`` names a hypervisor on this machine (no remote host part)."""
    host = urlsplit(uri).hostname
    return host in (None, "", "localhost", "127.0.0.1", "::1")


def pcpu_busy_ns() -> tuple[int, ...]:
    """Cumulative busy time of each CPU of this machine (all but idle and iowait), in ns."""
    return tuple(
        int((sum(t) - t.idle - getattr(t, "iowait", 0.0)) * 1e9) for t in psutil.cpu_times(percpu=True)
    )


def boot_time() -> float:
    return psutil.boot_time()
