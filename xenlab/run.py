"""Boot a real Xen 4.17 dom0 under QEMU (software emulation) and run the in-dom0 test program.

    python3 xenlab/run.py --out DIR [--cache DIR] [--timeout SECONDS]

1. builds (once; cached by the build script's hash) a Debian bookworm rootfs with Xen, xl,
   xentop, libvirt's Xen driver and the Python packages xentui's core needs;
2. lays the working tree's xentui, the test program and a busybox initramfs for the domUs
   into it, and makes an ext4 image of it (`mkfs.ext4 -d`, no mount needed);
3. boots Xen by multiboot straight from QEMU (`-kernel xen -initrd "vmlinuz args,initrd"`);
   dom0's PID 1 is dom0-init.sh, which runs in_dom0.py and powers off;
4. copies /root/out back out of the image (`debugfs rdump`) into --out.

Exit code 0 when the test program ran to its end (its own verdict is in results.json).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CACHE = Path("/var/cache/xentui-xenlab")
XEN_ARGS = "dom0_mem=1024M,max:1024M dom0_max_vcpus=2 console=com1 com1=115200,8n1"
DOM0_ARGS = "root=/dev/vda rw console=hvc0 earlyprintk=xen init=/opt/xenlab/dom0-init.sh"
HOST_PACKAGES = {"debootstrap": "debootstrap", "qemu-system-x86_64": "qemu-system-x86", "debugfs": "e2fsprogs"}


def log(message: str) -> None:
    print(f"[xenlab {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_host_tools() -> None:
    missing = [pkg for tool, pkg in HOST_PACKAGES.items() if not shutil.which(tool)]
    if missing:
        log(f"installing {' '.join(missing)}")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)


def rootfs(cache: Path) -> Path:
    """The cached base rootfs, built when the build script changed."""
    digest = hashlib.sha256((HERE / "build-rootfs.sh").read_bytes()).hexdigest()[:12]
    dest = cache / f"rootfs-{digest}"
    if not dest.is_dir():
        log(f"building the dom0 rootfs (cold: about 2-3 minutes) into {dest}")
        started = time.monotonic()
        subprocess.run(["bash", str(HERE / "build-rootfs.sh"), str(dest)], check=True)
        log(f"rootfs built in {time.monotonic() - started:.0f} s")
        for old in cache.glob("rootfs-*"):
            if old != dest and old.is_dir() and not old.name.endswith(".tmp"):
                shutil.rmtree(old, ignore_errors=True)
    return dest


def newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A cpio archive in the kernel's newc format: (path, mode, data) entries."""
    out = io.BytesIO()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        encoded = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0]
        out.write(b"070701" + b"".join(f"{v:08x}".encode() for v in fields) + encoded)
        out.write(b"\0" * (-(110 + len(encoded)) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))
    return out.getvalue()


def domu_initrd(base: Path) -> bytes:
    """A busybox initramfs for the PV domUs, with the Xen front-end drivers."""
    kernel_version = sorted((base / "lib/modules").iterdir())[-1].name
    modules = base / "lib/modules" / kernel_version / "kernel/drivers"
    directory = stat.S_IFDIR | 0o755
    regular = stat.S_IFREG | 0o755
    entries = [(d, directory, b"") for d in ("bin", "dev", "proc", "sys", "lib", "tmp")]
    entries += [
        ("bin/busybox", regular, (base / "bin/busybox").read_bytes()),
        ("init", regular, (HERE / "domu-init.sh").read_bytes()),
        ("lib/xen-netfront.ko", regular, (modules / "net/xen-netfront.ko").read_bytes()),
        ("lib/xen-blkfront.ko", regular, (modules / "block/xen-blkfront.ko").read_bytes()),
    ]
    return gzip.compress(newc(entries), compresslevel=6)


def stage(base: Path) -> None:
    """Lay this run's files into the rootfs: the working tree's xentui, the test program."""
    opt = base / "opt"
    shutil.rmtree(opt / "xentui", ignore_errors=True)
    shutil.copytree(REPO / "xentui", opt / "xentui" / "xentui",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "ui"))
    lab = opt / "xenlab"
    shutil.rmtree(lab, ignore_errors=True)
    lab.mkdir(parents=True)
    for name in ("dom0-init.sh", "in_dom0.py"):
        shutil.copy2(HERE / name, lab / name)
    (lab / "dom0-init.sh").chmod(0o755)
    (lab / "domu-initrd.gz").write_bytes(domu_initrd(base))
    wrapper = base / "usr/local/bin/xentui"
    wrapper.write_text('#!/bin/sh\nPYTHONPATH=/opt/xentui exec python3 -m xentui "$@"\n')
    wrapper.chmod(0o755)
    defaults = base / "etc/default/xen"
    text = defaults.read_text() if defaults.exists() else ""
    if "XENCONSOLED_ARGS" not in text:
        defaults.write_text(text + '\nXENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"\n')


def boot(base: Path, work: Path, timeout: float) -> Path:
    image = work / "rootfs.img"
    log("making the ext4 image")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "xenlab", "-d", str(base), str(image), "3G"], check=True)
    boot_dir = base / "boot"
    xen = work / "xen"
    xen.write_bytes(gzip.decompress(sorted(boot_dir.glob("xen-4.*-amd64.gz"))[-1].read_bytes()))
    vmlinuz = sorted(boot_dir.glob("vmlinuz-*"))[-1]
    initrd = sorted(boot_dir.glob("initrd.img-*"))[-1]
    console = work / "console.log"
    cmd = [
        "qemu-system-x86_64", "-machine", "pc", "-accel", "tcg,thread=multi", "-cpu", "Nehalem", "-smp", "2",
        "-m", "3072", "-kernel", str(xen), "-append", XEN_ARGS,
        "-initrd", f"{vmlinuz} {DOM0_ARGS},{initrd}",
        "-drive", f"file={image},if=virtio,format=raw", "-display", "none", "-monitor", "none",
        "-serial", f"file:{console}", "-no-reboot", "-net", "none",
    ]
    log(f"booting Xen under QEMU (TCG), timeout {timeout:.0f} s")
    started = time.monotonic()
    try:
        subprocess.run(cmd, check=False, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        log(f"QEMU did not power off within {timeout:.0f} s")
    log(f"QEMU ran {time.monotonic() - started:.0f} s")
    return image


def extract(image: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["debugfs", "-R", f"rdump /root/out {out}", str(image)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where the dom0's /root/out lands")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the rootfs is kept")
    parser.add_argument("--timeout", type=float, default=1200.0,  # ~4 min on a quiet host, far more when loaded
                        help="seconds before QEMU is stopped")
    args = parser.parse_args(argv)
    ensure_host_tools()
    base = rootfs(args.cache)
    stage(base)
    with tempfile.TemporaryDirectory(prefix="xenlab-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        image = boot(base, work, args.timeout)
        extract(image, args.out)
        shutil.copy2(work / "console.log", args.out / "console.log")
    done = (args.out / "out" / "results.json").exists()
    log(f"results in {args.out} ({'complete' if done else 'no results.json: see console.log'})")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
