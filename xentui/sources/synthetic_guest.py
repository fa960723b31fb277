"""The made-up host's views from inside its guests (issue 18): agent facts, balloon statistics, disk request times
and steal.  An opt-in of the synthetic source (``guest=True``: screenshots), so the snapshot tests' screens keep
their columns.  Deterministic, as the rest of the synthetic host: every figure is a fixed function of the tick.
"""

from __future__ import annotations

from dataclasses import replace

from xentui.model import BlockSample, DomainState
from xentui.model.guest_agent import (
    AgentStatus,
    GuestAddress,
    GuestAgent,
    GuestFilesystem,
    GuestInterface,
    GuestUser,
    first_ip,
)
from xentui.model.guest_memory import BalloonStats

GIB = 1 << 30
AGENT_READ_AGO_S = 12  # the agent's facts were read this long before the tick (its background round)


# (hostname, OS name, version, kernel) by domain (i % 10); None: no agent answers there.
OS = (
    ("web", "Debian GNU/Linux", "12 (bookworm)", "6.1.0-27-amd64"),
    ("db", "Rocky Linux", "9.4 (Blue Onyx)", "5.14.0-427.13.1.el9_4.x86_64"),
    None,  # cache: no agent installed
    ("build", "Ubuntu", "24.04.1 LTS (Noble Numbat)", "6.8.0-45-generic"),
    ("mail", "Debian GNU/Linux", "12 (bookworm)", "6.1.0-27-amd64"),  # paused: its agent hangs, last facts kept
    ("dns", "Alpine Linux", "3.20.3", "6.6.54-0-virt"),
    None,  # backup: no agent installed
    None,  # ci-runner: crashed, never asked
    ("monitor", "Debian GNU/Linux", "12 (bookworm)", "6.1.0-27-amd64"),
    ("PROXY", "Microsoft Windows Server 2022 Standard", "2022", "10.0.20348"),
)
# Guest memory really used (GMEM, share of MemTotal) by domain; None: no balloon statistics.
GMEM = (0.38, 0.93, 0.21, 0.64, None, 0.17, None, None, 0.45, 0.72)
SWAP_IN_KIB_S = {1: 480}  # db swaps in: GMEM warns
MAJOR_FAULTS_S = {3: 160}  # build reads its binaries from disk: warns too
# ms per read and per write request of the domain's disk; backup's is a throttled disk.
READ_MS = (0.42, 1.85, 0.21, 3.9, 0.5, 0.33, 48.6, 0.6, 0.28, 7.2)
WRITE_MS = (0.95, 4.7, 0.6, 12.4, 1.1, 0.8, 96.0, 1.5, 0.7, 2.3)
# Steal per vCPU (share of one pCPU) of the running domains: build is starved, proxy more so.
STEAL = {0: 0.012, 1: 0.04, 3: 0.19, 6: 0.02, 9: 0.31}


def agent(i: int, state: DomainState, wall: float) -> GuestAgent | None:
    """The domain's agent as its last background read left it."""
    k = i % len(OS)
    facts = OS[k]
    if state is DomainState.CRASHED:
        return None
    if facts is None:
        return GuestAgent(AgentStatus.NO_AGENT, wall - AGENT_READ_AGO_S, error="QEMU guest agent is not connected")
    host, os_name, version, kernel = facts
    suffix = "" if i < len(OS) else f"-{i // len(OS)}"
    windows = os_name.startswith("Microsoft")
    interfaces = _interfaces(i, k, windows)
    read = wall - AGENT_READ_AGO_S - 30 * (k % 2)
    good = GuestAgent(
        AgentStatus.OK, read, hostname=f"{host}{suffix}" + ("" if windows else ".lab.example"),
        os_name=os_name, os_version=version, os_id="mswindows" if windows else os_name.split()[0].lower(),
        kernel=kernel, machine="x86_64", timezone="UTC" if not windows else "Coordinated Universal Time",
        timezone_offset_s=0, users=_users(k, read, windows), interfaces=interfaces,
        filesystems=_filesystems(i, k, windows), time_offset_s=(0.003, -0.012, 0.0, 1.84, 0.002)[k % 5],
        ip=first_ip(interfaces))
    if state is DomainState.PAUSED:  # a paused guest's agent cannot answer: the last facts stay, dated
        return replace(good, read_wall=read - 600, status=AgentStatus.NOT_ANSWERING,
                       error="guest info: no answer within 3 s", checked_wall=read)
    return good


