"""A lab of real guests (tiny ones, and a Linux one) under the local libvirtd, for trying and testing xentui.

Each guest is 32 MiB with a 1 MiB read-only virtio disk whose boot sector sets its
load (a disk, not a floppy: SeaBIOS's floppy timeouts fail when several guests boot
at once on a busy host, leaving them halted in the BIOS):

- ``busy``: ``jmp $`` spins one vCPU at 100 %;
- ``idle``: ``sti; hlt`` loop, wakes only for timer interrupts (about 0 %);
- ``half``: spins for one BIOS timer tick (55 ms), halts for the next (about 50 %);
- ``polite``: idle, and powers off when the ACPI power button is pressed (shutdown, reboot);
- ``io``: reads its boot sector from the virtio disk again and again through the BIOS (SeaBIOS's virtio-blk
  driver), so QEMU's emulator and I/O threads work for it (OVH(%) above 0).

``xentui lab up`` also boots ``xtlab-linux``, a real Debian guest with a guest agent (``xentui.lab_linux``).
Guests are transient (``createXML``): destroying one leaves nothing behind.
KVM is used when qemu can open /dev/kvm, else QEMU's TCG emulation.
"""

from __future__ import annotations

import argparse
import grp
import os
import shutil
import subprocess
import time
from pathlib import Path

import libvirt

from xentui.cli import UsageParser
from xentui.sources.libvirt import errors as _silenced  # noqa: F401  libvirt never prints to stderr

URI = "qemu:///system"
IMAGE_DIR = Path("/var/lib/libvirt/images/xentui-lab")
PID_DIR = Path("/run/libvirt/qemu")
LAB_PREFIX = "xtlab-"  # short: xentop cuts names at 10 characters
DISK_BYTES = 1 << 20

BOOT_CODE = {
    "busy": bytes.fromhex("ebfe"),  # jmp $
    "idle": bytes.fromhex("fbf4ebfd"),  # sti; hlt; jmp short -3 (to hlt)
    # sti; xor ax,ax; mov ds,ax; busy: mov ax,[0x46c]; spin: cmp ax,[0x46c]; je spin; hlt; jmp busy
    "half": bytes.fromhex("fb31c08ed8a16c043b066c0474faf4ebf4"),
    # An idle guest that obeys the ACPI power button (shutdown, and libvirt's reboot): sti; enable PWRBTN
    # (out 0x602, 0x100); loop: hlt; in ax, 0x600 (PM1a_STS: QEMU's piix4-pm at 0x600, with <acpi/>); test ax, 0x100;
    # jz loop; out 0x604, 0x2000 (SLP_EN with SLP_TYP 0: QEMU's soft power off); jmp loop
    "polite": bytes.fromhex("fbba0206b80001eff4ba0006eda9000174f6ba0406b80020efebed"),
    # xor ax,ax; mov es,ax; loop: mov ax,0x0201 (read 1 sector); mov cx,1 (cylinder 0, sector 1); mov dh,0
    # (head 0; dl: the boot drive, as the BIOS left it); mov bx,0x7e00 (es:bx); int 0x13; jmp loop
    "io": bytes.fromhex("31c08ec0b80102b90100b600bb007ecd13ebf1"),
    # Writes its RAM forever (a save or migration has all of it to move): cli; ds=0; A20 on (port 0x92); lgdt;
    # protected mode; ljmp 8:pm; pm: ds=0x10 (flat); ebx=0; outer: edi=1 MiB; inner: mov [edi],ebx; edi+=4 KiB;
    # cmp edi,96 MiB; jb inner; inc ebx; jmp outer; then the GDT (null, flat code, flat data) and its descriptor.
    # Give it 128 MiB (start_guest's memory_mib): above 96 MiB nothing is written.
    "dirty": bytes.fromhex("fa31c08ed8e4920c02e692660f0116607c0f20c00c010f22c066ea217c000008"
                           "0066b810008ed831dbbf00001000891f81c70010000081ff0000000672f043ebe8"
                           "8db42600000000"  # (padding to the GDT)
                           "0000000000000000ffff0000009acf00ffff00000092cf001700487c0000"),
}
POLITE_LOOP = 8  # offset of the polite guest's loop (its hlt): the power button is enabled before it
DIRTY_LOOP = 0x29  # offset of the dirty guest's outer loop: past it, its EBX counts the passes over its RAM
LAB_GUESTS = (("busy", 1), ("idle", 2), ("half", 1))  # (kind, vCPUs) for `xentui lab up`


def boot_sector_image(kind: str) -> bytes:
    """A disk image whose boot sector runs BOOT_CODE[kind]."""
    image = bytearray(DISK_BYTES)
    code = BOOT_CODE[kind]
    image[: len(code)] = code
    image[510:512] = b"\x55\xaa"
    return bytes(image)


def image_path(kind: str) -> Path:
    path = IMAGE_DIR / f"{kind}.img"
    data = boot_sector_image(kind)
    if not path.exists() or path.read_bytes() != data:
        IMAGE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def guest_xml(name: str, kind: str, *, vcpus: int = 1, memory_mib: int = 32, virt_type: str = "kvm",
              image: Path | None = None) -> str:
    """A guest booting ``kind``'s image (``image``: a file already holding it, else IMAGE_DIR's)."""
    return f"""<domain type='{virt_type}'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>{vcpus}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='{image or image_path(kind)}'/>
      <target dev='vda' bus='virtio'/>
      <readonly/>
    </disk>
    <interface type='ethernet'><model type='e1000'/></interface>
    <memballoon model='virtio'/>
  </devices>
</domain>"""


