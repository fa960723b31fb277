"""PSI of a real guest (issue 18, item 6): this lab host runs systemd's hybrid cgroup mode, whose v2 hierarchy
(/sys/fs/cgroup/unified) carries each VM's cpu/memory/io.pressure.  xentui's figures against the VM's cgroup
files read here around each tick (NUMA cannot be seen: this host has one node)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from xentui import lab
from xentui.model import build_snapshot
from xentui.model.pressure import RESOURCES

WINDOW_S = 4.0
ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))


def vm_cgroup(pid: int) -> tuple[str, Path] | None:
    """The VM's cgroup v2 path and directory, found here without xentui: its QEMU's 0:: line, above libvirt's
    emulator."""
    lines = [line for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines() if line.startswith("0::")]
    root = next((r for r in ROOTS if (r / "cgroup.controllers").exists()), None)
    if not lines or root is None:
        return None
    path = lines[0][3:].removesuffix("/emulator")
    return (path, root / path.lstrip("/")) if path != "/" and (root / path.lstrip("/") / "cpu.pressure").exists() \
        else None


def totals(cgroup: Path) -> dict[tuple[str, str], int]:
    out = {}
    for resource in RESOURCES:
        for line in (cgroup / f"{resource}.pressure").read_text().splitlines():
            kind, *fields = line.split()
            out[(resource, kind)] = int(dict(f.split("=") for f in fields)["total"])
    return out


def test_a_busy_guests_psi_against_its_cgroup_files(guests, source):
    busy = guests.start("busy", vcpus=1, settle=False)
    found = vm_cgroup(lab.qemu_pid(busy.name()))
    if found is None:
        pytest.skip("no cgroup v2 hierarchy with PSI on this host")
    path, cgroup = found
    before_first = totals(cgroup)
    first = source.collect()
    after_first = totals(cgroup)
    time.sleep(WINDOW_S)  # the measured window
    before_second, started = totals(cgroup), time.monotonic()
    second = source.collect()
    after_second, ended = totals(cgroup), time.monotonic()
    view = next(v for v in build_snapshot(first, second).domains if v.name == busy.name())
    a = next(d for d in first.domains if d.name == busy.name()).pressure
    b = view.sample.pressure
    assert a is not None and b is not None and view.psi is not None and view.psi.measured
    assert a.cgroup == b.cgroup == path
    seconds = b.at - b.prev_at  # between xentui's two reads of the files, within the two ticks
    assert a.at == b.prev_at and first.monotonic - 5 < b.prev_at < b.at < second.monotonic + 5
    for (resource, kind), total in after_second.items():
        read_a, read_b = a.get(resource, kind).total_us, b.get(resource, kind).total_us
        # xentui read each total between the reads made here around its tick
        assert before_first[(resource, kind)] <= read_a <= after_first[(resource, kind)]
        assert before_second[(resource, kind)] <= read_b <= total
        shown = view.psi.get(resource, kind)
        assert shown == pytest.approx(min(100.0, 100 * (read_b - read_a) / 1e6 / seconds), abs=0.01)
        # against the files' own growth over the window as read here: within what the tick's length can move it
        low = 100 * (before_second[(resource, kind)] - after_first[(resource, kind)]) / 1e6 / seconds
        high = 100 * (total - before_first[(resource, kind)]) / 1e6 / seconds
        slack = 100 * (ended - started) / seconds  # a stall during the tick's own calls
        assert low - slack - 0.5 <= shown <= high + slack + 0.5, (resource, kind, low, shown, high)
        print(f"{resource} {kind}: xentui {shown:.2f} %, files {low:.2f}-{high:.2f} % (+-{slack:.2f})")
