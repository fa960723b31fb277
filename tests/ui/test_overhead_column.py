"""OVH(%) in the table (chosen), the help and the chooser only where it is measured, and the detail pane's split."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.widgets import SelectionList

from tests.factories import dom, raw
from xentui import config
from xentui.model import VcpuSample, build_snapshot
from xentui.ui.dialogs.columns import ColumnsScreen
from xentui.ui.dialogs.help import HelpScreen
from xentui.ui.widgets.detail_pane import cpu_split_line

from .harness import running_app, snapshots
from .screen_read import help_text, lines
from .waiting import until

S = 1_000_000_000


def measured():
    """A KVM domain whose two vCPUs used 40 % and 60 % and QEMU's own threads 12.5 % over 2 s."""
    def sample(t: float, v0: float, v1: float, ovh: float):
        return raw(t, dom(v0 + v1 + ovh, vcpus=(VcpuSample(0, time_ns=int(v0 * S)), VcpuSample(1, time_ns=int(v1 * S))),
                          overhead_ns=int(ovh * S), vcpus_current=2))
    return build_snapshot(sample(0.0, 10, 20, 3), sample(2.0, 10.8, 21.2, 3.25), seq=2)


@pytest.mark.asyncio
async def test_the_column_the_split_and_the_listing_where_measured():
    settings = config.Settings(columns=("name", "cpu_pct", "ovh_pct"))
    async with running_app(size=(120, 30), snapshot=measured(), settings=settings) as (app, pilot):
        await until(pilot, lambda: any("OVH(%)" in line for line in lines(app)), "the OVH(%) header")
        row = next(line for line in lines(app) if "web" in line)
        assert row.split()[-2:] == ["112.5", "12.5"]
        await pilot.press("v")
        detail = app.query_one("#detail")
        await until(pilot, lambda: "overhead" in str(detail.render()), "the CPU split in the detail pane")
        assert "CPU(%) 112.5 = vCPUs 100.0 + overhead 12.5 (QEMU's emulator and I/O threads)" in str(detail.render())
        await pilot.press("v", "f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        assert "ovh_pct" in app.screen.optional
        listed = help_text(app)
        assert "OVH(%)" in listed and "QEMU's emulator and I/O threads" in listed  # the column's line in the help
        await pilot.press("escape", "c")
        await until(pilot, lambda: isinstance(app.screen, ColumnsScreen), "the column chooser")
        picked = app.screen.query_one(SelectionList)
        assert picked.get_option_at_index(picked.option_count - 1).value == "ovh_pct"


@pytest.mark.asyncio
async def test_not_listed_where_not_measured():
    async with running_app(size=(120, 30), snapshot=snapshots()[-1]) as (app, pilot):
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ColumnsScreen), "the column chooser")
        picked = app.screen.query_one(SelectionList)
        assert "ovh_pct" not in [picked.get_option_at_index(i).value for i in range(picked.option_count)]
        assert "ovh_pct" not in app.table.shown


def test_the_split_says_the_vcpus_sum_is_unknown_when_one_vcpus_figure_is():
    view = measured().domains[0]
    first, second = view.rates.vcpus
    for vcpus, said in (((first, second), "vCPUs 100.0"), ((first, replace(second, cpu_pct=None)), "vCPUs -"),
                        ((), "vCPUs -")):
        line = cpu_split_line(replace(view, rates=replace(view.rates, vcpus=vcpus)))
        assert line.startswith(f"CPU(%) 112.5 = {said} + overhead 12.5"), line
