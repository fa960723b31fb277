"""A terminal resized under the live view: the table's columns fit the new width at once, not at the next tick."""

from __future__ import annotations

from tests.ui.snapshot_app import DemoScreenApp
from tests.ui.waiting import until
from xentui.ui.columns import fit

from .screen_read import lines


async def test_columns_refit_when_the_terminal_is_resized_both_ways():
    app = DemoScreenApp()  # no ticks: only the resize can change the columns
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        narrow = app.table.shown
        wide = fit(app.chosen_columns(), 140 - 2, app.table.name_width)
        assert len(wide) > len(narrow)  # the premise: 140 columns hold more
        await pilot.resize_terminal(140, 30)
        await until(pilot, lambda: app.table.shown == wide, "the wide table's columns")
        await until(pilot, lambda: any("DISK WR/s" in line for line in lines(app)), "the new columns drawn")
        await pilot.resize_terminal(80, 30)
        await until(pilot, lambda: app.table.shown == narrow, "back to the narrow ones")
