"""The only ways xentui creates files (it runs as root): never through a symlink, never a guessable temp name.

- ``write_atomically``: the settings file.  A temp file made exclusively (``mkstemp``: O_CREAT|O_EXCL, 0600,
  random name) in the target's directory, written, fsync'd, then renamed over the target.  A symlink at the
  target is replaced by the new file, never written through; a crash leaves the old file and no temp file.
- ``create_new``: recordings (``xentui record -o``).  O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600 whatever the umask.
  An existing path is refused unless ``force``; then a file or symlink there is removed first (the link itself,
  never its target) and the new file is again created exclusively.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
DIR_MODE = 0o700


class Exists(OSError):
    """The path is taken and ``force`` was not given; str() is the one line to show."""


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems cannot fsync a directory; the rename stands anyway
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once; its directory is made 0700 when missing."""
    path = Path(path)
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)  # rename(2) replaces a symlink at ``path`` itself, never its target
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def refusal(path: str | os.PathLike[str], force: bool = False) -> str | None:
    """Why ``create_new(path, force=force)`` would refuse the path as it is now, or None."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return f"{os.fspath(path)} is a directory: give a file name"
    if force:
        return None
    what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "a file"
    return f"{os.fspath(path)} exists ({what}): choose another name, or --force to replace it"


def create_new(path: str | os.PathLike[str], *, force: bool = False) -> IO[bytes]:
    """A new file at ``path``, open for binary writing, mode 0600; Exists when taken and not ``force``."""
    path = os.fspath(path)
    problem = refusal(path, force)
    if problem:
        raise Exists(problem)
    if force:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a symlink goes itself; what it pointed to is untouched
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileExistsError:  # planted between the unlink and the open: refuse rather than loop
        raise Exists(f"{path} appeared while it was being replaced: nothing written, try again") from None
    try:
        os.fchmod(fd, FILE_MODE)  # exactly 0600, whatever the umask took away
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise
