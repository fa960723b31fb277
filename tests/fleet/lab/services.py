"""The lab's services beside the hosts: sshd inside h3's namespace, one libvirt exporter per host, Prometheus."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

from . import hosts, procs
from .layout import (
    HOSTS,
    PROM_DIR,
    PROM_NAME,
    PROMETHEUS,
    SCRAPE_SECONDS,
    SSH_DIR,
    SSH_HOST,
    SSH_PORT,
    SSHD,
    XENTUI_EXPORT,
    exporter_name,
    host,
    link,
    prometheus_url,
)

# --- sshd: key-only root login on 127.0.0.3, in h3's mount namespace so it reaches h3's libvirtd socket ---

SSHD_CONFIG = """\
ListenAddress {address}:{port}
HostKey {dir}/host_ed25519_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
"""

SSH_CONFIG = """\
Host *
  IdentityFile {dir}/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile {dir}/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
  LogLevel ERROR
"""


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        procs.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path), timeout=20)


def write_ssh_files() -> None:
    """Keys, sshd's and the client's config, known_hosts and the ssh wrapper that libvirt's URI names."""
    SSH_DIR.mkdir(parents=True, exist_ok=True)
    SSH_DIR.chmod(0o700)
    _keygen(SSH_DIR / "id_ed25519", "xentui-fleet-lab client")
    _keygen(SSH_DIR / "host_ed25519_key", "xentui-fleet-lab host")
    address = host(SSH_HOST).address
    (SSH_DIR / "sshd_config").write_text(SSHD_CONFIG.format(address=address, port=SSH_PORT, dir=SSH_DIR))
    (SSH_DIR / "ssh_config").write_text(SSH_CONFIG.format(dir=SSH_DIR))
    (SSH_DIR / "authorized_keys").write_text((SSH_DIR / "id_ed25519.pub").read_text())
    key = (SSH_DIR / "host_ed25519_key.pub").read_text().split()[:2]
    (SSH_DIR / "known_hosts").write_text(f"[{address}]:{SSH_PORT} {' '.join(key)}\n")
    wrapper = SSH_DIR / "ssh"
    wrapper.write_text(f'#!/bin/sh\n# ssh with the fleet lab\'s config only\nexec ssh -F {SSH_DIR}/ssh_config "$@"\n')
    wrapper.chmod(0o755)


def sshd_pid() -> int | None:
    return procs.read_pid(SSH_DIR / "sshd.pid", SSHD)


def sshd_answers() -> bool:
    return procs.tcp_banner(host(SSH_HOST).address, SSH_PORT).startswith(b"SSH-")


def start_sshd(timeout: float = 30.0) -> None:
    if sshd_pid() is None:
        write_ssh_files()
        sshd = link(SSHD, "/usr/sbin/sshd")
        hosts.nsenter(host(SSH_HOST), "sh", "-c", f'mkdir -p /run/sshd && exec {sshd} -f "$1" -E "$2"', "sh",
                      str(SSH_DIR / "sshd_config"), str(SSH_DIR / "sshd.log"))
    procs.wait_for(f"sshd on {host(SSH_HOST).address}:{SSH_PORT}", sshd_answers, timeout)


# --- one prometheus-libvirt-exporter per host, reading it over qemu+tcp ---

def exporter_pid(h: hosts.HostSpec) -> int | None:
    return procs.read_pid(PROM_DIR / f"{h.name}-exporter.pid", exporter_name(h))


def start_exporters() -> None:
    PROM_DIR.mkdir(parents=True, exist_ok=True)
    for h in HOSTS:
        if exporter_pid(h) is None:
            exe = link(exporter_name(h), "/usr/bin/prometheus-libvirt-exporter")
            pid = procs.spawn([exe, f"--libvirt.uri={h.uri}", f"--web.listen-address={h.exporter}"],
                              PROM_DIR / f"{h.name}-exporter.log")
            (PROM_DIR / f"{h.name}-exporter.pid").write_text(f"{pid}\n")


# --- Prometheus, scraping every exporter and `xentui export`'s slot ---

def prometheus_config() -> str:
    targets = ", ".join(f'"{h.exporter}"' for h in HOSTS)
    return (f"# the fleet lab's Prometheus (tests/fleet/lab)\n"
            f"global:\n  scrape_interval: {SCRAPE_SECONDS}s\n  scrape_timeout: {SCRAPE_SECONDS}s\n"
            f"  evaluation_interval: {SCRAPE_SECONDS}s\n"
            f"scrape_configs:\n"
            f"  - job_name: libvirt\n    static_configs:\n      - targets: [{targets}]\n"
            f"  - job_name: xentui  # `xentui export --listen {XENTUI_EXPORT}`: up == 0 while none runs\n"
            f"    static_configs:\n      - targets: [\"{XENTUI_EXPORT}\"]\n")


def prometheus_pid() -> int | None:
    return procs.read_pid(PROM_DIR / "prometheus.pid", PROM_NAME)


def query(expr: str, timeout: float = 5.0) -> list[dict] | None:
    """An instant query's result vector, None when Prometheus does not answer."""
    body = procs.http_get(f"{prometheus_url()}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout)
    if body is None:
        return None
    data = json.loads(body)
    return data["data"]["result"] if data.get("status") == "success" else None


def exporters_up() -> bool:
    """Prometheus has scraped every host's exporter successfully (``up == 1``)."""
    result = query('up{job="libvirt"}') or []
    up = {r["metric"]["instance"] for r in result if r["value"][1] == "1"}
    return up >= {h.exporter for h in HOSTS}


def guests_by_instance() -> dict[str, set[str]]:
    """The domains each exporter target reports, per Prometheus (its latest scrape)."""
    found: dict[str, set[str]] = {}
    for r in query("libvirt_domain_info_cpu_time_seconds_total") or []:
        found.setdefault(r["metric"]["instance"], set()).add(r["metric"]["domain"])
    return found


def start_prometheus() -> None:
    data = PROM_DIR / "data"
    data.mkdir(parents=True, exist_ok=True)
    (PROM_DIR / "prometheus.yml").write_text(prometheus_config())
    if prometheus_pid() is None:
        exe = link(PROM_NAME, "/usr/bin/prometheus")
        pid = procs.spawn([exe, f"--config.file={PROM_DIR / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
                           "--storage.tsdb.retention.time=2h", f"--web.listen-address={PROMETHEUS[0]}:{PROMETHEUS[1]}"],
                          PROM_DIR / "prometheus.log")
        (PROM_DIR / "prometheus.pid").write_text(f"{pid}\n")


def wait_prometheus(timeout: float = 60.0) -> None:
    """Until Prometheus has scraped every exporter, and through it every host's guests."""
    procs.wait_for(f"Prometheus ready on {prometheus_url()}",
                   lambda: procs.http_get(f"{prometheus_url()}/-/ready") is not None, timeout, 0.2)
    procs.wait_for("Prometheus: up == 1 for every exporter", exporters_up, timeout, 0.5)

    def all_guests() -> bool:
        found = guests_by_instance()
        return all(found.get(h.exporter, set()) >= set(h.guest_names()) for h in HOSTS)

    procs.wait_for("Prometheus: every host's guests scraped", all_guests, timeout, 0.5)


def stop_services() -> None:
    """End Prometheus and the exporters (sshd goes with h3's namespace)."""
    pids = [prometheus_pid(), *(exporter_pid(h) for h in HOSTS), sshd_pid()]
    procs.terminate([p for p in pids if p is not None])
