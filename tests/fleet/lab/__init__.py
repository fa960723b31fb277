"""The real multi-host lab: three libvirtds (h2, h3, h4) in namespaces of their own on 127.0.0.2-4, each with
tiny KVM guests, sshd into h3, a libvirt exporter per host and Prometheus scraping them.  Loopback only.

``up()`` is idempotent (a healthy lab is left as it is; anything less is cleaned away and started anew),
``down()`` leaves nothing running, ``health()`` says what runs.  ``scripts/fleet-lab up|down|status`` is the CLI.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import hosts, procs, services
from .layout import (
    EXPORTER_PORT,
    HOSTS,
    LOCK,
    PROMETHEUS,
    SHARED,
    SHARED_IN_HOST,
    SSH_HOST,
    SSH_PORT,
    STATE,
    XENTUI_EXPORT,
    HostSpec,
    host,
    prometheus_url,
    ssh_uri,
)
from .procs import LabError

__all__ = ["FleetLab", "LabError", "LabHost", "down", "health", "up"]


@dataclass(frozen=True)
class LabHost:
    name: str  # "h2"
    hostname: str  # "xtlab-h2": `virsh hostname`
    address: str  # "127.0.0.2"
    uri: str  # "qemu+tcp://127.0.0.2/system"
    host_uuid: str  # its libvirtd's host_uuid (`virsh capabilities`)
    guests: tuple[str, ...]  # running guests, e.g. ("h2-busy", "h2-idle")
    exporter: str  # "127.0.0.2:9177": its prometheus-libvirt-exporter, Prometheus's `instance` label
    spec: HostSpec


@dataclass(frozen=True)
class FleetLab:
    hosts: tuple[LabHost, ...]
    prometheus_url: str  # "http://127.0.0.1:19090"
    ssh_uri: str  # qemu+ssh:// to h3 (its own key, ssh config and known_hosts: ~/.ssh untouched)
    ssh_host: str  # "h3"
    shared_dir: Path  # the image directory, at this same path inside every host
    shared_dir_outside: Path  # the same directory as seen from the root namespace
    xentui_export: str  # "127.0.0.1:9300": the scrape slot (job `xentui`) for `xentui export`
    virt_type: str  # "kvm", or "qemu" (TCG) where /dev/kvm is unusable

    def host(self, name: str) -> LabHost:
        return next(h for h in self.hosts if h.name == name)


def describe(virt_type: str = "kvm") -> FleetLab:
    return FleetLab(
        hosts=tuple(LabHost(h.name, h.hostname, h.address, h.uri, h.host_uuid, h.guest_names(), h.exporter, h)
                    for h in HOSTS),
        prometheus_url=prometheus_url(), ssh_uri=ssh_uri(), ssh_host=SSH_HOST, shared_dir=SHARED_IN_HOST,
        shared_dir_outside=SHARED, xentui_export=XENTUI_EXPORT, virt_type=virt_type)


@contextmanager
def _locked(timeout: float = 300.0) -> Iterator[None]:
    """One `up`/`down` at a time (its own lock: tests hold /tmp/xentui-lab.lock around the whole run)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a") as f:
        procs.wait_for(f"the fleet lab's lock {LOCK}", lambda: _try_lock(f.fileno()), timeout, 0.2)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def health() -> dict[str, str]:
    """Each part of the lab and its state: "ok", or what is wrong."""
    parts: dict[str, str] = {}
    for h in HOSTS:
        if hosts.holder(h) is None:
            parts[h.name] = "down (no namespace)"
        elif not hosts.answers(h):
            parts[h.name] = f"libvirtd not answering on {h.uri}"
        else:
            missing = set(h.guest_names()) - hosts.running_guests(h)
            parts[h.name] = f"guests not running: {', '.join(sorted(missing))}" if missing else "ok"
        exporter = services.exporter_pid(h) and procs.http_get(f"http://{h.exporter}/metrics")
        parts[f"{h.name}-exporter"] = "ok" if exporter else f"not serving on {h.exporter}"
    parts["sshd"] = "ok" if services.sshd_pid() and services.sshd_answers() else "down"
    parts["prometheus"] = ("ok" if services.prometheus_pid() and services.exporters_up()
                           else f"not ready, or an exporter target not up, on {prometheus_url()}")
    return parts


