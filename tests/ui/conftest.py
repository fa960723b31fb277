import os
import time

import pytest

from xentui import config
from xentui.model import build_snapshot
from xentui.sources.synthetic import SyntheticSource
from xentui.ui.app import XentuiApp

os.environ["TZ"] = "UTC"  # the header's clock, in snapshots
time.tzset()


def snapshots(count: int = 12, ticks: int = 2, **kw):
    """Deterministic snapshots from the synthetic host: the last of ``ticks``."""
    source = SyntheticSource(count=count, **kw)
    prev = None
    out = []
    for seq in range(1, ticks + 1):
        raw = source.collect()
        out.append(build_snapshot(prev, raw, seq))
        prev = raw
    return out


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))

    def make(settings: config.Settings | None = None, count: int = 12) -> XentuiApp:
        app = XentuiApp(SyntheticSource(count=count), settings or config.Settings(),
                        config_path=tmp_path / "cfg" / "xentui" / "config.toml", poll=False)
        return app

    return make
