"""A deterministic xentui screen for snapshot tests and screenshots: synthetic host, fixed clock."""

from __future__ import annotations

from tests.ui.harness import RecordingApp as XentuiApp
from xentui import config
from xentui.model import build_snapshot
from xentui.sources.synthetic import SyntheticSource

# The columns a user watching guests from inside would set in config.toml (columns = [...]): STEAL(%) is off by
# default; IP, AGENT, GMEM(%), RD ms and WR ms show by default where some guest has them (the guest=True host).
GUEST_COLUMNS = ("name", "state", "cpu_pct", "steal_pct", "mem", "mem_pct", "gmem_pct", "vcpus", "net_rx_s",
                 "net_tx_s", "rd_s", "wr_s", "rd_ms", "wr_ms", "ip", "agent")


class DemoScreenApp(XentuiApp):
    """The app on two synthetic samples, no poller: every run draws the same screen."""

    def __init__(self, theme: str = "xentui-dark", count: int = 12, write: bool = False, cache: bool = False,
                 ticks: int = 2, guest: bool = False, **settings):
        super().__init__(SyntheticSource(count=count, readonly=not write, cache=cache, scheduling=True, guest=guest),
                         config.Settings(theme=theme, **settings),
                         config_path=None, poll=False)
        self.count = count
        self.ticks = ticks  # more than 2: a history for the charts and the sparkline

    def on_mount(self) -> None:
        super().on_mount()
        source = self.source
        prev = source.collect()
        for seq in range(2, self.ticks + 1):
            raw = source.collect()
            self.snapshot = build_snapshot(prev, raw, seq)
            prev = raw


app = DemoScreenApp()
