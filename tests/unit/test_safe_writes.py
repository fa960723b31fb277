"""Files xentui writes as root: the config (atomic, no symlink followed) and recordings (new, 0600, no symlink)."""

from __future__ import annotations

import gzip
import json
import os
import stat
import tempfile
from pathlib import Path

import pytest

from xentui import config, safefile
from xentui.recording.writer import Recorder

SETTINGS = config.Settings(delay=1.5, sort="name")
OLD = "# the previous settings\ndelay = 2.0\n"


@pytest.fixture
def umask():
    def set_to(mask: int) -> None:
        os.umask(mask)

    old = os.umask(0o022)
    yield set_to
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# --- the config -------------------------------------------------------------------------------------------------


def test_symlinks_at_temp_names_are_never_followed(tmp_path, victim):
    cfg = tmp_path / "xentui"
    cfg.mkdir()
    names = ["config.tmp", "config.toml.tmp", ".config.toml.tmp", "config.toml~", ".config.toml.swp"]
    for name in names:
        (cfg / name).symlink_to(victim)
    (cfg / "config.toml").write_text(OLD)
    assert config.save(SETTINGS, cfg / "config.toml") is None
    assert victim.read_text() == "precious\n"
    assert all((cfg / n).is_symlink() and os.readlink(cfg / n) == str(victim) for n in names)
    assert config.load(cfg / "config.toml", env={})[0] == SETTINGS
    assert sorted(p.name for p in cfg.iterdir()) == sorted([*names, "config.toml"])  # no temp file left


def test_a_symlink_at_the_very_temp_name_chosen_is_skipped(tmp_path, victim, monkeypatch):
    """mkstemp's next random name is forced to one an attacker planted: O_EXCL refuses it, the next is used."""
    cfg = tmp_path / "xentui"
    cfg.mkdir()
    (cfg / ".config.toml.planted.tmp").symlink_to(victim)
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: iter(["planted", "fresh"]))
    assert config.save(SETTINGS, cfg / "config.toml") is None
    assert victim.read_text() == "precious\n"
    assert (cfg / ".config.toml.planted.tmp").is_symlink()
    assert config.load(cfg / "config.toml", env={})[0] == SETTINGS


def test_a_symlinked_config_is_replaced_by_a_file_never_written_through(tmp_path, victim):
    cfg = tmp_path / "xentui"
    cfg.mkdir()
    (cfg / "config.toml").symlink_to(victim)
    assert config.save(SETTINGS, cfg / "config.toml") is None
    assert victim.read_text() == "precious\n"
    assert not (cfg / "config.toml").is_symlink()
    assert _mode(cfg / "config.toml") == 0o600
    assert config.load(cfg / "config.toml", env={})[0] == SETTINGS


@pytest.mark.parametrize("crash", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_crash_midway_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, crash):
    cfg = tmp_path / "xentui"
    cfg.mkdir()
    (cfg / "config.toml").write_text(OLD)

    def fail(fd: int) -> None:
        assert os.fstat(fd).st_size > 0  # the new text is half-way: written, not yet durable nor renamed
        raise crash

    monkeypatch.setattr(os, "fsync", fail)
    if isinstance(crash, OSError):
        assert config.save(SETTINGS, cfg / "config.toml") == (
            f"cannot save settings to {cfg / 'config.toml'}: No space left on device")
    else:
        with pytest.raises(KeyboardInterrupt):
            config.save(SETTINGS, cfg / "config.toml")
    assert (cfg / "config.toml").read_text() == OLD
    assert [p.name for p in cfg.iterdir()] == ["config.toml"]


def test_a_missing_directory_is_made_0700(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "home" / ".config" / "xentui" / "config.toml"
    assert config.save(SETTINGS, path) is None
    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o600


# --- recordings --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277])
def test_a_recording_is_created_0600_whatever_the_umask(tmp_path, umask, mask):
    umask(mask)
    with safefile.create_new(tmp_path / "r.xtrec.gz") as out:
        out.write(b"x")
    assert _mode(tmp_path / "r.xtrec.gz") == 0o600


def test_an_existing_file_is_refused_without_force_and_replaced_with_it(tmp_path):
    path = tmp_path / "night.xtrec.gz"
    path.write_bytes(b"last night")
    with pytest.raises(safefile.Exists) as err:
        safefile.create_new(path)
    assert str(err.value) == f"{path} exists (a file): choose another name, or --force to replace it"
    assert path.read_bytes() == b"last night"
    with safefile.create_new(path, force=True) as out:
        out.write(b"tonight")
    assert path.read_bytes() == b"tonight" and _mode(path) == 0o600


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_is_refused_and_with_force_replaced_itself(tmp_path, victim, dangling):
    target = tmp_path / "nowhere" if dangling else victim
    path = tmp_path / "r.xtrec.gz"
    path.symlink_to(target)
    with pytest.raises(safefile.Exists, match=r"exists \(a symbolic link\).*--force"):
        safefile.create_new(path)
    with safefile.create_new(path, force=True) as out:
        out.write(b"new")
    assert not path.is_symlink() and path.read_bytes() == b"new"
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "nowhere").exists()


def test_a_directory_is_refused_even_with_force(tmp_path):
    with pytest.raises(safefile.Exists, match="is a directory"):
        safefile.create_new(tmp_path, force=True)


def test_a_symlink_planted_after_the_check_is_not_followed(tmp_path, victim, monkeypatch):
    """The race: a link appears between the unlink and the open; O_EXCL|O_NOFOLLOW refuses it."""
    path = tmp_path / "r.xtrec.gz"
    path.write_bytes(b"old")
    real_unlink = os.unlink

    def unlink_then_plant(p: str) -> None:
        real_unlink(p)
        os.symlink(victim, p)

    monkeypatch.setattr(os, "unlink", unlink_then_plant)
    with pytest.raises(safefile.Exists, match="appeared while it was being replaced"):
        safefile.create_new(path, force=True)
    assert victim.read_text() == "precious\n"


def test_the_recorder_opens_through_the_one_opener(tmp_path, victim):
    path = tmp_path / "r.xtrec.gz"
    path.symlink_to(victim)
    with pytest.raises(safefile.Exists):
        Recorder(path, "test:///default", 1.0)
    Recorder(path, "test:///default", 1.0, force=True).close()
    assert victim.read_text() == "precious\n"
    with gzip.open(path, "rt") as f:
        assert json.loads(f.readline())["uri"] == "test:///default"


def test_the_saver_writes_in_order_off_the_callers_thread(tmp_path):
    saver = config.Saver(tmp_path / "xentui" / "config.toml")
    problems: list[str] = []
    futures = [saver.submit(config.Settings(delay=d), problems.append) for d in (1.0, 2.0, 3.0, 4.0)]
    for future in futures:
        future.result(timeout=30)
    saver.close()
    assert config.load(tmp_path / "xentui" / "config.toml", env={})[0].delay == 4.0 and problems == []
    blocked = config.Saver(tmp_path / "victim" / "config.toml")
    (tmp_path / "victim").write_text("not a directory")
    blocked.submit(config.Settings(), problems.append).result(timeout=30)
    blocked.close()
    assert len(problems) == 1 and problems[0].startswith(f"cannot save settings to {tmp_path / 'victim'}")
