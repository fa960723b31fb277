"""ViewState without an App: filter, sort, CPU mode, details, frozen, and what is persisted."""

from xentui import config
from xentui.model import build_snapshot
from xentui.sources.synthetic import SyntheticSource
from xentui.ui import columns as cols
from xentui.ui.state import ViewState


def views():
    source = SyntheticSource(count=12)
    prev = source.collect()
    return build_snapshot(prev, source.collect(), 2).domains


def test_filter_regex_and_plain_text_fallback():
    state = ViewState().filtered("^d[bn]")
    assert {v.name for v in state.visible(views(), cols.Context())} == {"db", "dns", "db-1"}
    bad = ViewState().filtered("ci-(")
    assert bad.filter_problem is not None and "matching it as plain text" in bad.filter_problem
    assert bad.visible(views(), cols.Context()) == []


def test_sort_steps_inverts_and_header_clicks():
    state = ViewState()
    assert state.sort_step(("name", "state", "cpu_pct"), 1).sort == "name"  # wraps round
    assert state.sort_step(("name", "state", "cpu_pct"), -1).sort == "state"
    assert state.inverted().reverse is False
    clicked = state.clicked("name")
    assert (clicked.sort, clicked.reverse) == ("name", False)
    assert clicked.clicked("name").reverse is True


def test_toggles_and_settings_round_trip():
    state = ViewState.from_settings(config.Settings(sort="mem", reverse=False, cpu_mode="host"))
    assert state.persisted() == {"sort": "mem", "reverse": False, "cpu_mode": "host"}
    assert state.other_cpu_mode().cpu_mode == "pcpu"
    assert state.toggled_detail("nets").toggled_detail("vcpus").toggled_detail("nets").details == {"vcpus"}
    assert state.toggled_frozen().frozen and not state.toggled_frozen().toggled_frozen().frozen
