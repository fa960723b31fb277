"""Recordings written by the tests: the recorder's own output, from given samples."""

from __future__ import annotations

from pathlib import Path

from xentui.model import RawSample
from xentui.recording.writer import Recorder


def write(path: Path, samples: list[RawSample], uri: str = "synthetic://") -> Path:
    rec = Recorder(path, uri, 1.0, created=0.0)
    for raw in samples:
        rec.write(raw)
    rec.close()
    return path


def with_guest_figures(samples: list[RawSample], hostname: str = "web-0\x1b[2J") -> list[RawSample]:
    """``samples`` with what revision 6 keeps on every running domain: its guest agent's facts (a hostile
    hostname by default: control characters are kept literally), balloon statistics and disk request times."""
    from dataclasses import replace

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

    interfaces = (GuestInterface("lo", "00:00:00:00:00:00", (GuestAddress("127.0.0.1", 8),)),
                  GuestInterface("eth0", "52:54:00:78:74:02",
                                 (GuestAddress("fe80::1", 64, "ipv6"), GuestAddress("192.0.2.2", 24))))
    out = []
    for n, raw in enumerate(samples):
        domains = []
        for d in raw.domains:
            if not d.active:
                domains.append(d)
                continue
            agent = GuestAgent(AgentStatus.OK, 1_795_000_000.5, hostname=hostname, os_name="Debian GNU/Linux",
                               os_version="12 (bookworm)", os_id="debian", kernel="6.1.0-27-amd64",
                               machine="x86_64", timezone="UTC", timezone_offset_s=0,
                               users=(GuestUser("root", "", 1_795_000_000.25),), interfaces=interfaces,
                               filesystems=(GuestFilesystem("/data", "ext4", "vda", 1 << 20, 60 << 20),),
                               time_offset_s=-0.125, ip=first_ip(interfaces))
            balloon = BalloonStats(131_072, 90_000 - n * 1000, 60_000, 12_000, 0, 0, 400 + n, 9_000 + n,
                                   1_795_000_000 + n)
            blocks = tuple(replace(b, rd_times_ns=(b.rd_reqs or 0) * 250_000, wr_times_ns=(b.wr_reqs or 0) * 900_000,
                                   fl_reqs=n, fl_times_ns=n * 1_000_000) for b in d.blocks)
            domains.append(replace(d, agent=agent, balloon=balloon, blocks=blocks))
        out.append(replace(raw, domains=tuple(domains)))
    return out