def _virt_type() -> str:
    try:
        return (STATE / "virt_type").read_text().strip() or "kvm"
    except OSError:
        return "kvm"


def up(log=print) -> FleetLab:
    """Bring the whole lab up (a no-op that checks health when it is up already); its description."""
    with _locked():
        began = time.monotonic()
        if all(v == "ok" for v in health().values()):
            log(f"fleet lab: already up and healthy (checked in {time.monotonic() - began:.1f} s)")
            return describe(_virt_type())
        _down(log, quiet=True)
        try:
            virt_type = _start(log)
        except BaseException:
            _down(log, quiet=True)  # half a lab helps nobody: leave nothing behind
            raise
        log(f"fleet lab: up in {time.monotonic() - began:.1f} s ({virt_type})")
        return describe(virt_type)


def _ports_free() -> None:
    """Every address the lab listens on is free (a system exporter on *:9177, say, would take one)."""
    wanted = [(h.address, port) for h in HOSTS for port in (hosts.LIBVIRTD_PORT, EXPORTER_PORT)]
    wanted += [PROMETHEUS, (host(SSH_HOST).address, SSH_PORT)]
    taken = [f"{a}:{p}" for a, p in wanted if procs.tcp_open(a, p, timeout=1)]
    if taken:
        raise LabError(f"another process listens on {', '.join(taken)}: stop it (a system service?) and run up again")


def _start(log) -> str:
    _ports_free()
    STATE.mkdir(parents=True, exist_ok=True)
    hosts.write_images()
    services.start_exporters()  # they reach their libvirtd only when scraped: start them first, and Prometheus
    services.start_prometheus()
    with ThreadPoolExecutor(len(HOSTS)) as pool:  # the hosts boot side by side (each step has its deadline)
        virt_types = list(pool.map(_start_host, HOSTS))
    for h in HOSTS:
        log(f"  {h.name}: {h.hostname} on {h.uri}: {', '.join(h.guest_names())}")
    virt_type = "kvm" if set(virt_types) == {"kvm"} else "qemu"
    (STATE / "virt_type").write_text(virt_type)
    services.start_sshd()
    log(f"  sshd: {ssh_uri()}")
    services.wait_prometheus()
    log(f"  prometheus: {prometheus_url()} (exporters {', '.join(h.exporter for h in HOSTS)}; xentui {XENTUI_EXPORT})")
    return virt_type


def _start_host(h: HostSpec) -> str:
    hosts.start_namespace(h)
    hosts.start_libvirtd(h)
    return hosts.start_guests(h, "kvm")


def down(log=print) -> None:
    """Tear everything down: guests, libvirtds, sshd, exporters, Prometheus, namespaces, state."""
    with _locked():
        _down(log)


def _down(log, quiet: bool = False) -> None:
    services.stop_services()
    with ThreadPoolExecutor(len(HOSTS)) as pool:
        list(pool.map(hosts.stop_host, HOSTS))
    leftovers = lab_processes()
    if leftovers:
        raise LabError(f"fleet lab: still running after down: {leftovers}")
    if STATE.exists():
        shutil.rmtree(STATE)
    if not quiet:
        log("fleet lab: down (nothing of it runs)")


def lab_processes() -> list[str]:
    """"pid name" of every process of the lab still alive (for `down` and its test: it must be empty)."""
    found: dict[int, str] = {}
    for h in HOSTS:
        with contextlib.suppress(OSError):  # the namespace recorded at start, should its holder have died
            recorded = procs.pids_in_ns((h.dir / "ns.id").read_text().strip())
            found |= {pid: f"in {h.name}'s namespace" for pid in recorded}
        found |= {pid: f"in {h.name}'s namespace" for pid in hosts.namespace_pids(h)}
    for p in Path("/proc").iterdir():
        name = procs.comm(int(p.name)) if p.name.isdigit() else None
        if name and name.startswith("xtlab-"):
            found.setdefault(int(p.name), "")
        elif name:  # a guest's qemu, by the shared images only the lab's guests boot from
            with contextlib.suppress(OSError):
                if f"{SHARED_IN_HOST}/".encode() in (p / "cmdline").read_bytes():
                    found.setdefault(int(p.name), "a lab guest")
    return [f"{pid} {procs.comm(pid)} {where}".rstrip() for pid, where in sorted(found.items())]
