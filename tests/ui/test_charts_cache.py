"""Cache QoS in the history and the charts: LLC occupancy and memory bandwidth over time."""

from __future__ import annotations

import pytest

from tests.ui.snapshot_app import DemoScreenApp


async def test_llc_and_mbm_are_kept_and_charted():
    from xentui.ui.views.charts import Chart, DomainChartsScreen, HostChartsScreen

    app = DemoScreenApp(cache=True, ticks=8)
    async with app.run_test(size=(150, 44)) as pilot:
        await pilot.pause()
        snap = app.snapshot
        monitored = [v for v in snap.domains if v.cache is not None and v.cache.occupancy_bytes is not None]
        assert monitored, "the synthetic host with cache=True has monitored domains"
        view = monitored[0]
        rings = app.history.domains[view.uuid].cache
        f32 = dict(rel=1e-6)  # the rings are float32
        assert rings["llc_bytes"].values()[-1] == pytest.approx(view.cache.occupancy_bytes, **f32)
        assert rings["mbm_total_bytes_s"].values()[-1] == pytest.approx(view.cache.mbm_total_bytes_s, **f32)
        total = sum(v.cache.occupancy_bytes for v in monitored)
        assert app.history.host["llc_bytes"].values()[-1] == pytest.approx(total, **f32)
        await pilot.press(*["down"] * app.table.order.index(view.uuid), "h")
        await pilot.pause()
        assert isinstance(app.screen, DomainChartsScreen)
        text = "\n".join(str(c.render()) for c in app.screen.query(Chart))
        assert "LLC occupancy (MiB)" in text and "Memory bandwidth (" in text
        await pilot.press("escape", "H")
        await pilot.pause()
        assert isinstance(app.screen, HostChartsScreen)
        text = "\n".join(str(c.render()) for c in app.screen.query(Chart))
        assert "LLC occupancy (MiB, monitored domains)" in text


async def test_a_domain_without_cache_qos_says_why_in_its_charts():
    from xentui.ui.views.charts import Chart

    app = DemoScreenApp(ticks=4)  # the synthetic host without Cache QoS
    async with app.run_test(size=(150, 44)) as pilot:
        await pilot.press("h")
        await pilot.pause()
        text = "\n".join(str(c.render()) for c in app.screen.query(Chart))
        assert "LLC occupancy: none" in text and "Memory bandwidth: none" in text
        title = str(app.screen.query_one("#charts-title").render())
        assert "Cache QoS: " in title  # and why


async def test_a_covered_table_is_not_redrawn_and_catches_up_when_the_view_closes():
    from xentui.model import build_snapshot

    app = DemoScreenApp(ticks=3)
    async with app.run_test(size=(150, 44)) as pilot:
        await pilot.pause()
        presented = []
        original = app.present
        app.present = lambda snap: (presented.append(snap.seq), original(snap))
        await pilot.press("1")  # the pCPU view covers the table
        await pilot.pause()
        source = app.source
        app.snapshot = build_snapshot(source.collect(), source.collect(), 99)
        await pilot.pause()
        assert presented == []  # only the pCPU view drew it
        await pilot.press("escape")
        await pilot.pause()
        assert presented == [99]  # the table caught up once, with the newest snapshot


async def test_a_domain_not_attached_says_so_in_words_with_its_key_in_the_charts_title():
    app = DemoScreenApp(cache=True, ticks=4)
    async with app.run_test(size=(150, 44)) as pilot:
        await pilot.pause()
        detached = [v for v in app.snapshot.domains if v.cache is not None and v.cache.status]
        assert detached, "the synthetic host with cache=True has domains no group holds"
        await pilot.press(*["down"] * app.table.order.index(detached[0].uuid), "h")
        await pilot.pause()
        title = str(app.screen.query_one("#charts-title").render())
        assert "Cache QoS: domain not attached: press A to attach" in title and "not-attached" not in title
