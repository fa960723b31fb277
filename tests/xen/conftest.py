"""The Xen lab: every test in this folder boots a real dom0 under QEMU, so each is marked ``xenlab``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xenlab)


@pytest.fixture(scope="session")
def out(tmp_path_factory) -> Path:
    """The lab's records: booted once a session (XENTUI_XENLAB_OUT=DIR: a finished run's, without booting)."""
    reuse = os.environ.get("XENTUI_XENLAB_OUT")
    if reuse:
        return Path(reuse) / "out"
    dest = tmp_path_factory.mktemp("xenlab")
    proc = subprocess.run([sys.executable, str(REPO / "xenlab" / "run.py"), "--out", str(dest)], timeout=1500)
    assert (dest / "out" / "results.json").exists(), f"the lab produced no results (rc {proc.returncode})"
    return dest / "out"


@pytest.fixture(scope="session")
def results(out) -> dict:
    data = json.loads((out / "results.json").read_text())
    assert data["ok"], data.get("error")
    return data
