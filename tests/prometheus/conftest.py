"""Tests against a real Prometheus and kumina's exporter on the real lab guests: each is marked ``lab`` (run them
under ``flock /tmp/xentui-lab.lock``)."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.lab)
