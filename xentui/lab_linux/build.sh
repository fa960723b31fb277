#!/usr/bin/env bash
# Build (once, then cached) the lab's Linux guest from Debian 12 packages only (apt-get download + dpkg -x;
# nothing runs in the guest at build time): Debian's stock kernel, an initramfs holding busybox-static,
# qemu-guest-agent with the shared libraries it links, the virtio modules and an init script, and a small
# ext4 data filesystem.  Needs apt's mirror (network), bash, coreutils and mke2fs on the host.
#   usage: build.sh DEST_DIR       (DEST_DIR is made only when complete: built in DEST_DIR.tmp, then renamed)
# DEST_DIR then holds vmlinux, initrd.img, data.img (a template: each boot uses a copy) and build.log.
set -euo pipefail
dest=$1
[ -d "$dest" ] && { echo "linux guest cached: $dest"; exit 0; }
tmp="$dest.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/debs" "$tmp/x" "$tmp/root"
log="$tmp/build.log"
start=$(date +%s)
mods=(virtio_pci virtio_blk virtio_net virtio_balloon virtio_console ext4 crc32c_generic)

kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: *\(linux-image-[0-9].*\)/\1/p' | head -n1)
[ -n "$kpkg" ] || { apt-get update -qq >>"$log" 2>&1; kpkg=$(apt-cache depends linux-image-amd64 |
  sed -n 's/^ *Depends: *\(linux-image-[0-9].*\)/\1/p' | head -n1); }
[ -n "$kpkg" ] || { echo "build.sh: apt knows no linux-image-amd64 (is this Debian 12?)"; exit 1; }
# qemu-guest-agent and what it depends on, recursively (the libraries it links); base-files: os-release
agent=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
  --no-enhances --no-pre-depends qemu-guest-agent | grep '^[a-z0-9]' | sort -u)
echo "downloading $kpkg, busybox-static, qemu-guest-agent and its libraries"
(cd "$tmp/debs" && apt-get download "$kpkg" busybox-static base-files $agent) >>"$log" 2>&1 ||
  { tail -5 "$log"; exit 1; }
for deb in "$tmp"/debs/*.deb; do dpkg -x "$deb" "$tmp/x"; done
x=$tmp/x r=$tmp/root bb=$tmp/x/bin/busybox
kver=${kpkg#linux-image-}

mkdir -p "$r"/{bin,dev,etc,lib/modules,lib64,proc,sys,run,tmp,data,var/run,root} "$r/lib/x86_64-linux-gnu"
cp "$bb" "$r/bin/busybox"
# the kernel's modules: each wanted one after what it depends on (busybox's depmod writes modules.dep)
"$bb" depmod -b "$x" "$kver"
mdir=$x/lib/modules/$kver
declare -A seen=()
order=()
load() {
  local path=$1 dep
  [ -n "${seen[$path]:-}" ] && return 0
  seen[$path]=1
  for dep in $(sed -n "s|^$path: *||p" "$mdir/modules.dep"); do load "$dep"; done
  order+=("$path")
}
for m in "${mods[@]}"; do
  path=$(grep -oE "^[^:]*/${m//_/[_-]}\.ko" "$mdir/modules.dep" | head -n1) ||
    { echo "build.sh: $kver has no module $m"; exit 1; }
  load "$path"
done
for path in "${order[@]}"; do
  cp "$mdir/$path" "$r/lib/modules/"
  echo "${path##*/}" >>"$r/etc/modules.order"
done
# qemu-ga and the libraries its loader resolves among the extracted packages (none from the host)
cp "$x/usr/sbin/qemu-ga" "$r/bin/qemu-ga"
libpath="$x/lib/x86_64-linux-gnu:$x/usr/lib/x86_64-linux-gnu"
ldso=$x/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
cp -L "$ldso" "$r/lib64/ld-linux-x86-64.so.2"
"$ldso" --library-path "$libpath" --list "$x/usr/sbin/qemu-ga" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' |
  while read -r lib; do
    case $lib in "$x"/*) cp -L "$lib" "$r/lib/x86_64-linux-gnu/";;
      *) echo "build.sh: qemu-ga's $lib is not from the downloaded packages"; exit 1;; esac
  done
cp -L "$x/usr/lib/os-release" "$r/etc/os-release"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
printf 'root:x:0:\n' >"$r/etc/group"
: >"$r/var/run/utmp"
cat >"$r/init" <<'INIT'
#!/bin/busybox sh
# xtlab-linux's init: modules, /proc /sys /dev, hostname, network, the data filesystem, then qemu-ga (respawned).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs -o size=64m tmpfs /dev/shm
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp; mkdir -p /run/xt
arg() { sed -n "s/.*\bxt\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
for m in $(cat /etc/modules.order); do insmod "/lib/modules/$m"; done
hostname "$(arg host)"
i=0
while [ $i -lt 100 ] && ! { [ -b /dev/vda ] && [ -d /sys/class/net/eth0 ] && ls /sys/class/virtio-ports/*/name >/dev/null 2>&1; }; do
  usleep 50000; i=$((i + 1))
done
mkdir -p /dev/virtio-ports
for p in /sys/class/virtio-ports/*; do ln -sf "/dev/${p##*/}" "/dev/virtio-ports/$(cat "$p/name")"; done
ip link set lo up; ip link set eth0 up
ip addr add "$(arg ip)" dev eth0
[ -n "$(arg peer)" ] && arp -i eth0 -s "$(arg peer)" "$(arg peermac)"
mount -t ext4 /dev/vda /data
echo "xtlab-linux up: $(cat /proc/uptime)"
while true; do
  qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run/xt
  sleep 1
done
INIT
chmod 755 "$r/init"
(cd "$r" && find . | "$bb" cpio -o -H newc 2>/dev/null) | gzip -6 >"$tmp/initrd.img"
# the kernel uncompressed (an ELF with a PVH entry, which QEMU boots directly): no decompressor to emulate
off=$(LC_ALL=C grep -obUa $'\xfd7zXZ' "$x/boot/vmlinuz-$kver" | head -n1 | cut -d: -f1 || true)
tail -c +$((off + 1)) "$x/boot/vmlinuz-$kver" | xz -dc --single-stream >"$tmp/vmlinux" 2>>"$log" || true
[ "$(head -c 4 "$tmp/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] ||
  { echo "build.sh: no xz-compressed ELF kernel in vmlinuz-$kver"; exit 1; }
mkdir -p "$tmp/datafs"
echo "the lab guest's data filesystem" >"$tmp/datafs/README"
command -v mke2fs >/dev/null || { apt-get install -y -qq e2fsprogs >>"$log" 2>&1; }
mke2fs -q -F -t ext4 -L xtdata -d "$tmp/datafs" "$tmp/data.img" 16M >>"$log" 2>&1
echo "$kver" >"$tmp/kernel-version"
rm -rf "$tmp/debs" "$tmp/x" "$tmp/root" "$tmp/datafs"
mv "$tmp" "$dest"
echo "linux guest built in $(($(date +%s) - start)) s: $dest ($(du -sh "$dest" | cut -f1))"
