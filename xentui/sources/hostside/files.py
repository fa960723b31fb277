"""Bounded reads of kernel files (procfs, sysfs, cgroupfs), whose contents are outside text."""

from __future__ import annotations

import os
from pathlib import Path


def read_bounded(path: Path | str, limit: int) -> tuple[str, bool] | None:
    """At most ``limit`` bytes of ``path`` as text and whether there was more; None when it is absent or
    unreadable (never an error: a file the kernel does not offer here is "not present").  Undecodable bytes are
    replaced: a caller's parser drops what it does not recognise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:  # procfs hands out a page or so per read
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data[:limit].decode("utf-8", "replace"), len(data) > limit


def whole_lines(text: str, truncated: bool) -> list[str]:
    """The text's lines, a line cut by the bound dropped."""
    lines = text.split("\n")
    return [line for line in (lines[:-1] if truncated else lines) if line]
