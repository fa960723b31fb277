"""PSI and NUMA (issue 18, item 6) in the table and the detail pane: shown only where some domain has them,
listed in the chooser then; from samples read off trees the tests build (this lab host has neither)."""

from __future__ import annotations

import pytest

from tests.factories import dom, raw
from tests.hostside_tree import CGROUP, NUMA_MAPS, HostTree, pressure_reads
from xentui.model import build_snapshot
from xentui.sources.hostside import numa as numa_files
from xentui.sources.hostside.psi import read_pressure
from xentui.ui.dialogs.columns import ColumnsScreen

from .harness import running_app, snapshots
from .screen_read import lines
from .test_guest_columns import chooser_keys
from .waiting import until

OTHER = "22222222-2222-3333-4444-555555555555"


def host_with_pressure(tmp_path):
    """``web`` (busiest: the row selected) stalled on I/O 30 % of 2 s, its vCPU 1 off its memory's node; ``db``
    with neither."""
    tree = HostTree(tmp_path)
    tree.qemu("web", 100)
    tree.numa_maps(100, NUMA_MAPS)
    tree.vcpu(100, 101, 0, cpu=3)
    tree.vcpu(100, 102, 1, cpu=1)
    numa = numa_files.read_numa(tree.paths.proc, 100, numa_files.node_of_cpu(tree.paths.nodes), None)
    samples, psi = [], None
    for t, io_total in ((0.0, 1_000_000), (2.0, 1_600_000)):
        tree.pressure("io", io_total, 0)
        tree.pressure("cpu", 0, 0)
        psi = read_pressure(CGROUP, pressure_reads(tree.paths.cgroup, CGROUP), t, psi)
        web = dom(2 * t, pressure=psi, numa=numa)
        samples.append(raw(t, web, dom(t, uuid=OTHER, name="db", domid=8)))
    return build_snapshot(samples[0], samples[1], seq=2)


@pytest.mark.asyncio
async def test_psi_and_numa_columns_and_the_detail(tmp_path):
    async with running_app(size=(200, 30), snapshot=host_with_pressure(tmp_path)) as (app, pilot):
        await until(pilot, lambda: {"psi", "numa"} <= set(app.table.shown), "the PSI and NUMA columns")
        header = next(line for line in lines(app) if "NAME" in line)
        assert "PSI" in header and "NUMA" in header
        web = next(line for line in lines(app) if " web " in line)
        assert "io 30.0" in web and "m1 c0,1!" in web
        db = next(line for line in lines(app) if " db " in line)
        cells = db.split()
        assert cells.count("-") >= 2  # unknown, not guessed
        await pilot.press("v")
        detail = app.query_one("#detail")
        await until(pilot, lambda: "PSI" in str(detail.render()), "the PSI line in the detail pane")
        text = str(detail.render())
        assert "PSI some/full % cpu 0.0/0.0, io 30.0/0.0; cgroup " + CGROUP in text
        assert "vCPUs by node 0: 1, 1: 1; vCPU 1 off node 1" in text
        await pilot.press("v", "c")
        await until(pilot, lambda: isinstance(app.screen, ColumnsScreen), "the column chooser")
        assert chooser_keys(app)[-2:] == ["psi", "numa"]


@pytest.mark.asyncio
async def test_not_shown_where_absent():
    async with running_app(size=(200, 30), snapshot=snapshots()[-1]) as (app, pilot):
        await until(pilot, lambda: any("NAME" in line for line in lines(app)), "the table")
        assert not {"psi", "numa"} & set(app.table.shown)
        assert not any(" PSI " in line or "NUMA" in line for line in lines(app))


@pytest.mark.asyncio
async def test_a_hostile_cgroup_name_is_shown_harmlessly(tmp_path):
    """A cgroup directory named with an escape sequence and a bidi override (outside text, as any name)."""
    tree = HostTree(tmp_path)
    cgroup = "/machine.slice/\x1b[31mevil\u202e.scope"
    tree.pressure("cpu", 5, 0, cgroup=cgroup)
    psi = read_pressure(cgroup, pressure_reads(tree.paths.cgroup, cgroup), 0.0)
    shot = build_snapshot(None, raw(0.0, dom(1, pressure=psi)), seq=1)
    async with running_app(size=(200, 30), snapshot=shot) as (app, pilot):
        await until(pilot, lambda: "psi" in app.table.shown, "the PSI column")
        await pilot.press("v")
        detail = app.query_one("#detail")
        await until(pilot, lambda: "PSI" in str(detail.render()), "the PSI line")
        text = str(detail.render())
        assert "cgroup /machine.slice/␛[31mevil⟨U+202E⟩.scope" in text and "\x1b" not in text
        assert "(kernel's avg10)" in text  # a first read: no window yet
