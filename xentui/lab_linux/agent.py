"""Steering the lab's Linux guest through its agent: run a command, read a file, make disk, network, memory and
CPU load. Every call has a deadline (libvirt_qemu's ``qemuAgentCommand`` timeout, and our own polling)."""

from __future__ import annotations

import base64
import json
import shlex
import socket
import time
from dataclasses import dataclass
from typing import Any

import libvirt
import libvirt_qemu

from xentui.lab_linux import GUEST_MAC, PEER_IP, PEER_MAC, tap_name


class AgentError(RuntimeError):
    """The agent did not answer, or refused the command."""


def command(dom: libvirt.virDomain, execute: str, timeout: int = 5, **arguments: Any) -> Any:
    """One agent command's ``return`` value."""
    request: dict[str, Any] = {"execute": execute}
    if arguments:
        request["arguments"] = arguments
    try:
        reply = libvirt_qemu.qemuAgentCommand(dom, json.dumps(request), max(1, int(timeout)), 0)
    except libvirt.libvirtError as err:
        raise AgentError(f"{execute}: {err.get_error_message()}") from None
    return json.loads(reply).get("return")


def wait_booted(dom: libvirt.virDomain, timeout: float = 60.0) -> float:
    """Seconds until the guest agent answers ``guest-ping``."""
    start = time.monotonic()
    while True:
        try:
            command(dom, "guest-ping", timeout=2)
            return time.monotonic() - start
        except AgentError as err:
            if time.monotonic() - start > timeout:
                raise AgentError(f"{dom.name()}'s agent did not answer within {timeout:.0f} s: {err}") from None
            time.sleep(0.1)


@dataclass(frozen=True)
class Result:
    exitcode: int
    out: str
    err: str


def start(dom: libvirt.virDomain, argv: list[str], stdin: bytes | None = None) -> int:
    """Start ``argv`` in the guest (its output captured); its pid for ``wait``."""
    args: dict[str, Any] = {"path": argv[0], "arg": argv[1:], "capture-output": True}
    if stdin is not None:
        args["input-data"] = base64.b64encode(stdin).decode()
    return int(command(dom, "guest-exec", **args)["pid"])


def wait(dom: libvirt.virDomain, pid: int, timeout: float = 30.0) -> Result:
    """Wait for a ``start``ed command to end; AgentError past ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        status = command(dom, "guest-exec-status", pid=pid)
        if status.get("exited"):
            out, err = (base64.b64decode(status.get(k, "")).decode(errors="replace") for k in ("out-data", "err-data"))
            return Result(int(status.get("exitcode", -1)), out, err)
        if time.monotonic() > deadline:
            raise AgentError(f"guest command {pid} still running after {timeout:.0f} s")
        time.sleep(0.05)


def run(dom: libvirt.virDomain, argv: list[str], timeout: float = 30.0, stdin: bytes | None = None) -> Result:
    """Run ``argv`` in the guest and return its exit code and output."""
    return wait(dom, start(dom, argv, stdin), timeout)


def sh(dom: libvirt.virDomain, script: str, timeout: float = 30.0) -> Result:
    """Run a busybox shell script in the guest."""
    return run(dom, ["/bin/sh", "-c", script], timeout)


def check(dom: libvirt.virDomain, script: str, timeout: float = 30.0) -> str:
    """A script's output; AgentError when it fails."""
    res = sh(dom, script, timeout)
    if res.exitcode:
        raise AgentError(f"guest script failed ({res.exitcode}): {script!r}: {res.err.strip()[-300:]}")
    return res.out


def read_file(dom: libvirt.virDomain, path: str, timeout: float = 10.0) -> str:
    """A guest file's text (e.g. /proc/meminfo), read with guest-file-open/read/close."""
    handle = command(dom, "guest-file-open", path=path, mode="r")
    try:
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            part = command(dom, "guest-file-read", handle=handle, count=1 << 20)
            chunks.append(base64.b64decode(part.get("buf-b64", "")))
            if part.get("eof") or not part.get("count"):
                return b"".join(chunks).decode(errors="replace")
        raise AgentError(f"reading {path} took over {timeout:.0f} s")
    finally:
        command(dom, "guest-file-close", handle=handle)


