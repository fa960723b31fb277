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


CACHE_APP = str(Path(__file__).parent / "snapshot_cache_app.py")


def test_cache_qos_columns_and_detail(snap_compare):
    """LLC / MBM columns, the host's Cache QoS line, "press A" for a domain not attached, per-socket detail (l)."""
    assert snap_compare(CACHE_APP, terminal_size=(160, 40), press=["down", "l"])


def test_scheduler_view(snap_compare):
    """Pools with their scheduler and pCPUs, each domain's weight and cap, an RTDS domain's budgets per vCPU (w)."""
    assert snap_compare(APP, terminal_size=(120, 40), press=["down", "down", "w"])
