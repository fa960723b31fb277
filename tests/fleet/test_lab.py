"""The fleet lab itself: separate hosts with their own guests, names and UUIDs, over TCP and SSH; Prometheus
sees each host's guests under that host's instance; a host's libvirtd restarts alone; `up` repairs a crashed
lab and `down` leaves nothing.  (Run under `flock /tmp/xentui-lab.lock`.)"""

from __future__ import annotations

import os
import re
import signal
import socket
from pathlib import Path

import pytest

from tests.fleet import lab
from tests.fleet.lab import hosts, procs, services
from tests.fleet.lab.layout import PROMETHEUS, SSH_PORT, STATE


def virsh(uri: str, *args: str) -> str:
    return procs.run("virsh", "-q", "-c", uri, *args, timeout=30).stdout


def host_uuid(uri: str) -> str:
    caps = virsh(uri, "capabilities")
    found = re.search(r"<host>\s*<uuid>([0-9a-f-]+)</uuid>", caps)
    assert found, f"no host uuid in the capabilities of {uri}"
    return found.group(1)


def test_each_host_has_its_own_guests_name_and_uuid(fleet_lab: lab.FleetLab) -> None:
    uuids = set()
    for h in fleet_lab.hosts:
        running = set(virsh(h.uri, "list", "--name").split())
        assert set(h.guests) <= running, f"{h.name}: {running}"
        others = {g for o in fleet_lab.hosts if o is not h for g in o.guests}
        assert not running & others, f"{h.name} runs another host's guests: {running & others}"
        assert virsh(h.uri, "hostname").strip() == h.hostname
        assert host_uuid(h.uri) == h.host_uuid
        uuids.add(h.host_uuid)
    assert len(uuids) == len(fleet_lab.hosts) >= 3


def test_the_system_libvirtd_is_not_the_lab(fleet_lab: lab.FleetLab) -> None:
    """The single-host lab's `pgrep -x libvirtd` never sees the fleet's daemons, nor its /run/libvirt theirs."""
    ours = {pid for h in fleet_lab.hosts for pid in hosts.namespace_pids(h.spec)}
    assert ours, "no process in the lab's namespaces"
    assert all(procs.comm(pid) != "libvirtd" for pid in ours)
    assert os.readlink("/proc/self/ns/uts") != os.readlink(f"/proc/{hosts.holder(fleet_lab.hosts[0].spec)}/ns/uts")
    assert not any(Path("/run/libvirt/qemu").glob("h[0-9]-*.pid"))


def test_ssh_reaches_h3_and_leaves_home_alone(fleet_lab: lab.FleetLab) -> None:
    dot_ssh = Path.home() / ".ssh"
    before = sorted(p.name for p in dot_ssh.iterdir()) if dot_ssh.exists() else None
    h3 = fleet_lab.host(fleet_lab.ssh_host)
    assert fleet_lab.ssh_uri.startswith(f"qemu+ssh://root@{h3.address}:{SSH_PORT}/")
    assert virsh(fleet_lab.ssh_uri, "hostname").strip() == h3.hostname
    assert set(virsh(fleet_lab.ssh_uri, "list", "--name").split()) >= set(h3.guests)
    assert host_uuid(fleet_lab.ssh_uri) == h3.host_uuid
    after = sorted(p.name for p in dot_ssh.iterdir()) if dot_ssh.exists() else None
    assert after == before


def test_ssh_refuses_other_keys(fleet_lab: lab.FleetLab, tmp_path: Path) -> None:
    key = tmp_path / "stranger"
    procs.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    h3 = fleet_lab.host(fleet_lab.ssh_host)
    done = procs.run("ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(key),
                     "-o", f"UserKnownHostsFile={STATE / 'ssh' / 'known_hosts'}", "-p", str(SSH_PORT),
                     f"root@{h3.address}", "true", check=False)
    assert done.returncode == 255 and "Permission denied" in done.stderr


def test_prometheus_has_each_hosts_guests_under_its_instance(fleet_lab: lab.FleetLab) -> None:
    assert fleet_lab.prometheus_url == f"http://{PROMETHEUS[0]}:{PROMETHEUS[1]}"
    up = {r["metric"]["instance"]: r["value"][1] for r in services.query('up{job="libvirt"}') or []}
    assert up == {h.exporter: "1" for h in fleet_lab.hosts}
    assert [r["metric"]["instance"] for r in services.query('up{job="xentui"}') or []] == [fleet_lab.xentui_export]
    found = services.guests_by_instance()
    for h in fleet_lab.hosts:
        assert found[h.exporter] >= set(h.guests), f"{h.name}: {found}"
        others = {g for o in fleet_lab.hosts if o is not h for g in o.guests}
        assert not found[h.exporter] & others


