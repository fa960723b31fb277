"""This machine seen through psutil: used when the hypervisor is local."""

from __future__ import annotations

from urllib.parse import urlsplit

import psutil


def is_local_uri(uri: str) -> bool:
    """True when ``uri`` names a hypervisor on this machine (no remote host part)."""
    host = urlsplit(uri).hostname
    return host in (None, "", "localhost", "127.0.0.1", "::1")


def memory_kib() -> tuple[int, int]:
    """(total, free) KiB as /proc/meminfo says: MemTotal, MemFree."""
    vm = psutil.virtual_memory()
    return vm.total // 1024, vm.free // 1024
