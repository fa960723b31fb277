"""Stopping and starting the lab's libvirtd under a running xentui (the fault tests)."""

from __future__ import annotations

import subprocess
import time

import libvirt

from .conftest import URI


def kill_libvirtd() -> None:
    subprocess.run(["pkill", "-x", "libvirtd"], check=False)
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "libvirtd would not die"
        time.sleep(0.1)


def start_libvirtd() -> float:
    """Start libvirtd; return the monotonic time it first answered."""
    subprocess.run(["libvirtd", "-d"], check=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            libvirt.openReadOnly(URI).close()
            return time.monotonic()
        except libvirt.libvirtError:
            assert time.monotonic() < deadline, "libvirtd did not come back"
            time.sleep(0.05)
