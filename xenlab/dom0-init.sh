#!/bin/sh
# PID 1 of the lab's Xen dom0: bring up Xen's daemons and libvirtd, run the test program,
# leave its results in /root/out, power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -o remount,rw /
hostname xendom0
echo "XENLAB: dom0 up $(cut -d' ' -f1 /proc/uptime)"
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback xen-netback loop bridge; do
  modprobe "$m" 2>/dev/null
done
grep -q xenfs /proc/mounts || mount -t xenfs xenfs /proc/xen
mkdir -p /var/log/xen/console /var/run/xen /var/lib/xen /root/out
/etc/init.d/xen start > /root/out/xen-start.txt 2>&1
mkdir -p /var/run/libvirt /var/log/libvirt
libvirtd -d
ip link add xenbr0 type bridge
ip addr add 10.9.0.1/24 dev xenbr0
ip link set xenbr0 up
echo "XENLAB: daemons up $(cut -d' ' -f1 /proc/uptime)"
cd /opt/xenlab && PYTHONPATH=/opt/xentui python3 -u in_dom0.py > /root/out/in_dom0.log 2>&1
echo "XENLAB: test program rc=$? $(cut -d' ' -f1 /proc/uptime)"
tail -n 5 /root/out/in_dom0.log
sync
poweroff -f
