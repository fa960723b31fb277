from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file root must never write to: what planted symlinks point at."""
    path = tmp_path / "etc-shadow"
    path.write_text("precious\n")
    return path
