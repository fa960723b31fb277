"""The fleet view and a host opened alone, as SVG, compared with the approved snapshots."""

from pathlib import Path

APP = str(Path(__file__).parent / "snapshot_fleet_app.py")


def test_fleet_view_120x40(snap_compare):
    """HOST and GROUP columns, the fleet header with its down and stale hosts, their rows stale."""
    assert snap_compare(APP, terminal_size=(120, 40))


def test_fleet_host_list(snap_compare):
    assert snap_compare(APP, terminal_size=(120, 30), press=["f"])


def test_fleet_host_opened_alone(snap_compare):
    """The host list's third line (the first host up): its own header, only its domains, Esc back named."""
    assert snap_compare(APP, terminal_size=(120, 40), press=["f", "down", "down", "enter"])
