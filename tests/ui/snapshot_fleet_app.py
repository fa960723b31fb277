"""A deterministic fleet screen for snapshot tests and screenshots: five synthetic hosts (one down, one stale)."""

from __future__ import annotations

from tests.ui.fleet_source import synthetic_fleet
from tests.ui.harness import RecordingApp as XentuiApp
from tests.ui.harness import collected
from xentui import config
from xentui.model import HostState


class FleetScreenApp(XentuiApp):
    """The app on a synthetic fleet's third tick, no poller: every run draws the same screen."""

    def __init__(self) -> None:
        super().__init__(synthetic_fleet(5, 4), config.Settings(theme="xentui-dark"), config_path=None, poll=False)

    def on_mount(self) -> None:
        super().on_mount()
        fleet = self.source
        collected(fleet)  # every host answered twice
        fleet.hosts["node03"].state = HostState.DOWN
        fleet.hosts["node03"].reason = "qemu+ssh://node03/system: connection refused"
        fleet.hosts["node01"].state = HostState.STALE
        fleet.hosts["node01"].reason = "no answer within 2 s"
        self.snapshot = collected(fleet, ticks=1)[-1]


app = FleetScreenApp()
