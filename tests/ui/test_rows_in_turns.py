"""Issue 20's cadence in the live view: the table tells the source which rows are on screen (their slow figures
are read every tick), again when scrolled; a figure read on an earlier tick is dim, and the help says why."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import pytest

from xentui import config
from xentui.sources.synthetic import SyntheticSource
from xentui.ui.columns import AGED_HELP
from xentui.ui.dialogs.help import HelpScreen

from .harness import collected, running_app, snapshots
from .screen_read import help_text
from .waiting import until


class Watched(SyntheticSource):
    """The synthetic host, keeping what the view told it of the rows on screen."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.told: list[tuple[str, ...]] = []

    def set_shown(self, keys: Collection[str]) -> None:
        self.told.append(tuple(keys))


@pytest.mark.asyncio
async def test_the_rows_on_screen_are_told_to_the_source_and_again_when_scrolled():
    source = Watched(count=60)
    async with running_app(source, size=(120, 30), snapshot=collected(source)[-1]) as (app, pilot):
        table = app.table
        rows = table.size.height - table.header_lines
        await until(pilot, lambda: len(source.told[-1:][0] if source.told else ()) == rows, "the rows on screen told")
        first = source.told[-1]
        assert first == tuple(table.order[:rows]) and len(set(first)) == rows < 60
        await pilot.press("pagedown")
        await until(pilot, lambda: source.told[-1] != first, "the rows on screen after scrolling")
        top = int(table.scroll_offset.y)
        assert top > 0 and source.told[-1] == tuple(table.order[top:top + rows])


@pytest.mark.asyncio
async def test_figures_read_on_an_earlier_tick_are_dim_and_the_help_says_why():
    shot = snapshots()[-1]
    old, fresh = replace(shot.domains[0], monitor_age_s=2.5), shot.domains[1]
    settings = config.Settings(columns=("name", "cpu_pct", "mem", "rd_s", "wr_s"))
    async with running_app(size=(120, 30), snapshot=replace(shot, domains=(old, *shot.domains[1:])),
                           settings=settings) as (app, pilot):
        table = app.table
        await until(pilot, lambda: old.key in table.views, "the rows")
        levels = {k: level for k, (_text, level) in zip(table.shown, table.cells_for(old.key), strict=True)}
        assert levels["mem"] == levels["rd_s"] == levels["wr_s"] == "aged"
        assert levels["cpu_pct"] != "aged" and levels["name"] != "aged"  # per tick figures: never dim
        assert "aged" not in [level for _text, level in table.cells_for(fresh.key)]
        assert table.get_component_rich_style("domain-table--aged").dim
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        assert f"dim  {AGED_HELP}" in help_text(app)
