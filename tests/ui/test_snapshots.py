"""The main screen as SVG, compared with the approved snapshot (pytest --snapshot-update to approve)."""

from pathlib import Path

APP = str(Path(__file__).parent / "snapshot_app.py")


def test_main_screen_120x40(snap_compare):
    assert snap_compare(APP, terminal_size=(120, 40))


def test_main_screen_80x24(snap_compare):
    assert snap_compare(APP, terminal_size=(80, 24))


def test_help_screen(snap_compare):
    assert snap_compare(APP, terminal_size=(120, 50), press=["f1"])


def test_details_and_host_cpu(snap_compare):
    assert snap_compare(APP, terminal_size=(120, 40), press=["t", "v", "n", "b"])
