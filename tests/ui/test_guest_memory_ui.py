"""GMEM(%) in the live view: shown where a guest reports its balloon statistics, the memory cells in the level
colour the guest's swap-in sets ([guest] levels from the settings), the detail pane's host and guest lines."""

from __future__ import annotations

import pytest

from tests.factories import dom, raw
from xentui import config
from xentui.guest_config import GuestOptions
from xentui.model import build_snapshot
from xentui.sources.libvirt.balloon import balloon_stats

from .harness import running_app
from .screen_read import lines, row_of
from .waiting import until

OTHER = "22222222-2222-3333-4444-555555555555"
T0 = 1_700_000_000  # raw()'s wall clock at t = 0
GUEST = {"balloon.available": 1_000_000, "balloon.usable": 750_000, "balloon.unused": 500_000,
         "balloon.disk_caches": 225_000, "balloon.swap_out": 0, "balloon.major_fault": 10, "balloon.minor_fault": 99}


def host(shown: bool = True):
    """web swaps 256 KiB in over its last two updates (2 s apart: 128 KiB/s); db has no balloon figures."""
    def sample(t: float, swap_in: int):
        stats = balloon_stats({**GUEST, "balloon.swap_in": swap_in, "balloon.last-update": int(T0 + t)})
        return raw(t, dom(10 + t, mem_kib=1048576, balloon=stats if shown else None),
                   dom(5 + t, uuid=OTHER, name="db", domid=8, mem_kib=524288))
    return build_snapshot(sample(0.0, 0), sample(2.0, 256), seq=2)


@pytest.mark.asyncio
@pytest.mark.parametrize(("levels", "level"), [(GuestOptions(), "level-warn"),
                                                (GuestOptions(swap_in_crit_kib_s=100), "level-crit")])
async def test_gmem_column_levels_and_detail(levels: GuestOptions, level: str):
    settings = config.Settings(columns=("name", "mem", "mem_pct", "gmem_pct"), guest=levels)
    async with running_app(size=(120, 30), snapshot=host(), settings=settings) as (app, pilot):
        await until(pilot, lambda: any("GMEM(%)" in line for line in lines(app)), "the GMEM(%) header")
        assert next(line for line in lines(app) if "web" in line).split()[-1] == "25.0"
        assert next(line for line in lines(app) if " db" in line).split()[-1] == "-"
        app.table.action_move(-1000)  # the cursor on db (first by name: equal CPU), off web: web's levels drawn
        await pilot.pause()
        theme = app.current_theme.variables
        mem = next(s for s in row_of(app, "web") if "1.0G" in s.text)
        assert mem.style.color.name == theme[level].lower()
        app.table.action_move(1000)  # the cursor on web, for its detail; db drawn plain (no guest figures)
        await pilot.pause()
        quiet = next(s for s in row_of(app, "db") if "512" in s.text)
        assert quiet.style.color.name not in (theme["level-warn"].lower(), theme["level-crit"].lower())
        await pilot.press("v")
        detail = app.query_one("#detail")
        await until(pilot, lambda: "guest: used" in str(detail.render()), "the guest memory lines")
        text = str(detail.render())
        assert "guest: used 244.1MiB of 976.6MiB (GMEM 25.0 %)" in text
        assert "guest swap in 128.0KiB/s" in text and "figures 0 s old" in text


@pytest.mark.asyncio
async def test_no_guest_figures_no_gmem_column():
    async with running_app(size=(160, 30), snapshot=host(shown=False)) as (app, pilot):  # GMEM(%) is a default
        await until(pilot, lambda: any("NAME" in line for line in lines(app)), "the table")
        assert "gmem_pct" not in app.table.shown and not any("GMEM" in line for line in lines(app))
        app.snapshot = host()
        await until(pilot, lambda: "gmem_pct" in app.table.shown, "GMEM(%) once a guest reports")
