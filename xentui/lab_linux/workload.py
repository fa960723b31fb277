"""A steady, bounded workload in the lab's Linux guest, for recording the demo (scripts/record-demo).

``python -m xentui.lab_linux.workload SECONDS`` waits for xtlab-linux's agent, starts in the guest (through the
agent's guest-exec, each loop under busybox ``timeout SECONDS``): direct 64 KiB writes and reads on the scratch
disk, ICMP to the peer over the tap, and a tmpfs file filled and freed (GMEM(%) moves); then, from this host,
sends frames into the guest through its tap for SECONDS (its receive side), and returns.  Needs root (AF_PACKET).
"""

from __future__ import annotations

import argparse
import socket
import time

import libvirt

from xentui import lab, lab_linux
from xentui.lab_linux import GUEST_MAC, PEER_IP, PEER_MAC, agent

MAX_SECONDS = 3600
DISK_LOOP = ("while :; do dd if=/dev/zero of=/dev/vdb oflag=direct bs=64k count=32; "
             "dd if=/dev/vdb of=/dev/null iflag=direct bs=64k count=16; sleep 1; done")  # ~2 MiB/s out, 1 in
MEMORY_LOOP = ("while :; do dd if=/dev/zero of=/dev/shm/demo bs=1M count=24; sleep 20; rm -f /dev/shm/demo; "
               "sleep 20; done")  # 24 MiB of the guest's 128 held for 20 s of every 40
PING = f"ping -q -s 1372 -i 0.05 {PEER_IP}"  # 20 frames of 1414 bytes a second, out of the guest
FRAMES_PER_S, FRAME_BYTES = 40, 1400  # into the guest, from the host


def start_in_guest(dom: libvirt.virDomain, seconds: int) -> None:
    """The guest's three loops, each ended by ``timeout`` after ``seconds`` (nothing left running)."""
    loops = [f"sh -c '{DISK_LOOP}'", f"sh -c '{MEMORY_LOOP}'", PING]
    script = " ".join(f"timeout {seconds} {loop} >/dev/null 2>&1 &" for loop in loops)
    agent.check(dom, f"rm -f /dev/shm/demo; {script} true", timeout=30)


def send_frames(dom: libvirt.virDomain, seconds: int) -> int:
    """Frames into the guest through its tap at FRAMES_PER_S for ``seconds`` (ethertype 0x88b5: no answer);
    the bytes sent."""
    header = bytes.fromhex(GUEST_MAC.replace(":", "")) + bytes.fromhex(PEER_MAC.replace(":", "")) + b"\x88\xb5"
    frame = header + bytes(FRAME_BYTES - len(header))
    sent, start = 0, time.monotonic()
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.settimeout(5.0)
        s.bind((lab_linux.tap_name(dom), 0))
        while (elapsed := time.monotonic() - start) < seconds:
            while sent < elapsed * FRAMES_PER_S:
                s.send(frame)
                sent += 1
            time.sleep(1 / FRAMES_PER_S)
    return sent * len(frame)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xentui.lab_linux.workload", description=__doc__.split("\n\n")[0])
    p.add_argument("seconds", type=int, help=f"how long the load runs, 1 to {MAX_SECONDS}")
    p.add_argument("--boot-timeout", type=float, default=180.0, help="seconds to wait for the guest's agent")
    args = p.parse_args(argv)
    if not 1 <= args.seconds <= MAX_SECONDS:
        p.error(f"seconds must be 1 to {MAX_SECONDS}, not {args.seconds}")
    conn = lab.connect()
    try:
        try:
            dom = conn.lookupByName(lab_linux.NAME)
        except libvirt.libvirtError:
            print(f"workload: {lab_linux.NAME} is not running (start it: xentui lab up)")
            return 1
        try:
            waited = agent.wait_booted(dom, args.boot_timeout)
            start_in_guest(dom, args.seconds)
        except agent.AgentError as err:
            print(f"workload: {err}")
            return 1
        print(f"workload: {lab_linux.NAME}'s agent answered after {waited:.0f} s; disk, network and memory load "
              f"for {args.seconds} s", flush=True)
        try:
            sent = send_frames(dom, args.seconds)
        except (OSError, RuntimeError) as err:  # not root, or the guest (its tap) went away
            print(f"workload: frames into the guest stopped: {err}")
            return 1
        print(f"workload: done ({sent / 1e6:.1f} MB sent into the guest)")
        return 0
    finally:
        conn.close()


if __name__ == "__main__":
    raise SystemExit(main())
