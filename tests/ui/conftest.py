import pytest

from xentui import config

from .harness import RecordingApp, snapshots  # noqa: F401  (snapshots: for the tests)
from .harness import make_app as _make_app


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """The app on 12 synthetic domains (or ``count``), settings saved under tmp_path; the test sets snapshots."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))

    def make(settings: config.Settings | None = None, count: int = 12) -> RecordingApp:
        from xentui.sources.synthetic import SyntheticSource

        path = tmp_path / "cfg" / "xentui" / "config.toml"
        return _make_app(SyntheticSource(count=count), settings, config_path=path)

    return make
