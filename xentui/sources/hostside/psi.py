"""A VM's cgroup v2 pressure stall information: which cgroup (its QEMU's /proc/PID/cgroup ``0::`` line), and
its ``cpu.pressure``, ``memory.pressure``, ``io.pressure`` files."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from xentui.limits import MAX_NAME, counter
from xentui.model.pressure import KINDS, RESOURCES, PressureSample, Stall
from xentui.sources.hostside.files import read_bounded, whole_lines
from xentui.sources.hostside.held import Reread

MAX_CGROUP_FILE = 64 * 1024  # /proc/PID/cgroup: one line per hierarchy (v1 has a dozen)
MAX_PRESSURE_FILE = 1024  # two lines of ~70 characters


def cgroup_of(proc: Path, pid: int) -> str | None:
    """The VM's cgroup v2 path (``/machine.slice/...``) from its QEMU's ``0::`` line: the parent of libvirt's
    ``emulator`` sub-cgroup, where libvirt puts QEMU's main thread (the parent also holds the ``vcpuN`` ones);
    None when it has none (cgroup v1 only, no such process), it is the root, or the path is not a plain one."""
    read = read_bounded(proc / str(pid) / "cgroup", MAX_CGROUP_FILE)
    if read is None:
        return None
    for line in whole_lines(*read):
        if line.startswith("0::"):
            path = clean_cgroup(line[3:])
            if path is not None and path.endswith("/emulator"):
                path = path.rpartition("/")[0]
            return path or None  # "/": the whole host's pressure, not the VM's
    return None


def v2_root(root: Path) -> Path:
    """The cgroup v2 hierarchy: ``root`` itself (unified mode), or its ``unified`` mount (systemd's hybrid mode:
    controllers on v1, but PSI on the v2 hierarchy), else ``root`` (whose files are then absent)."""
    if not (root / "cgroup.controllers").exists() and (root / "unified" / "cgroup.controllers").exists():
        return root / "unified"
    return root


def clean_cgroup(path: str) -> str | None:
    """An absolute cgroup path with no ``..``, ``.`` or empty parts, no NUL, at most MAX_NAME characters, without
    its trailing slash (the root: "")."""
    if not path.startswith("/") or len(path) > MAX_NAME or "\0" in path:
        return None
    if any(p in (".", "..") for p in path.split("/")) or "//" in path:
        return None
    return path.rstrip("/")


_AVGS = r" avg10=([0-9]{1,3}\.[0-9]{2}) avg60=[0-9]{1,3}\.[0-9]{2} avg300=[0-9]{1,3}\.[0-9]{2} total=([0-9]{1,20})\n"
# The kernel's own layout (psi_show): a some line, and a full line but on an old kernel's cpu.pressure.
_AS_WRITTEN = re.compile(f"some{_AVGS}(?:full{_AVGS})?", re.ASCII)


def parse_pressure(text: str, truncated: bool = False) -> tuple[tuple[str, Stall], ...]:
    """``some avg10=1.50 avg60=0.80 avg300=0.20 total=123456`` lines -> (kind, Stall); others dropped."""
    written = None if truncated else _AS_WRITTEN.fullmatch(text)
    if written is not None:  # as the kernel writes it (every tick, for every guest read): one match, no line split
        some10, some, full10, full = written.groups()
        stalls = (("some", Stall(_pct(some10), _total(some))),)
        return stalls if full is None else (*stalls, ("full", Stall(_pct(full10), _total(full))))
    out: dict[str, Stall] = {}
    lines = text.split("\n")
    for line in lines[:-1] if truncated else lines:  # a line cut by the bound is dropped
        kind = line[:4]
        if kind not in KINDS or line[4:5] != " " or kind in out:
            continue
        avg10, total = line.find(" avg10="), line.find(" total=")
        out[kind] = Stall(_pct(line[avg10 + 7:].partition(" ")[0] if avg10 >= 0 else None),
                          _total(line[total + 7:].partition(" ")[0] if total >= 0 else None))
    return tuple((k, out[k]) for k in KINDS if k in out)


def _pct(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None and text.isascii() and len(text) <= 16 else math.nan
    except ValueError:
        return None
    return value if 0.0 <= value <= 100.0 else None  # also drops nan and inf


def _total(text: str | None) -> int | None:
    return counter(int(text)) if text is not None and text.isascii() and text.isdecimal() and len(text) <= 20 \
        else None


def pressure_files(cgroup_root: Path, cgroup: str) -> tuple[tuple[str, str], ...]:
    """(resource, path) of the cgroup's pressure files, as strings: made once per guest, read every tick."""
    base = os.path.join(cgroup_root, cgroup.lstrip("/"))
    return tuple((resource, os.path.join(base, f"{resource}.pressure")) for resource in RESOURCES)


def read_pressure(cgroup: str, files: tuple[tuple[str, Reread], ...], at: float | None = None,
                  before: PressureSample | None = None) -> PressureSample | None:
    """The cgroup's pressure files (held.py); None when none of them is there (no PSI: cgroup v1,
    psi=0, an old kernel, a cgroup gone).  ``at``: when (monotonic seconds); ``before``: the read before it,
    carried as its window."""
    stalls: list[tuple[str, str, Stall]] = []
    for resource, file in files:
        read = file.read(MAX_PRESSURE_FILE)
        if read is not None:
            stalls.extend((resource, kind, stall) for kind, stall in parse_pressure(*read))
    if not stalls:
        return None
    return PressureSample(cgroup, tuple(stalls), at, *((before.at, before.stalls) if before is not None else ()))
