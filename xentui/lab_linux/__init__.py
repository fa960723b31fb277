"""The lab's real Linux guest, ``xtlab-linux``: Debian's stock kernel, an initramfs with busybox and qemu-ga.

Built once by ``build.sh`` (Debian packages only) into ``IMAGE_DIR/linux-<hash of build.sh>``, then booted
straight from its kernel (no bootloader): a guest-agent channel, a virtio balloon reporting every 2 s, a small
ext4 data disk (vda, mounted on /data), a raw scratch disk for I/O (vdb, optionally throttled with
``<iotune>``) and a virtio NIC on an unmanaged tap with no host address: the guest's frames end at the tap and
are never routed (it is 192.0.2.2/24, TEST-NET-1, with a static neighbour 192.0.2.1 whose MAC is no host's).
Transient like the other lab guests; its disks are fresh copies for each boot. KVM or TCG: ``virt_type``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import libvirt

from xentui import lab

BUILD_SCRIPT = Path(__file__).with_name("build.sh")
NAME = lab.LAB_PREFIX + "linux"
GUEST_IP, PEER_IP = "192.0.2.2", "192.0.2.1"  # TEST-NET-1: routed nowhere
GUEST_MAC, PEER_MAC = "52:54:00:78:74:02", "02:78:74:00:00:01"  # the peer's MAC is no host interface's
SCRATCH_BYTES = 64 << 20
IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")  # a Linux interface name (IFNAMSIZ - 1)
BUILD_TIMEOUT = 900.0


def image_dir() -> Path:
    """Where the build for this build.sh lives (or will)."""
    digest = hashlib.sha256(BUILD_SCRIPT.read_bytes()).hexdigest()[:12]
    return lab.IMAGE_DIR / f"linux-{digest}"


def ensure_image(timeout: float = BUILD_TIMEOUT) -> Path:
    """The built image's directory, building it first when absent (about 30 s with a near mirror)."""
    dest = image_dir()
    if not dest.is_dir():
        try:
            done = subprocess.run(["bash", str(BUILD_SCRIPT), str(dest)], capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"building the Linux guest took over {timeout:.0f} s (see {dest}.tmp/build.log)") \
                from None
        if done.returncode or not dest.is_dir():
            last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"building the Linux guest failed: {last[0]} (log: {dest}.tmp/build.log)")
    return dest


@dataclass(frozen=True)
class LinuxDisks:
    """One boot's files: the data disk's copy, the scratch disk and the serial console's log."""

    data: Path
    scratch: Path
    console: Path


def disks_of(name: str) -> LinuxDisks:
    run = lab.IMAGE_DIR / "run"
    return LinuxDisks(run / f"{name}-data.img", run / f"{name}-scratch.img", run / f"{name}.console")


def remove_disks(name: str) -> None:
    """Delete a destroyed guest's disk copies and console log."""
    for path in (disks_of(name).data, disks_of(name).scratch, disks_of(name).console):
        path.unlink(missing_ok=True)


def prepare_disks(name: str, image: Path) -> LinuxDisks:
    disks = disks_of(name)
    disks.data.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image / "data.img", disks.data)
    with open(disks.scratch, "wb") as f:
        f.truncate(SCRATCH_BYTES)
    disks.console.unlink(missing_ok=True)
    return disks


def linux_xml(name: str, image: Path, disks: LinuxDisks, *, vcpus: int = 1, memory_mib: int = 128,
              iops: int | None = None, virt_type: str = "kvm") -> str:
    """The guest's XML; ``iops`` throttles the scratch disk (``<iotune><total_iops_sec>``)."""
    iotune = f"<iotune><total_iops_sec>{iops}</total_iops_sec></iotune>" if iops else ""
    cmdline = (f"console=ttyS0 loglevel=4 ipv6.disable=1 xt.host={name} xt.ip={GUEST_IP}/24 "
               f"xt.peer={PEER_IP} xt.peermac={PEER_MAC}")
    return f"""<domain type='{virt_type}'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>{vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{image / "vmlinux"}</kernel>
    <initrd>{image / "initrd.img"}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='{disks.data}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='none' io='native'/>
      <source file='{disks.scratch}'/>
      <target dev='vdb' bus='virtio'/>{iotune}
    </disk>
    <interface type='ethernet'>
      <mac address='{GUEST_MAC}'/>
      <model type='virtio'/>
    </interface>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='virtio'><stats period='2'/></memballoon>
    <serial type='file'><source path='{disks.console}'/><target port='0'/></serial>
  </devices>
</domain>"""


def virt_type() -> str:
    """KVM where the CPU shows hardware virtualization (vmx/svm), else QEMU's TCG (``XENTUI_LAB_LINUX_VIRT``
    overrides). Where a host hides it (nested under another hypervisor, as the CI machine is), KVM runs the tiny
    real-mode guests well but a paging kernel crawls: Debian's decompressor wrote ~20 KB/s there."""
    forced = os.environ.get("XENTUI_LAB_LINUX_VIRT", "")
    if forced in ("kvm", "qemu"):
        return forced
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return "kvm" if lab._kvm_device_ready() and {"vmx", "svm"} & set(flags.split()) else "qemu"


def start_linux_guest(conn: libvirt.virConnect, name: str = NAME, *, vcpus: int = 1, memory_mib: int = 128,
                      iops: int | None = None) -> libvirt.virDomain:
    """Boot the Linux guest, transient (building its image first when needed); ``agent.wait_booted`` waits for
    its agent. ``iops`` throttles the scratch disk vdb."""
    image = ensure_image()
    disks = prepare_disks(name, image)
    xml = linux_xml(name, image, disks, vcpus=vcpus, memory_mib=memory_mib, iops=iops, virt_type=virt_type())
    dom = conn.createXML(xml, 0)
    quiet_tap(dom)
    return dom


def tap_name(dom: libvirt.virDomain) -> str:
    """The host side of the guest's NIC (libvirt names it: vnetN)."""
    target = ElementTree.fromstring(dom.XMLDesc(0)).find("devices/interface/target")
    dev = target.get("dev", "") if target is not None else ""
    if not IFNAME.fullmatch(dev) or dev in (".", ".."):  # a path part below: a plain interface name only
        raise RuntimeError(f"{dom.name()} has no tap device of a plain name (got {dev[:40]!r})")
    return dev


def quiet_tap(dom: libvirt.virDomain) -> None:
    """No IPv6 on the tap: the host sends nothing of its own (router or neighbour solicitations) to the guest."""
    with contextlib.suppress(OSError, RuntimeError):
        Path(f"/proc/sys/net/ipv6/conf/{tap_name(dom)}/disable_ipv6").write_text("1\n")

