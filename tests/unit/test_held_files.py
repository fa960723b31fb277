"""Kernel files held open and read again from their start (hostside/held.py): fresh text each read, a bounded
number of descriptors (past it a file is opened at each read), each given back when closed."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from xentui.sources.hostside import held


def test_a_held_file_is_read_afresh_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "cpuacct.usage"
    path.write_text("100\n")
    file = held.hold(path)
    assert isinstance(file, held.HeldFile)
    try:
        assert file.read(512) == ("100\n", False)
        path.write_text("250\n")  # the kernel's next figure
        assert file.read(512) == ("250\n", False)
        path.write_text("x" * 600)
        assert file.read(512) == ("x" * 512, True)  # longer than asked: said so
    finally:
        file.close()
    assert file.read(512) is None  # closed: nothing, never another file's text
    file.close()  # twice: no harm


@pytest.mark.parametrize("kind", ["held", "opened at each read"])
def test_bytes_read_whole_or_not_at_all(tmp_path: Path, kind: str) -> None:
    """The figures read every tick come as bytes: the file whole, or None when it is longer than asked for (a
    figure cut short would lie) or cannot be read."""
    path = tmp_path / "schedstat"
    path.write_bytes(b"12 34 5\n")
    file = held.hold(path) if kind == "held" else held.OpenedEachRead(path)
    assert file is not None and isinstance(file, held.HeldFile) == (kind == "held")
    try:
        assert file.read_bytes(8) == b"12 34 5\n"
        assert file.read_bytes(7) is None
        path.write_bytes(b"\xff\x00" * 300)
        assert file.read_bytes(600) == b"\xff\x00" * 300 and file.read_bytes(512) is None
    finally:
        file.close()
    if kind == "held":
        assert file.read_bytes(512) is None  # closed
    else:
        path.unlink()
        assert file.read_bytes(512) is None  # gone


def test_a_file_not_there_is_none(tmp_path: Path) -> None:
    assert held.hold(tmp_path / "cpu.pressure") is None
    dirfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert held.hold("statm", dirfd) is None
        (tmp_path / "statm").write_text("1 2 3\n")
        file = held.hold("statm", dirfd)
        assert file is not None and file.read(64) == ("1 2 3\n", False)
        file.close()
    finally:
        os.close(dirfd)


def test_past_the_budget_a_file_is_opened_at_each_read_and_closing_gives_back(tmp_path: Path, monkeypatch) -> None:
    budget = held._Budget()
    budget.allowed = 2
    monkeypatch.setattr(held, "BUDGET", budget)
    paths = [tmp_path / f"f{i}" for i in range(3)]
    for i, p in enumerate(paths):
        p.write_text(f"{i}\n")
    files = [held.hold(p) for p in paths]
    assert [type(f) for f in files] == [held.HeldFile, held.HeldFile, held.OpenedEachRead]
    assert [f.read(16) for f in files if f is not None] == [("0\n", False), ("1\n", False), ("2\n", False)]
    paths[2].write_text("7\n")
    assert files[2] is not None and files[2].read(16) == ("7\n", False)
    assert budget.held == 2
    held.close_all(files)
    assert budget.held == 0 and isinstance(held.hold(paths[2]), held.HeldFile)


def test_the_open_files_limit_is_raised_towards_its_hard_one_never_past_it() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and hard < 1024:
            pytest.skip(f"this machine's hard limit on open files is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        allowed = held._raised_limit()
        raised = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        want = held.WANTED_FDS if hard == resource.RLIM_INFINITY else min(hard, held.WANTED_FDS)
        assert raised == want and allowed == want
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_held_file_dropped_unclosed_gives_its_descriptor_back(tmp_path: Path) -> None:
    import gc

    path = tmp_path / "statm"
    path.write_text("1 2 3\n")
    before = held.BUDGET.held
    file = held.hold(path)
    assert held.BUDGET.held == before + 1
    del file
    gc.collect()
    assert held.BUDGET.held == before
