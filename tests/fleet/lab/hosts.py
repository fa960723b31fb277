"""One lab host: a libvirtd (and its virtlogd) in a mount+UTS namespace of its own, with real tiny KVM guests.

A holder process (``xtlab-hN-ns``, a ``sleep``) keeps the namespace alive, so libvirtd can be killed and
started again inside it while its guests run on.  The namespace has a private tmpfs on /run (the root
namespace's /run/libvirt, the system libvirtd's, is untouched), bind-mounts of the host's own
/var/lib/libvirt, /etc/libvirt, /var/log/libvirt and /var/cache/libvirt, the shared image directory and its
own hostname.  libvirtd listens on TCP at 127.0.0.N without auth (loopback only).
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from xentui import lab as guests_lab

from . import procs
from .layout import LIBVIRT_DIRS, SHARED, HostSpec, link
from .procs import LabError

LIBVIRTD_PORT = 16509
CLEAN_ENV = ("env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root")


def holder(h: HostSpec) -> int | None:
    """The live pid holding the host's namespace."""
    return procs.read_pid(h.holder_pidfile, h.holder_name)


def nsenter(h: HostSpec, *cmd: str, timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` inside the host's namespaces (mount and UTS), with a clean environment."""
    pid = holder(h)
    if pid is None:
        raise LabError(f"{h.name}: its namespace is gone (no live {h.holder_name})")
    return procs.run("nsenter", "-t", str(pid), "-m", "-u", "--", *CLEAN_ENV, *cmd, timeout=timeout, check=check)


def virsh(h: HostSpec, *args: str, timeout: float = 20.0, check: bool = True) -> str:
    """``virsh -c`` the host's TCP URI (from the root namespace, as any client would)."""
    return procs.run("virsh", "-q", "-c", h.uri, *args, timeout=timeout, check=check).stdout


def libvirtd_pid(h: HostSpec) -> int | None:
    pid = holder(h)
    return None if pid is None else procs.read_pid(h.run_file(pid, "libvirtd.pid"), h.daemon("libvirtd"))


def answers(h: HostSpec) -> bool:
    """libvirtd answers on its TCP URI with the host's own hostname."""
    if not procs.tcp_open(h.address, LIBVIRTD_PORT, timeout=2):
        return False
    done = procs.run("virsh", "-q", "-c", h.uri, "hostname", timeout=10, check=False)
    return done.returncode == 0 and done.stdout.strip() == h.hostname


def running_guests(h: HostSpec) -> set[str]:
    return set(virsh(h, "list", "--name", "--state-running").split())


def _write_config(h: HostSpec) -> None:
    for d in LIBVIRT_DIRS:
        (h.dir / d).mkdir(parents=True, exist_ok=True)
    (h.dir / "etc" / "libvirtd.conf").write_text(
        "# the fleet lab's libvirtd (tests/fleet/lab): TCP on loopback only, no auth\n"
        f'listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "{h.address}"\nauth_tcp = "none"\n'
        f'host_uuid = "{h.host_uuid}"\n')
    low = 49152 + 12 * (h.n - 2)  # each host its own migration ports: the hosts share one network namespace
    (h.dir / "etc" / "qemu.conf").write_text(
        "# incoming migrations on the host's own loopback address only (xtlab-hN resolves nowhere)\n"
        f'migration_address = "{h.address}"\nmigration_host = "{h.address}"\n'
        f"migration_port_min = {low}\nmigration_port_max = {low + 11}\n")


def _mount_script(h: HostSpec) -> str:
    lines = ["set -e", "mount -t tmpfs -o mode=0755 xtlab-run /run", "mkdir -p /run/lock"]
    lines += [f"mount --bind {h.dir / d} {p}" for d, p in zip(
        LIBVIRT_DIRS, ("/var/lib/libvirt", "/etc/libvirt", "/var/log/libvirt", "/var/cache/libvirt"), strict=True)]
    lines += [f"mkdir -p {h.images}", f"mount --bind {h.shared} {h.images}", f"hostname {h.hostname}"]
    return "\n".join(lines)


def start_namespace(h: HostSpec) -> int:
    """The holder process of a fresh namespace, set up (mounts, hostname); its pid."""
    _write_config(h)
    sleep = link(h.holder_name, "/usr/bin/sleep", h.root / "bin")
    pid = procs.spawn(["unshare", "-m", "-u", "--propagation", "private", "--", sleep, "infinity"],
                      h.dir / "ns.log")
    procs.wait_for(f"{h.name}: namespace holder", lambda: procs.comm(pid) == h.holder_name, 10)
    ns = procs.uts_ns(pid)
    if ns is None or ns == procs.uts_ns(os.getpid()):
        raise LabError(f"{h.name}: unshare gave no namespaces of its own")
    h.holder_pidfile.write_text(f"{pid}\n")
    (h.dir / "ns.id").write_text(ns)
    procs.run("nsenter", "-t", str(pid), "-m", "-u", "--", "sh", "-c", _mount_script(h), timeout=20)
    return pid


def start_libvirtd(h: HostSpec, timeout: float = 60.0) -> None:
    """Start the host's virtlogd (when absent) and libvirtd in its namespace; returns once it answers on TCP."""
    pid = holder(h)
    if pid is None:
        raise LabError(f"{h.name}: no namespace to start libvirtd in")
    if procs.read_pid(h.run_file(pid, "virtlogd.pid"), h.daemon("virtlogd")) is None:
        nsenter(h, link(h.daemon("virtlogd"), "/usr/sbin/virtlogd", h.root / "bin"), "-d")
    if libvirtd_pid(h) is None:
        nsenter(h, link(h.daemon("libvirtd"), "/usr/sbin/libvirtd", h.root / "bin"), "-d", "--listen", timeout=timeout)
    procs.wait_for(f"{h.name}: libvirtd answering on {h.uri}", lambda: answers(h), timeout, interval=0.2)


def kill_libvirtd(h: HostSpec, timeout: float = 15.0) -> None:
    """End the host's libvirtd (its guests run on); returns once it is gone."""
    pid = libvirtd_pid(h)
    if pid is not None:
        procs.terminate([pid], timeout)


def write_images(shared: Path = SHARED) -> None:
    for kind in guests_lab.BOOT_CODE:
        path = shared / f"{kind}.img"
        data = guests_lab.boot_sector_image(kind)
        if not path.exists() or path.read_bytes() != data:
            shared.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


# The hosts share one network namespace, where each libvirtd names its guests' taps vnetN by the first free N:
# two creating guests at once could pick the same N.  (Taps die with their qemu: nothing to clean after.)
_CREATING = threading.Lock()


def start_guests(h: HostSpec, virt_type: str) -> str:
    """Boot the host's missing guests; the virt type that worked (``kvm``, else ``qemu``: TCG)."""
    running = running_guests(h)
    for name, kind, vcpus in h.guest_list():
        if name in running:
            continue
        for vt in (virt_type, "qemu") if virt_type == "kvm" else (virt_type,):
            xml = h.dir / f"{name}.xml"
            xml.write_text(guests_lab.guest_xml(name, kind, vcpus=vcpus, virt_type=vt,
                                                image=h.images / f"{kind}.img"))
            with _CREATING:
                done = procs.run("virsh", "-c", h.uri, "create", str(xml), timeout=60, check=False)
            if done.returncode == 0:
                virt_type = vt
                break
            if "kvm" not in done.stderr.lower():  # only KVM's own refusal makes TCG worth a try
                raise LabError(f"{h.name}: cannot start {name} on {h.uri}: {done.stderr.strip()[:300]}")
        else:
            raise LabError(f"{h.name}: cannot start {name} on {h.uri}: {done.stderr.strip()[:300]}")
    procs.wait_for(f"{h.name}: guests {', '.join(h.guest_names())} running",
                   lambda: running_guests(h) >= set(h.guest_names()), 60, interval=0.2)
    return virt_type


def stop_host(h: HostSpec) -> None:
    """Destroy the host's guests and end every process of its namespace, qemu included (after a crash too: by
    the namespace recorded at start, checked to be ours by its mounts)."""
    if answers(h):
        for name in running_guests(h):
            virsh(h, "destroy", name, check=False)
    pid = holder(h)
    try:
        ns = procs.uts_ns(pid) if pid else (h.dir / "ns.id").read_text().strip()
    except OSError:
        ns = None
    if ns and ns != procs.uts_ns(os.getpid()):
        members = procs.pids_in_ns(ns)
        if any(_is_ours(m, h) for m in members):
            procs.terminate(members)


def _is_ours(pid: int, h: HostSpec) -> bool:
    """The process sees the host's own /etc/libvirt (a recycled namespace id is not enough to kill by)."""
    try:
        return str(h.dir / "etc") in Path(f"/proc/{pid}/mountinfo").read_text()
    except OSError:
        return False


def namespace_pids(h: HostSpec) -> list[int]:
    """Live processes of the host's namespace (none when it is down)."""
    pid = holder(h)
    ns = procs.uts_ns(pid) if pid else None
    return procs.pids_in_ns(ns) if ns else []
