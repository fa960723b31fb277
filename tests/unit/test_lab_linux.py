"""xtlab-linux's domain XML and the choice of KVM or TCG (no libvirtd needed)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from xentui import lab_linux


def xml(**kwargs) -> ElementTree.Element:
    disks = lab_linux.LinuxDisks(Path("/i/d.img"), Path("/i/s.img"), Path("/i/c.log"))
    return ElementTree.fromstring(lab_linux.linux_xml("xtlab-linux", Path("/img"), disks, **kwargs))


def test_xml_has_agent_channel_balloon_stats_two_disks_and_a_tap():
    dom = xml(vcpus=3, memory_mib=96, virt_type="qemu")
    assert dom.get("type") == "qemu" and dom.findtext("vcpu") == "3" and dom.findtext("memory") == "96"
    assert dom.findtext("os/kernel") == "/img/vmlinux" and dom.findtext("os/initrd") == "/img/initrd.img"
    assert "xt.host=xtlab-linux" in dom.findtext("os/cmdline", "")
    assert dom.find("devices/channel/target").get("name") == "org.qemu.guest_agent.0"
    assert dom.find("devices/memballoon/stats").get("period") == "2"
    disks = {d.find("target").get("dev"): d for d in dom.findall("devices/disk")}
    assert disks["vda"].find("source").get("file") == "/i/d.img"
    assert disks["vdb"].find("source").get("file") == "/i/s.img" and disks["vdb"].find("iotune") is None
    nic = dom.find("devices/interface")
    assert nic.get("type") == "ethernet" and nic.find("source") is None  # a tap of its own: no bridge, no network
    assert nic.find("mac").get("address") == lab_linux.GUEST_MAC


def test_iops_throttles_only_the_scratch_disk():
    disks = {d.find("target").get("dev"): d for d in xml(iops=50).findall("devices/disk")}
    assert disks["vdb"].findtext("iotune/total_iops_sec") == "50" and disks["vda"].find("iotune") is None


def test_image_dir_is_keyed_by_the_build_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    script = tmp_path / "build.sh"
    script.write_text(lab_linux.BUILD_SCRIPT.read_text())
    monkeypatch.setattr(lab_linux, "BUILD_SCRIPT", script)
    same = lab_linux.image_dir()
    script.write_text(script.read_text() + "# changed\n")
    changed = lab_linux.image_dir()
    monkeypatch.undo()
    assert same == lab_linux.image_dir() != changed  # a new build for a new script, the cached one otherwise
    assert changed.parent == lab_linux.lab.IMAGE_DIR and changed.name.startswith("linux-")


@pytest.mark.parametrize("forced", ["kvm", "qemu"])
def test_virt_type_override(monkeypatch: pytest.MonkeyPatch, forced: str):
    monkeypatch.setenv("XENTUI_LAB_LINUX_VIRT", forced)
    assert lab_linux.virt_type() == forced


class _Dom:
    def __init__(self, dev: str) -> None:
        self.dev = dev

    def name(self) -> str:
        return "xtlab-linux"

    def XMLDesc(self, _flags: int) -> str:
        return f"<domain><devices><interface type='network'><target dev='{self.dev}'/></interface></devices></domain>"


def test_the_tap_name_is_a_plain_interface_name_before_it_goes_into_a_path() -> None:
    from xentui.lab_linux import tap_name

    assert tap_name(_Dom("vnet12")) == "vnet12"
    for bad in ("../../../etc/x", "..", "", "vnet0/../../x", "a" * 16, "vnet0;x", "vnét"):
        with pytest.raises(RuntimeError, match="has no tap device of a plain name"):
            tap_name(_Dom(bad))


def test_the_labs_pid_read_is_bounded(tmp_path, monkeypatch) -> None:
    from xentui import lab

    monkeypatch.setattr(lab, "PID_DIR", tmp_path)
    (tmp_path / "g.pid").write_text("4242\n")
    (tmp_path / "big.pid").write_text("9" * 100_000)
    assert lab.qemu_pid("g") == 4242
    for name in ("big", "gone", "../g"):
        with pytest.raises(RuntimeError, match="no pid of"):
            lab.qemu_pid(name)
