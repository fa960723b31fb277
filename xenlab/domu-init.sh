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
    # Light, steady traffic: two small direct reads a second; a write and a ping every 5 s.
    n=0
    while :; do
      dd if=/dev/xvda of=/dev/null bs=4k count=1 skip=$((n % 4096)) iflag=direct 2>/dev/null
      if [ $((n % 10)) = 0 ]; then
        dd if=/dev/zero of=/dev/xvda bs=4k count=1 seek=$((n % 4096)) oflag=direct 2>/dev/null
        ping -c 1 -W 1 10.9.0.1 >/dev/null 2>&1
      fi
      n=$((n + 1))
      usleep 500000
    done ;;
  *) while :; do sleep 3600; done ;;
esac
