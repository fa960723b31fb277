"""The synthetic screen with Cache QoS (resctrl-like data, every fourth domain not attached)."""

from tests.ui.snapshot_app import DemoScreenApp

app = DemoScreenApp(cache=True)
