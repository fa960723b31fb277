"""What the fleet lab is made of, and where each part keeps its state (all under one directory)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

STATE = Path(os.environ.get("XENTUI_FLEET_LAB_DIR", "/var/lib/xentui-fleet-lab"))
BIN = STATE / "bin"  # symlinks giving the lab's daemons names of their own (see procs)
SHARED = STATE / "shared"  # the image directory every host sees at SHARED_IN_HOST (migration needs one path)
SHARED_IN_HOST = Path("/var/lib/libvirt/images/fleet")
SSH_DIR = STATE / "ssh"
PROM_DIR = STATE / "prometheus"
LOCK = STATE.parent / f".{STATE.name}.lock"  # outside STATE: `down` removes STATE

LIBVIRT_DIRS = ("lib", "etc", "log", "cache")  # /var/lib/libvirt, /etc/libvirt, /var/log/libvirt, /var/cache/libvirt
EXPORTER_PORT = 9177
PROMETHEUS = ("127.0.0.1", 19090)  # not 9090: a developer's own Prometheus may hold that
XENTUI_EXPORT = "127.0.0.1:9300"  # `xentui export`'s slot in the scrape config (job `xentui`)
SSH_HOST, SSH_PORT = "h3", 2222  # sshd inside h3's namespace; 2222: a system sshd on *:22 would block 22
SCRAPE_SECONDS = 2


@dataclass(frozen=True)
class HostSpec:
    name: str  # h2
    n: int  # its address is 127.0.0.n
    guests: tuple[tuple[str, int], ...]  # (xentui.lab kind, vCPUs); a kind repeated: h2-idle, h2-idle2, ...
    root: Path = STATE  # where its state (and its daemons' named links) live
    prefix: str = "xtlab"  # its processes' and hostname's prefix (bench hosts have their own: never the lab's)
    images: Path = SHARED_IN_HOST  # the image directory inside the host

    @property
    def hostname(self) -> str:
        return f"{self.prefix}-{self.name}"

    @property
    def shared(self) -> Path:
        """The image directory seen from the root namespace."""
        return self.root / "shared"

    def daemon(self, what: str) -> str:
        """The name the host's ``what`` (libvirtd, virtlogd) runs under."""
        return f"{self.prefix}-{what}"

    @property
    def address(self) -> str:
        return f"127.0.0.{self.n}"

    @property
    def uri(self) -> str:
        return f"qemu+tcp://{self.address}/system"

    @property
    def host_uuid(self) -> str:
        """Distinct per host and stable across runs."""
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{self.hostname}.fleet-lab.xentui"))

    @property
    def exporter(self) -> str:
        return f"{self.address}:{EXPORTER_PORT}"

    def guest_list(self) -> tuple[tuple[str, str, int], ...]:
        """(name, kind, vCPUs) of each guest: ``h2-busy``; a kind's second guest ``h2-busy2``."""
        seen: dict[str, int] = {}
        out = []
        for kind, vcpus in self.guests:
            seen[kind] = seen.get(kind, 0) + 1
            out.append((f"{self.name}-{kind}" + (str(seen[kind]) if seen[kind] > 1 else ""), kind, vcpus))
        return tuple(out)

    def guest_names(self) -> tuple[str, ...]:
        return tuple(name for name, _kind, _vcpus in self.guest_list())

    @property
    def dir(self) -> Path:
        return self.root / self.name

    @property
    def holder_pidfile(self) -> Path:
        return self.dir / "ns.pid"

    @property
    def holder_name(self) -> str:
        return f"{self.prefix}-{self.name}-ns"

    def run_file(self, holder: int, name: str) -> Path:
        """A file of the host's private /run, seen from outside through its holder process."""
        return Path(f"/proc/{holder}/root/run/{name}")


HOSTS = (
    HostSpec("h2", 2, (("busy", 1), ("idle", 2))),
    HostSpec("h3", 3, (("half", 1), ("idle", 1))),
    HostSpec("h4", 4, (("idle", 1),)),
)

LIBVIRTD, VIRTLOGD, SSHD = "xtlab-libvirtd", "xtlab-virtlogd", "xtlab-sshd"
PROM_NAME = "xtlab-prom"


def link(name: str, target: str, bin_dir: Path = BIN) -> str:
    """bin_dir/name, a symlink to ``target``: exec'd through it, the process is called ``name``."""
    path = bin_dir / name
    if not path.is_symlink() or os.readlink(path) != target:
        bin_dir.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.symlink_to(target)
    return str(path)


def exporter_name(host: HostSpec) -> str:
    return f"xtlab-{host.name}-exp"


def host(name: str) -> HostSpec:
    for h in HOSTS:
        if h.name == name:
            return h
    raise KeyError(f"no lab host {name!r}; there are {', '.join(h.name for h in HOSTS)}")


def ssh_uri() -> str:
    """qemu+ssh to SSH_HOST with the lab's own key, ssh config and known_hosts (the user's ~/.ssh is untouched)."""
    return (f"qemu+ssh://root@{host(SSH_HOST).address}:{SSH_PORT}/system"
            f"?keyfile={SSH_DIR / 'id_ed25519'}&command={SSH_DIR / 'ssh'}")


def prometheus_url() -> str:
    return f"http://{PROMETHEUS[0]}:{PROMETHEUS[1]}"