def test_busy_and_idle_guests_differ_in_prometheus(fleet_lab: lab.FleetLab) -> None:
    """The guests run their boot code: h2-busy burns CPU, h2-idle (nearly) none, over the same window.  Just
    after `up` both may still be in the BIOS, and a loaded host gives the spinner a small share: wait for it."""
    expr = 'rate(libvirt_domain_info_cpu_time_seconds_total{domain=~"h2-busy|h2-idle"}[8s])'

    def apart() -> dict[str, float] | None:
        got = {r["metric"]["domain"]: float(r["value"][1]) for r in services.query(expr) or []}
        return got if len(got) == 2 and got["h2-busy"] > max(0.05, 4 * got["h2-idle"]) else None

    got = procs.wait_for("h2-busy's CPU rate in Prometheus well above h2-idle's", apart, 120, 1.0)
    assert got["h2-idle"] < 0.5 * got["h2-busy"]


def test_one_hosts_libvirtd_restarts_alone(fleet_lab: lab.FleetLab) -> None:
    h4, others = fleet_lab.host("h4"), [h for h in fleet_lab.hosts if h.name != "h4"]
    holder = hosts.holder(h4.spec)
    assert holder
    qemu = int(h4.spec.run_file(holder, "libvirt/qemu/h4-idle.pid").read_text())
    hosts.kill_libvirtd(h4.spec)
    try:
        assert not hosts.answers(h4.spec)
        assert all(hosts.answers(h.spec) for h in others)
        assert procs.comm(qemu), "h4's guest died with its libvirtd"
    finally:
        hosts.start_libvirtd(h4.spec)
    assert hosts.running_guests(h4.spec) >= set(h4.guests)


def test_a_guest_live_migrates_between_hosts_and_back(fleet_lab: lab.FleetLab) -> None:
    """The shared image directory, distinct host UUIDs and per-host migration addresses make it possible."""
    h4, h2 = fleet_lab.host("h4"), fleet_lab.host("h2")
    guest = h4.guests[0]
    procs.run("virsh", "-c", h4.uri, "migrate", "--live", guest, h2.uri, timeout=120)
    try:
        assert guest in hosts.running_guests(h2.spec)
        assert guest not in hosts.running_guests(h4.spec)
    finally:
        procs.run("virsh", "-c", h2.uri, "migrate", "--live", guest, h4.uri, timeout=120)
    assert guest in hosts.running_guests(h4.spec)
    assert guest not in hosts.running_guests(h2.spec)


def test_up_repairs_a_crash_and_down_leaves_nothing(fleet_lab: lab.FleetLab) -> None:
    """Last in this file: it ends the lab (twice) and brings it up again for whoever comes next."""
    crashed = [hosts.libvirtd_pid(fleet_lab.host("h3").spec), services.prometheus_pid()]
    for pid in crashed:
        assert pid
        os.kill(pid, signal.SIGKILL)
    procs.wait_for("the killed daemons gone", lambda: not any(procs.comm(p) for p in crashed), 10)
    assert lab.health()["h3"] != "ok"
    lab.up(log=lambda line: None)
    assert set(lab.health().values()) == {"ok"}

    lab.down(log=lambda line: None)
    try:
        assert lab.lab_processes() == []
        listening = [(h.address, port) for h in fleet_lab.hosts for port in (hosts.LIBVIRTD_PORT, 9177)]
        listening += [PROMETHEUS, (fleet_lab.host(fleet_lab.ssh_host).address, SSH_PORT)]
        assert [a for a in listening if procs.tcp_open(*a, timeout=1)] == []
        assert not STATE.exists()
        h4 = fleet_lab.host("h4")
        with socket.create_server((h4.address, 9177)), pytest.raises(lab.LabError) as taken:
            lab.up(log=lambda line: None)  # someone else's exporter on h4's address: one line, nothing started
        assert str(taken.value) == (f"another process listens on {h4.exporter}: stop it (a system service?) "
                                    "and run up again")
        assert lab.lab_processes() == []
    finally:
        lab.up(log=lambda line: None)

