"""RD ms / WR ms shown by default where disks report request times, each disk's ms in the b lines; STEAL(%) chosen,
coloured by its configured levels, and explained in the help."""

from __future__ import annotations

import pytest

from tests.factories import dom, raw
from xentui import config
from xentui.model import BlockSample, VcpuSample, build_snapshot
from xentui.ui.dialogs.help import HelpScreen

from .harness import running_app, snapshots
from .screen_read import help_text, lines
from .waiting import until

MS = 1_000_000


def timed():
    """A domain that read 50 times at 20 ms and wrote 10 times at 3 ms over 2 s, its 2 vCPUs stolen 30 % each."""
    def sample(t: float, rd: int, rd_ms: int, wr: int, wr_ms: int, steal_ms: int):
        disk = BlockSample("vda", rd_reqs=rd, rd_bytes=rd * 4096, wr_reqs=wr, wr_bytes=wr * 4096,
                           rd_times_ns=rd_ms * MS, wr_times_ns=wr_ms * MS, fl_reqs=0, fl_times_ns=0)
        vcpus = tuple(VcpuSample(n, time_ns=0, delay_ns=steal_ms * MS) for n in range(2))
        return raw(t, dom(t, blocks=(disk,), vcpus=vcpus, vcpus_current=2))
    return build_snapshot(sample(0.0, 100, 500, 10, 40, 0), sample(2.0, 150, 1500, 20, 70, 600), seq=2)


@pytest.mark.asyncio
async def test_latency_by_default_per_disk_with_b_and_steal_chosen():
    async with running_app(size=(160, 30), snapshot=timed()) as (app, pilot):
        await until(pilot, lambda: any("RD ms" in line for line in lines(app)), "the RD ms header")
        header = next(line for line in lines(app) if "RD ms" in line)
        row = next(line for line in lines(app) if "web" in line)
        assert header.index("WR ms") > header.index("RD ms") > header.index("DISK WR/s")
        assert row[header.index("RD ms") - 2:header.index("RD ms") + 5].split() == ["20.0"]
        assert "STEAL(%)" not in header  # off by default
        await pilot.press("b")
        detail = app.query_one("#detail")
        await until(pilot, lambda: "RD 20.0 ms" in str(detail.render()), "the disk's latency in the b lines")
        assert "RD 20.0 ms  WR 3.00 ms  FL - ms" in str(detail.render())
        await pilot.press("b", "f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        listed = help_text(app)
        assert "ms per disk read" in listed and "runnable but not running (steal), summed" in listed


@pytest.mark.asyncio
async def test_steal_column_levels_from_the_settings():
    for levels, level in (((10.0, 25.0), "crit"), ((20.0, 50.0), "warn"), ((40.0, 50.0), None)):
        settings = config.Settings(columns=("name", "cpu_pct", "steal_pct"), steal_warn_pct=levels[0],
                                   steal_crit_pct=levels[1])
        async with running_app(size=(120, 30), snapshot=timed(), settings=settings) as (app, pilot):
            await until(pilot, lambda: any("STEAL(%)" in line for line in lines(app)), "the STEAL(%) header")
            assert next(line for line in lines(app) if "web" in line).split()[-1] == "60.0"
            key = app.snapshot.domains[0].key
            assert app.table.cells_for(key)[app.table.shown.index("steal_pct")][1] == level  # 30 % of each vCPU


@pytest.mark.asyncio
async def test_no_latency_columns_where_no_disk_has_times():
    async with running_app(size=(160, 30), snapshot=snapshots()[-1]) as (app, pilot):
        await until(pilot, lambda: any("DISK RD/s" in line for line in lines(app)), "the table")
        assert not any("RD ms" in line for line in lines(app))
