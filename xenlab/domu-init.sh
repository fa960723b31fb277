#!/bin/busybox sh
# PID 1 of a lab domU: role from the kernel command line (xenlab_role=busy|io|idle).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
insmod /lib/xen-netfront.ko 2>/dev/null
insmod /lib/xen-blkfront.ko 2>/dev/null
role=$(sed -n 's/.*xenlab_role=\([a-z]*\).*/\1/p' /proc/cmdline)
addr=$(sed -n 's/.*xenlab_ip=\([0-9.]*\).*/\1/p' /proc/cmdline)
if [ -n "$addr" ] && [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  ip addr add "$addr/24" dev eth0
fi
sleep 1
echo "XENLAB-DOMU-UP role=$role ip=$addr disk=$(cat /sys/block/xvda/size 2>/dev/null)"
case "$role" in
  busy) while :; do :; done ;;
  io)
    # Light, steady traffic: one small operation every 0.5 s, in turn a direct read, a direct
    # write, a read, a ping (bursts would make one second unlike the next).
    n=0
    while :; do
      case $((n % 4)) in
        1) dd if=/dev/zero of=/dev/xvda bs=4k count=1 seek=$((n % 4096)) oflag=direct 2>/dev/null ;;
        3) ping -c 1 -W 1 10.9.0.1 >/dev/null 2>&1 ;;
        *) dd if=/dev/xvda of=/dev/null bs=4k count=1 skip=$((n % 4096)) iflag=direct 2>/dev/null ;;
      esac
      n=$((n + 1))
      usleep 500000
    done ;;
  *) while :; do sleep 3600; done ;;
esac