def _interfaces(i: int, k: int, windows: bool) -> tuple[GuestInterface, ...]:
    # Every address and MAC a valid one at any count (i's bytes spread; the first 240 guests' as they always were).
    mac = f"52:54:{(i >> 8) & 0xff:02x}:{i & 0xff:02x}:5e:{k:02x}"
    ll = GuestAddress(f"fe80::5054:ff:fe{i & 0xff:02x}:5e{k:02x}", 64, "ipv6")
    if k == 5:  # dns: IPv6 only on its service network
        main = (GuestAddress(f"2001:db8:53::{(i + 1) & 0xffff:x}", 64, "ipv6"), ll)
    else:
        main = (GuestAddress(f"10.{(i // 240) & 0xff}.{k}.{10 + i % 240}", 24), ll)
    name = "Ethernet" if windows else ("enp1s0" if k in (1, 3) else "eth0")
    out = [GuestInterface(name, mac, main)]
    if not windows:
        out.insert(0, GuestInterface("lo", "00:00:00:00:00:00", (GuestAddress("127.0.0.1", 8),
                                                                  GuestAddress("::1", 128, "ipv6"))))
    if k == 3:  # build: a second NIC on the storage network, and its containers' bridge
        storage = GuestAddress(f"192.168.{(40 + i // 250) & 0xff}.{2 + i % 250}", 24)
        out.append(GuestInterface("enp2s0", f"52:54:{(i >> 8) & 0xff:02x}:{i & 0xff:02x}:5f:{k:02x}", (storage,)))
        out.append(GuestInterface("docker0", "02:42:ac:11:00:01", (GuestAddress("172.17.0.1", 16),)))
    return tuple(out)


def _filesystems(i: int, k: int, windows: bool) -> tuple[GuestFilesystem, ...]:
    size = (8 + 4 * (i % 4)) * GIB
    if windows:
        return (GuestFilesystem("C:\\", "NTFS", "Disk 0", int(size * 2.6), size * 4),)
    root = GuestFilesystem("/", "xfs" if k == 1 else "ext4", "vda1", int(size * (0.31 + 0.06 * k)), size)
    out = [root, GuestFilesystem("/boot", "ext4", "vda2", 96 << 20, 487 << 20)]
    if k == 1:
        out.append(GuestFilesystem("/var/lib/pgsql", "xfs", "vdb1", int(182.4 * GIB), 250 * GIB))
    if k == 3:
        out.append(GuestFilesystem("/srv/build", "ext4", "vdb1", int(71.2 * GIB), 80 * GIB))
    return tuple(out)


def _users(k: int, read: float, windows: bool) -> tuple[GuestUser, ...]:
    if windows:
        return (GuestUser("Administrator", "PROXY", read - 7200),)
    return ((GuestUser("root", login_wall=read - 3600), GuestUser("deploy", login_wall=read - 540)) if k in (0, 3)
            else ())


def balloon(i: int, state: DomainState, mem_kib: int, t: float, wall: float) -> BalloonStats | None:
    """The guest's own memory figures (MemTotal a little under its balloon), reported each second."""
    used = GMEM[i % len(GMEM)]
    if used is None or state in (DomainState.CRASHED, DomainState.PAUSED):
        return None
    total = mem_kib - (mem_kib >> 5)  # the kernel's own reservations are not in MemTotal
    usable = int(total * (1 - used))
    return BalloonStats(
        available_kib=total, usable_kib=usable, unused_kib=usable * 2 // 5, disk_caches_kib=usable // 2,
        swap_in_kib=int(20_480 + t * SWAP_IN_KIB_S.get(i % len(GMEM), 0)), swap_out_kib=int(65_536 + t * 3 * (i == 1)),
        major_faults=int(1_200 + t * MAJOR_FAULTS_S.get(i % len(GMEM), 2)), minor_faults=int(4e6 + t * 2_500 * (1 + i)),
        last_update=int(wall) - i % 2)


def timed(block: BlockSample, i: int) -> BlockSample:
    """The disk with its request times (libvirt's block.N.rd.times, ...): READ_MS, WRITE_MS per request."""
    rd, wr, writes = READ_MS[i % len(READ_MS)], WRITE_MS[i % len(WRITE_MS)], block.wr_reqs or 0
    return replace(block, rd_times_ns=int((block.rd_reqs or 0) * rd * 1e6), wr_times_ns=int(writes * wr * 1e6),
                   fl_reqs=writes // 8, fl_times_ns=int(writes // 8 * 0.9e6))


def delay_ns(i: int, n: int, state: DomainState, t: float) -> int:
    """vCPU ``n``'s steal (delay) time so far: STEAL's share of each second while it runs or waits; none paused."""
    share = STEAL.get(i % len(OS), 0.002) if state in (DomainState.RUNNING, DomainState.BLOCKED) else 0.0
    return int(1e9 * (i + 1) + t * 1e9 * share * (1 + 0.1 * n))