def _run_quiet(*cmd: str) -> None:
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)


def _kvm_device_ready() -> bool:
    """Give the kvm group access to /dev/kvm, as udev would on a normal boot."""
    kvm = Path("/dev/kvm")
    if not kvm.exists():
        return False
    try:
        gid = grp.getgrnam("kvm").gr_gid
        st = kvm.stat()
        if os.geteuid() == 0 and (st.st_gid != gid or st.st_mode & 0o060 != 0o060):
            os.chown(kvm, -1, gid)
            os.chmod(kvm, 0o660)
    except (KeyError, OSError):
        pass
    return True


def connect(uri: str = URI, timeout: float = 30.0) -> libvirt.virConnect:
    """A read-write connection to the local libvirtd, starting it when absent."""
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError:
        pass
    _kvm_device_ready()
    for daemon in ("virtlogd", "libvirtd"):
        if shutil.which(daemon) and subprocess.run(["pgrep", "-x", daemon], capture_output=True,
                                                                  timeout=10).returncode:
            _run_quiet(daemon, "-d")
    deadline = time.monotonic() + timeout
    while True:
        try:
            return libvirt.open(uri)
        except libvirt.libvirtError as err:
            if time.monotonic() > deadline:
                raise RuntimeError(f"libvirtd did not answer on {uri} within {timeout:.0f} s: {err}") from None
            time.sleep(0.2)


_virt_type: str | None = None


def start_guest(conn: libvirt.virConnect, name: str, kind: str, vcpus: int = 1,
                memory_mib: int = 32) -> libvirt.virDomain:
    """Boot a transient lab guest; KVM when it works, else TCG (remembered)."""
    global _virt_type
    _kvm_device_ready()
    for virt_type in [_virt_type] if _virt_type else ["kvm", "qemu"]:
        try:
            dom = conn.createXML(guest_xml(name, kind, vcpus=vcpus, memory_mib=memory_mib, virt_type=virt_type), 0)
        except libvirt.libvirtError as err:
            if virt_type == "kvm" and _virt_type is None and "kvm" in str(err).lower():
                continue
            raise
        _virt_type = virt_type
        return dom
    raise RuntimeError("unreachable")


def destroy_guests(conn: libvirt.virConnect, prefix: str) -> list[str]:
    """Destroy every running domain whose name starts with ``prefix``."""
    gone = []
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        if dom.name().startswith(prefix):
            try:
                dom.destroy()
                gone.append(dom.name())
            except libvirt.libvirtError:
                pass
    return gone


def qemu_pid(name: str) -> int:
    """The qemu process of a running guest, from libvirt's pid file (read bounded, as xentui reads it)."""
    from xentui.sources.hostside import qemu_pid as read_pid

    pid = read_pid(PID_DIR, name)
    if pid is None:
        raise RuntimeError(f"no pid of {name!r} in {PID_DIR}")
    return pid


def start_linux(conn: libvirt.virConnect, running: set[str]) -> int:
    """Boot xtlab-linux (building its image first, once) unless it runs; 1 with one line when it cannot."""
    from xentui import lab_linux  # it builds on this module

    if lab_linux.NAME in running:
        return 0
    if not lab_linux.image_dir().is_dir():
        print("building the Linux guest's image from Debian packages (once; about a minute)")
    try:
        lab_linux.start_linux_guest(conn)
    except (RuntimeError, OSError, libvirt.libvirtError) as err:
        print(f"xentui lab: cannot start {lab_linux.NAME}: {err}")
        return 1
    print(f"{lab_linux.NAME} booting ({lab_linux.virt_type()}): its agent answers in about 15 s")
    return 0


def parser() -> argparse.ArgumentParser:
    p = UsageParser(prog="xentui lab", description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("up", "down", "status"),
                   help="up: boot the lab guests (starting libvirtd if needed); down: destroy them; status: list them")
    p.add_argument("--no-linux", action="store_true",
                   help="up: only the tiny guests, not xtlab-linux (the real Linux guest, built on its first start)")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        conn = connect()
    except RuntimeError as err:
        print(f"xentui lab: {err}")
        return 1
    if args.action == "down":
        gone = destroy_guests(conn, LAB_PREFIX)
        print("destroyed: " + (", ".join(gone) if gone else "nothing"))
        return 0
    if args.action == "up":
        running = {d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
        for kind, vcpus in LAB_GUESTS:
            name = LAB_PREFIX + kind
            if name not in running:
                try:
                    start_guest(conn, name, kind, vcpus)
                except libvirt.libvirtError as err:
                    print(f"xentui lab: cannot start {name}: {err}")
                    return 1
        if not args.no_linux and start_linux(conn, running) != 0:
            return 1
        print(f"lab up ({_virt_type or 'already running'}); watch it with: xentui -c {URI}")
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        if dom.name().startswith(LAB_PREFIX):
            print(f"  {dom.name():24} id {dom.ID():<4} {dom.info()[3]} vCPU")
    return 0
