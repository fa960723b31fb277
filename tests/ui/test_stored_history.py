"""A source that keeps history (Prometheus): a domain's charts ask it, in the poller's thread, and draw CPU and
memory from it; a source that keeps none leaves the charts to this session's memory."""

from __future__ import annotations

import pytest

from tests.ui.harness import running_app
from tests.ui.waiting import until
from xentui import config
from xentui.history import DOMAIN_VALUES, STORED_DOMAIN_VALUES
from xentui.sources.base import HistoryPoint, SourceError
from xentui.sources.synthetic import SyntheticSource
from xentui.ui.views.charts import Chart, DomainChartsScreen


class KeepingSource(SyntheticSource):
    """The made-up host, with a store of history like Prometheus's (or a failing one)."""

    KEEPS_HISTORY = True

    def __init__(self, fail: str = "") -> None:
        super().__init__(count=3)
        self.fail = fail
        self.asked: list[tuple[str, float]] = []

    def history(self, domain_key: str, seconds: float) -> list[HistoryPoint] | None:
        self.asked.append((domain_key, seconds))
        if self.fail:
            raise SourceError(self.fail)
        return [HistoryPoint(wall=1000.0 + 60 * i, cpu_pct=10.0 * i, mem_kib=1024 * (i + 1)) for i in range(30)]


def charts_text(app) -> str:
    return "\n".join(str(c.render()) for c in app.screen.query(Chart))


@pytest.mark.asyncio
async def test_a_domains_charts_draw_cpu_and_memory_from_the_sources_store():
    source = KeepingSource()
    async with running_app(source, size=(140, 44), poll=True) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.interval_s is not None, "rates")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, DomainChartsScreen) and app.screen.stored, "history")
        key = app.screen.key
        assert source.asked == [(key, DomainChartsScreen.STORED_S)]
        await until(pilot, lambda: "from the source's store" in charts_text(app), "the stored history drawn")
        title = str(app.screen.query_one("#charts-title").render())
        assert "CPU and memory: the source's last 30 points" in title


@pytest.mark.asyncio
async def test_a_failing_store_is_one_line_in_the_title_and_the_charts_keep_this_sessions_memory():
    source = KeepingSource(fail="Prometheus did not answer within 5 s")
    async with running_app(source, size=(140, 44), poll=True) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.interval_s is not None, "rates")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, DomainChartsScreen) and app.screen.stored_problem,
                    "the failure said")
        await until(pilot, lambda: "history from the source failed: Prometheus did not answer within 5 s"
                    in str(app.screen.query_one("#charts-title").render()), "the title says it")
        assert "CPU % per vCPU" in charts_text(app)


class GrowingStore(KeepingSource):
    """Each answer one point longer: the store moves on while the charts are open."""

    def history(self, domain_key: str, seconds: float) -> list[HistoryPoint] | None:
        points = super().history(domain_key, seconds) or []
        return points[:10 + len(self.asked)]


@pytest.mark.asyncio
async def test_open_charts_ask_the_store_again_and_draw_its_newer_points(monkeypatch):
    monkeypatch.setattr(DomainChartsScreen, "REFRESH_S", 0.5)
    source = GrowingStore()
    async with running_app(source, size=(140, 44), poll=True,
                           settings=config.Settings(delay=0.2)) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.interval_s is not None, "rates")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, DomainChartsScreen) and app.screen.stored, "history")
        title = app.screen.query_one("#charts-title")
        await until(pilot, lambda: "CPU and memory: the source's last 13 points" in str(title.render()),
                    "the store asked twice more, its newer points drawn")
        assert all(key == app.screen.key for key, _s in source.asked)


@pytest.mark.asyncio
async def test_a_source_with_a_store_of_its_own_is_given_a_smaller_memory_of_its_domains():
    """Its charts' CPU and memory come from its store: this session's memory keeps less of each domain (at 10,000
    domains through Prometheus, ~70 ticks each instead of ~260: the live view's resident memory, bench/RESULTS.md);
    a source without one keeps the whole budget."""
    async with running_app(KeepingSource(), size=(140, 44), poll=True) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None, "a snapshot")
        assert app.history.domain_values == STORED_DOMAIN_VALUES < DOMAIN_VALUES
    async with running_app(SyntheticSource(count=3), size=(140, 44), poll=True) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None, "a snapshot")
        assert app.history.domain_values == DOMAIN_VALUES
