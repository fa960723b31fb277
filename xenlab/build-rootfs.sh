#!/usr/bin/env bash
# Build (once, then cached) a Debian bookworm root filesystem for a Xen 4.17 dom0:
# Xen, xl/xentop, libvirt's Xen driver, the Python that xentui's core needs (from
# Debian's packages, so that nothing is fetched inside the guest), and busybox for domUs.
#   usage: build-rootfs.sh DEST_DIR
# DEST_DIR is made only when complete (built in DEST_DIR.tmp, then renamed).
set -euo pipefail
dest=$1
[ -d "$dest" ] && { echo "rootfs cached: $dest"; exit 0; }
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}
tmp="$dest.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$dest")"
command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap >/dev/null; }
echo "debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1 || { tail -20 "$tmp.log"; exit 1; }
cleanup() { umount "$tmp/proc" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$tmp/proc" 2>/dev/null || true
echo "installing Xen, libvirt and Python into the rootfs"
chroot "$tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive bash -c '
  set -e
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends systemd-sysv udev kmod iproute2 procps mount \
    linux-image-amd64 xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common \
    libvirt-daemon-driver-xen libvirt-daemon libvirt-clients busybox-static \
    python3 python3-libvirt python3-psutil e2fsprogs
  apt-get clean
' >>"$tmp.log" 2>&1 || { tail -30 "$tmp.log"; exit 1; }
cleanup
getent_group() { grep -q "^$1:" "$tmp/etc/group"; }
getent_group libvirt-qemu || chroot "$tmp" groupadd -r libvirt-qemu
grep -q '^libvirt-qemu:' "$tmp/etc/passwd" || chroot "$tmp" useradd -r -g libvirt-qemu libvirt-qemu
mv "$tmp" "$dest"
echo "rootfs built: $dest"
