import pytest

from .harness import snapshots  # noqa: F401  (the tests' `from .conftest import snapshots`)


@pytest.fixture
def config_path(tmp_path, monkeypatch):
    """Where the app under test saves its settings (and XDG_CONFIG_HOME for its themes)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path / "cfg" / "xentui" / "config.toml"
