"""The header's alert line with marked rows, and the alerts view, as SVG (pytest --snapshot-update to approve)."""

from pathlib import Path

APP = str(Path(__file__).parent / "snapshot_alerts_app.py")


def test_alerts_header_and_marked_rows_120x40(snap_compare):
    assert snap_compare(APP, terminal_size=(120, 40), press=["down"])  # the cursor off build: its crit colour


def test_alerts_view_120x30(snap_compare):
    assert snap_compare(APP, terminal_size=(120, 30), press=["exclamation_mark"])
