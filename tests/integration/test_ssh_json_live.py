"""A host watched through a real sshd: ``xentui+ssh://`` runs this xentui on the far side, on the lab's libvirtd.

The sshd is the test's own (port on 127.0.0.1, its own host key, key-only login, torn down afterwards).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.factories import wait_for
from xentui.model import build_snapshot
from xentui.sources import SourceError
from xentui.sources.ssh_json import SshJsonSource

from .conftest import SPINNING_PCT, URI

XENTUI = Path(sys.executable).with_name("xentui")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sshd:
    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        run = lambda *a: subprocess.run(a, check=True, capture_output=True, timeout=60)  # noqa: E731
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key"))
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "client_key"))
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "stranger_key"))
        (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
        (root / "authorized_keys").chmod(0o600)
        pub = (root / "host_key.pub").read_text().split()
        (root / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n")
        (root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\nPidFile {root}/sshd.pid\n"
            f"AuthorizedKeysFile {root}/authorized_keys\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n")
        Path("/run/sshd").mkdir(exist_ok=True)  # its privilege separation directory
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(root / "sshd_config")],
                                     stderr=subprocess.PIPE)
        wait_for(self._listening, "the test's sshd listening")

    def _listening(self) -> bool:
        assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else "sshd ended"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def uri(self, key: str = "client_key", **params: str) -> str:
        query = {"keyfile": str(self.root / key), "known_hosts": str(self.root / "known_hosts"),
                 "command": str(XENTUI), **params}
        return f"xentui+ssh://root@127.0.0.1:{self.port}?" + "&".join(f"{k}={quote(v, safe='/:')}"
                                                                       for k, v in query.items())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> Iterator[Sshd]:
    if not Path("/usr/sbin/sshd").exists():
        pytest.fail("sshd is missing: scripts/install-deps --test installs openssh-server")
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()


def test_a_busy_guest_through_ssh_is_busy_and_every_guest_is_there(sshd, busy_and_idle):
    busy, idle = busy_and_idle
    source = SshJsonSource(sshd.uri(connect=URI))
    try:
        first = source.collect()
        second = source.collect()
    finally:
        source.close()
    shot = build_snapshot(first, second)
    rows = {d.name: d for d in shot.domains}
    assert {busy.name(), idle.name()} <= set(rows)
    assert rows[busy.name()].rates.cpu_pct >= SPINNING_PCT  # jmp $: one vCPU spinning
    assert rows[idle.name()].rates.cpu_pct < 5.0
    assert rows[busy.name()].uuid == busy.UUIDString() and second.host.uri == URI


def test_a_key_the_host_does_not_know_is_one_line(sshd):
    source = SshJsonSource(sshd.uri(key="stranger_key"))
    try:
        with pytest.raises(SourceError) as caught:
            source.collect()
    finally:
        source.close()
    assert "Permission denied (publickey" in str(caught.value) and "\n" not in str(caught.value)
