"""A host without libvirt (a Xen dom0 with only ``xl``) watched over SSH: ``xentui -b --format json`` runs
there, and its versioned JSON stream becomes this host's samples.  No agent, no protocol of our own.

URI: ``xentui+ssh://[USER@]HOST[:PORT][?connect=URI&command=PATH&keyfile=PATH&known_hosts=PATH&delay=S]``

- ``connect``: the remote xentui's ``-c`` (default: its own choice, libxenstat on a dom0);
- ``command``: the remote xentui (default ``xentui`` on the remote PATH);
- ``keyfile``/``known_hosts``: passed to ssh as ``-i`` and ``UserKnownHostsFile``; ssh's own configuration
  applies otherwise.  ssh runs with ``BatchMode=yes``: it never asks for a password on xentui's terminal.

The remote sends counters; rates are computed here by the one model, over the remote's own intervals.
Read-only: actions over SSH are not offered.
"""

from __future__ import annotations

import shlex
from urllib.parse import parse_qs, urlsplit

from xentui.limits import MAX_NAME
from xentui.model import RawSample
from xentui.sources.base import Source, SourceError
from xentui.sources.ssh_json.decode import FrameError, decode_frame
from xentui.sources.ssh_json.stream import FrameStream, StreamEnded
from xentui.text import one_line

SCHEME = "xentui+ssh"
CONNECT_TIMEOUT_S = 10  # ssh's own: the TCP connection and the key exchange
FIRST_FRAME_S = 20.0  # ssh, the remote xentui's start-up and its first sample
KNOWN = {"connect", "command", "keyfile", "known_hosts", "delay"}


def ssh_argv(uri: str) -> tuple[list[str], float]:
    """The ssh command line for ``uri`` and the remote's delay; SourceError (one line) when the URI is bad."""
    if len(uri) > MAX_NAME:
        raise SourceError(f"a {SCHEME} URI may be at most {MAX_NAME} characters")
    parts = urlsplit(uri)
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - KNOWN)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != SCHEME or not parts.hostname or port == -1 or parts.path not in ("", "/") or unknown:
        what = f"unknown parameter {unknown[0]!r}" if unknown else "not a valid URI"
        raise SourceError(f"{uri!r}: {what}; write {SCHEME}://[USER@]HOST[:PORT][?connect=URI&command=PATH"
                          "&keyfile=PATH&known_hosts=PATH&delay=S]")
    one = {k: v[-1] for k, v in query.items()}
    try:
        delay = float(one.get("delay", "1"))
    except ValueError:
        delay = -1.0
    if not 0.2 <= delay <= 3600:
        raise SourceError(f"{uri!r}: delay must be seconds from 0.2 to 3600, e.g. delay=2")
    remote = [one.get("command") or "xentui", "-b", "--format", "json", "-d", f"{delay:g}"]
    if one.get("connect"):
        remote += ["-c", one["connect"]]
    argv = ["ssh", "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2"]
    if port:
        argv += ["-p", str(port)]
    if one.get("keyfile"):
        argv += ["-i", one["keyfile"], "-o", "IdentitiesOnly=yes"]
    if one.get("known_hosts"):
        argv += ["-o", f"UserKnownHostsFile={one['known_hosts']}"]
    target = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
    return [*argv, "--", target, shlex.join(remote)], delay  # ssh hands the remote shell one string


class SshJsonSource(Source):
    """The newest frame of the remote's JSON stream each tick (frames in between are skipped: the rates
    cover the whole interval, from the remote's own clock)."""

    def __init__(self, uri: str, *, argv: list[str] | None = None, delay: float | None = None) -> None:
        """``argv``/``delay`` replace the ssh command (tests run the stream locally)."""
        made, remote_delay = ssh_argv(uri) if argv is None else ([], 1.0)
        self.uri = uri
        self._argv = argv if argv is not None else made
        self._delay = delay if delay is not None else remote_delay
        self._stream: FrameStream | None = None
        self._seq = 0

    def _open(self) -> FrameStream:
        if self._stream is None:
            try:
                self._stream = FrameStream(self._argv)
            except OSError as err:
                raise SourceError(f"{self.uri}: cannot run {self._argv[0]}: {err.strerror or err}") from None
            self._seq = 0
        return self._stream

    def collect(self) -> RawSample:
        stream = self._open()
        wait = FIRST_FRAME_S if self._seq == 0 else 2 * self._delay + 5
        try:
            self._seq, frame, stamp = stream.next_frame(self._seq, wait)
        except StreamEnded as ended:
            self.close()
            raise SourceError(f"{self.uri}: {one_line(str(ended))}") from None
        except TimeoutError:
            raise SourceError(f"{self.uri}: no frame within {wait:.0f} s") from None
        try:
            return decode_frame(frame, stamp)
        except FrameError as err:
            self.close()
            raise SourceError(f"{self.uri}: {err}") from None

    def reconnect(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
