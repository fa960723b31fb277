"""What a frame needs, computed once per snapshot (xentui/ui/frame.py): the same rows, widths and fleet figures as
the direct computation, whichever thread computed them; the sort with precomputed keys orders as the plain one."""

from __future__ import annotations

import threading
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from tests.ui.fleet_source import synthetic_fleet
from xentui.model import DomainState, HostState, Snapshot, build_snapshot
from xentui.text import visible
from xentui.ui import columns as cols
from xentui.ui import frame, presence
from xentui.ui.fleet import fleet_figures, one_per_domain
from xentui.ui.state import ViewState

from ..factories import dom, raw
from .test_fleet_view_sums import SHOT, part, uuid
from .test_fleet_view_sums import fleet as fleet_of


def fleet_snapshot(hosts: int = 6, per_host: int = 7) -> Snapshot:
    source = synthetic_fleet(hosts, per_host)
    prev = source.collect()
    return build_snapshot(prev, source.collect(), 1)


def plain_order(views, column: cols.Column, ctx: cols.Context, reverse: bool):
    """The sort as it was before the keys were precomputed: the reference."""
    known = [v for v in views if column.value(v, ctx) is not None]
    unknown = [v for v in views if column.value(v, ctx) is None]
    known.sort(key=lambda v: (v.name.lower(), v.host))
    known.sort(key=lambda v: cols._shown_value(column.value(v, ctx)), reverse=reverse)
    unknown.sort(key=lambda v: (v.name.lower(), v.host))
    return known + unknown


def test_rows_are_the_views_filtered_and_sorted_and_computed_once():
    shot = fleet_snapshot()
    ctx = cols.Context(groups=frame.groups_of(shot))
    for view in (ViewState(), ViewState(sort="host", reverse=False), ViewState(sort="group"),
                 ViewState(sort="name").filtered("rack-1|web"), ViewState(cpu_mode="host")):
        rows = frame.rows(shot, view, ctx)
        expected = view.visible(shot.domains, ctx)
        assert rows.views == expected and rows.keys == [v.key for v in expected]
        assert rows.by_key == {v.key: v for v in expected}
        assert frame.rows(shot, view, ctx) is rows  # asked again for the same snapshot and view: not recomputed
    other = fleet_snapshot()
    assert frame.rows(other, ViewState(), ctx) is not frame.rows(shot, ViewState(), ctx)


def test_prepared_in_another_thread_is_what_the_loop_would_compute():
    shot = fleet_snapshot()
    view, ctx = ViewState(sort="name"), cols.Context(groups=frame.groups_of(shot))
    worker = threading.Thread(target=frame.prepare, args=(shot, view, ctx))
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    prepared = frame.rows(shot, view, ctx)
    assert prepared.views == view.visible(shot.domains, ctx)
    assert frame.fleet(shot) == fleet_figures(shot)
    assert frame.names_width(shot) == min(40, max([8, *(cell_len(visible(v.name)) for v in shot.domains)]))
    assert (frame.conditional(shot) >= presence.CACHE_COLUMNS) is any(v.cache is not None for v in shot.domains)
    assert frame.names_width(None) == 8


def test_fleet_figures_match_the_per_domain_counts():
    """A migrating copy (paused on b while running on a), a host down and one stale: counted as one per domain."""
    moving = fleet_of(
        part("a", HostState.UP, dom(1.0, uuid=uuid(1), vcpus_current=2, mem_kib=1024),
             dom(1.0, uuid=uuid(5), state=DomainState.PAUSED, vcpus_current=1, mem_kib=512)),
        part("b", HostState.UP, dom(1.0, uuid=uuid(1), state=DomainState.PAUSED, vcpus_current=2, mem_kib=1024),
             dom(1.0, uuid=uuid(6), state=DomainState.SHUTOFF)),
        part("c", HostState.DOWN, dom(1.0, uuid=uuid(3))))
    for shot in (SHOT, moving, fleet_snapshot()):
        figures = fleet_figures(shot)
        live = {h.name for h in shot.hosts if h.state.live and h.host is not None}
        on_live = [d for d in shot.domains if d.host in live]
        shown = one_per_domain(on_live)
        states = {s: sum(1 for d in shown if d.sample.state is s) for s in DomainState}
        assert figures.by_state == {s: n for s, n in states.items() if n}
        assert figures.domains == len(shown) and figures.old_rows == len(shot.domains) - len(on_live)
        active = one_per_domain([d for d in on_live if d.sample.active])
        sized = {h.name for h in shot.hosts if h.name in live and h.host is not None and h.host.pcpus > 0}
        assert figures.sums.vcpus == sum(d.sample.vcpus_current or 0 for d in active if d.host in sized)
    assert fleet_figures(moving).domains == 3  # a's two, b's shut-off one; b's paused copy of uuid 1 left out


NAMES = st.sampled_from(["web", "Web", "db", "db-1", "cache", "ñame", ""])
FIGURES = st.one_of(st.none(), st.floats(min_value=0, max_value=400, allow_nan=False),
                    st.sampled_from([1.04, 1.06, 1.0, 2.0]))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(NAMES, st.sampled_from(["h1", "h2", ""]), FIGURES, st.integers(0, 8)),
                     max_size=30),
       reverse=st.booleans(), key=st.sampled_from(["cpu_pct", "name", "host", "mem", "vcpus", "state"]))
def test_the_sort_with_precomputed_keys_orders_as_the_plain_sort(rows, reverse, key):
    views = []
    for n, (name, host, cpu, mem) in enumerate(rows):
        state = (DomainState.RUNNING, DomainState.PAUSED, DomainState.SHUTOFF)[n % 3]
        shot = build_snapshot(None, raw(1.0, dom(1.0, uuid=uuid(n), name=name, host=host, state=state,
                                                 mem_kib=mem * 1024 or None, vcpus_current=mem or None)))
        view = shot.domains[0]
        views.append(replace(view, rates=replace(view.rates, cpu_pct=cpu)))
    column, ctx = cols.BY_KEY[key], cols.Context()
    assert cols.ordered(list(views), column, ctx, reverse) == plain_order(views, column, ctx, reverse)