# --- workloads -------------------------------------------------------------------------------------------------

def disk_write(dom: libvirt.virDomain, mib: int, dev: str = "/dev/vdb", timeout: float = 60.0) -> Result:
    """Write ``mib`` MiB to the scratch disk, bypassing the guest's cache."""
    return sh(dom, f"dd if=/dev/zero of={dev} bs=64k count={mib * 16} oflag=direct", timeout)


def disk_read(dom: libvirt.virDomain, mib: int, dev: str = "/dev/vdb", timeout: float = 60.0) -> Result:
    """Read ``mib`` MiB from the scratch disk, bypassing the guest's cache."""
    return sh(dom, f"dd if={dev} of=/dev/null bs=64k count={mib * 16} iflag=direct", timeout)


def net_send(dom: libvirt.virDomain, packets: int, size: int = 1400, timeout: float = 60.0) -> Result:
    """Send ``packets`` ICMP echo requests of ``size`` bytes (IP) from the guest to PEER_IP, 500 a second: they end
    at the host's tap (no reply comes)."""
    return sh(dom, f"ping -q -c {packets} -s {size - 28} -i 0.002 -W 1 {PEER_IP} >/dev/null; true", timeout)


def net_receive(dom: libvirt.virDomain, frames: int, size: int = 1400) -> int:
    """Inject ``frames`` Ethernet frames into the guest through its tap (AF_PACKET, local experimental ethertype
    0x88b5: nothing in the guest answers); the bytes sent."""
    header = bytes.fromhex(GUEST_MAC.replace(":", "")) + bytes.fromhex(PEER_MAC.replace(":", "")) + b"\x88\xb5"
    frame = header + bytes(max(46, size - len(header)))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.settimeout(5.0)
        s.bind((tap_name(dom), 0))
        for _ in range(frames):
            s.send(frame)
    return frames * len(frame)


def memory_fill(dom: libvirt.virDomain, mib: int, path: str = "/dev/shm/fill", timeout: float = 60.0) -> Result:
    """Hold ``mib`` MiB of guest memory in a tmpfs file (``memory_free`` gives it back)."""
    return sh(dom, f"dd if=/dev/zero of={shlex.quote(path)} bs=1M count={mib}", timeout)


def memory_free(dom: libvirt.virDomain, path: str = "/dev/shm/fill") -> Result:
    return sh(dom, f"rm -f {shlex.quote(path)}")


def busy(dom: libvirt.virDomain, loops: int, seconds: int) -> Result:
    """Spin ``loops`` shell loops (one per vCPU) for ``seconds``, in the background: returns at once."""
    script = f"for i in $(seq {loops}); do timeout {seconds} sh -c 'while :; do :; done' & done"
    return sh(dom, script)


def meminfo(dom: libvirt.virDomain) -> dict[str, int]:
    """The guest's /proc/meminfo, in KiB."""
    out = {}
    for line in read_file(dom, "/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        if rest.split():
            out[key] = int(rest.split()[0])
    return out


def diskstats(dom: libvirt.virDomain, dev: str = "vdb") -> tuple[int, int]:
    """Bytes read and written by a guest disk since boot (/proc/diskstats' sectors are 512 bytes)."""
    for line in read_file(dom, "/proc/diskstats").splitlines():
        f = line.split()
        if len(f) > 9 and f[2] == dev:
            return int(f[5]) * 512, int(f[9]) * 512
    raise AgentError(f"no {dev} in the guest's /proc/diskstats")


def netdev(dom: libvirt.virDomain, dev: str = "eth0") -> tuple[int, int]:
    """Bytes received and sent by a guest interface since boot (/proc/net/dev)."""
    for line in read_file(dom, "/proc/net/dev").splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == dev:
            f = rest.split()
            return int(f[0]), int(f[8])
    raise AgentError(f"no {dev} in the guest's /proc/net/dev")
