"""The partial-update patch: a changed cell is sent alone, not the line up to it."""

from rich.console import Console
from rich.segment import Segment
from textual._compositor import ChopsUpdate
from textual.strip import Strip

from xentui.ui import textual_workarounds as partial_updates


def update(spans):
    line = Strip([Segment("name      "), Segment("  99.5"), Segment("  1234")], 22)
    return ChopsUpdate([{0: line}], spans, [[22]])


def test_only_the_changed_columns_are_sent():
    console = Console(force_terminal=True, color_system=None)
    text = partial_updates.render_segments(update([(0, 10, 16)]), console)
    assert text == "\x1b[1;11H  99.5"  # move to column 11, then just the cell
    assert partial_updates.render_segments(update([(0, 0, 22)]), console) == "\x1b[1;1Hname        99.5  1234"


def test_installed_by_run_app_and_the_harness():
    import inspect

    import tests.ui.harness  # noqa: F401
    from xentui.ui.app import run_app

    assert ChopsUpdate.render_segments is partial_updates.render_segments
    assert "textual_workarounds.install()" in inspect.getsource(run_app)  # explicit, not at import
