"""The main screen with alerts firing (header line, marked rows) for snapshot tests and screenshots: synthetic
host, fixed clock, a fixed board (a crit on build, a warn on db, a resolved warn on web, one rule refused)."""

from __future__ import annotations

from tests.ui.alert_support import Fixed, board_over
from tests.ui.snapshot_app import DemoScreenApp


class AlertsScreenApp(DemoScreenApp):
    def on_mount(self) -> None:  # Textual calls DemoScreenApp's too, after this one
        self.call_after_refresh(self.alerts_fire)

    def alerts_fire(self) -> None:
        snapshot = self.snapshot
        assert snapshot is not None
        board = board_over(snapshot, problems=("rule 'disk-busy': when: unknown figure 'disk_pct' (e.g. blk_rd_rate, "
                                               "blk_wr_rate)",))
        self.alerts.engine = Fixed(board)  # rules configured: the alerts key is on
        self.alerts.take(board)
        self.snapshot = snapshot  # shown again, with its board


app = AlertsScreenApp()
