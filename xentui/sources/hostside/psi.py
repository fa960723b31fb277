"""A VM's cgroup v2 pressure stall information: which cgroup (its QEMU's /proc/PID/cgroup ``0::`` line), and
its ``cpu.pressure``, ``memory.pressure``, ``io.pressure`` files."""

from __future__ import annotations

import math
from pathlib import Path

from xentui.limits import MAX_NAME, counter
from xentui.model.pressure import KINDS, RESOURCES, PressureSample, Stall
from xentui.sources.hostside.files import read_bounded, whole_lines

MAX_CGROUP_FILE = 64 * 1024  # /proc/PID/cgroup: one line per hierarchy (v1 has a dozen)
MAX_PRESSURE_FILE = 1024  # two lines of ~70 characters


def cgroup_of(proc: Path, pid: int) -> str | None:
    """The process's cgroup v2 path (``/machine.slice/...``) from its ``0::`` line; None when it has none (cgroup
    v1 only, no such process) or the path is not a plain absolute one."""
    read = read_bounded(proc / str(pid) / "cgroup", MAX_CGROUP_FILE)
    if read is None:
        return None
    for line in whole_lines(*read):
        if line.startswith("0::"):
            return clean_cgroup(line[3:])
    return None


def clean_cgroup(path: str) -> str | None:
    """An absolute cgroup path with no ``..``, ``.`` or empty parts, no NUL, at most MAX_NAME characters."""
    if not path.startswith("/") or len(path) > MAX_NAME or "\0" in path:
        return None
    if any(p in (".", "..") for p in path.split("/")) or "//" in path:
        return None
    return path.rstrip("/") or "/"


def parse_pressure(text: str, truncated: bool = False) -> tuple[tuple[str, Stall], ...]:
    """``some avg10=1.50 avg60=0.80 avg300=0.20 total=123456`` lines -> (kind, Stall); others dropped."""
    out: dict[str, Stall] = {}
    for line in whole_lines(text, truncated):
        kind, _, rest = line.partition(" ")
        if kind not in KINDS or kind in out:
            continue
        fields = dict(item.partition("=")[::2] for item in rest.split())
        out[kind] = Stall(_pct(fields.get("avg10")), _total(fields.get("total")))
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


def read_pressure(cgroup_root: Path, cgroup: str) -> PressureSample | None:
    """The cgroup's three pressure files; None when none of them is there (no PSI: cgroup v1, psi=0, an old
    kernel, a cgroup gone)."""
    base = cgroup_root / cgroup.lstrip("/")
    stalls = []
    for resource in RESOURCES:
        read = read_bounded(base / f"{resource}.pressure", MAX_PRESSURE_FILE)
        if read is not None:
            stalls.extend((resource, kind, stall) for kind, stall in parse_pressure(*read))
    return PressureSample(cgroup, tuple(stalls)) if stalls else None
