"""Guest facts from the real agent of the lab's Linux guest (issue 18, item 2), through a read-only
LibvirtSource as xentui runs by default: they equal ``virsh guestinfo``, ``virsh domifaddr --source agent``
and what the guest says of itself through guest-exec (``hostname``, ``ip -o addr``, ``df -k``, ``date``); a
guest without an agent channel is "no agent"; a stopped agent is "agent not answering" and never stalls a tick."""

from __future__ import annotations

import subprocess
import time

from xentui.lab_linux import GUEST_IP
from xentui.lab_linux import agent as ga
from xentui.model import DomainSample
from xentui.model.guest_agent import AgentStatus, GuestAgent
from xentui.sources.libvirt import LibvirtSource
from xentui.sources.libvirt import agent as agent_mod

from .conftest import URI


def domain(source: LibvirtSource, name: str) -> DomainSample:
    return next(d for d in source.collect().domains if d.name == name)


def facts_of(source: LibvirtSource, name: str, ok, what: str, timeout: float = 60.0) -> GuestAgent:
    """Tick (1 s apart) until the domain's agent facts pass ``ok``; each tick must stay short."""
    deadline = time.monotonic() + timeout
    while True:
        began = time.monotonic()
        agent = domain(source, name).agent
        assert time.monotonic() - began < 2.5, "a tick waited on the agent"
        if agent is not None and ok(agent):
            return agent
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s (last: {agent})"
        time.sleep(1.0)


def virsh(*args: str) -> str:
    return subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, timeout=30, check=True).stdout


def guestinfo(name: str) -> dict[str, str]:
    out = {}
    for line in virsh("guestinfo", name).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def test_the_facts_are_the_guests_own(linux):
    name = linux.name()
    source = LibvirtSource(URI)  # read-only, as by default: the agent's calls go through its own connection
    try:
        facts = facts_of(source, name, lambda a: a.status is AgentStatus.OK, "the agent's facts")
        info = guestinfo(name)
        assert facts.hostname == info["hostname"] == ga.check(linux, "hostname").strip()
        assert facts.kernel == info["os.kernel-release"] == ga.check(linux, "uname -r").strip()
        assert facts.os_name == info.get("os.name") and facts.os_version == info.get("os.version")
        assert len(facts.users) == int(info.get("user.count", "0"))
        # filesystems: virsh's and the guest's df (qemu-ga's total excludes root's reserve: used + available)
        assert len(facts.filesystems) == int(info["fs.count"]) >= 1
        for n, fs in enumerate(facts.filesystems):
            assert (fs.mountpoint, fs.used_bytes, fs.total_bytes) == (
                info[f"fs.{n}.mountpoint"], int(info[f"fs.{n}.used-bytes"]), int(info[f"fs.{n}.total-bytes"]))
            _dev, _blocks, used, avail, *_ = ga.check(linux, f"df -k {fs.mountpoint} | tail -1").split()
            assert (fs.used_bytes, fs.total_bytes) == (int(used) * 1024, (int(used) + int(avail)) * 1024)
        # addresses: virsh domifaddr --source agent, and the guest's ip -o addr
        rows = [line.split() for line in virsh("domifaddr", "--source", "agent", name).splitlines()[2:] if line.strip()]
        theirs, iface = set(), ""
        for row in rows:  # name MAC protocol address; a continuation row starts with "-"
            iface = iface if row[0] == "-" else row[0]
            theirs.add((iface, row[-1]))
        ours = {(i.name, str(a)) for i in facts.interfaces for a in i.addresses}
        assert ours == theirs
        inside = {(f[1], f[3]) for f in (line.split() for line in ga.check(linux, "ip -o addr").splitlines())
                  if len(f) > 3 and f[2] in ("inet", "inet6")}
        assert ours == inside
        assert facts.ip == GUEST_IP
        # the clock: the guest's own date against this host's, over the same second or two
        before = time.time()
        guest_now = float(ga.check(linux, "date +%s").strip())
        after = time.time()
        assert facts.time_offset_s is not None
        assert abs(facts.time_offset_s - (guest_now - (before + after) / 2)) < 2.5
    finally:
        source.close()


def test_a_guest_without_an_agent_channel_is_no_agent(guests):
    dom = guests.start("idle", settle=False)
    source = LibvirtSource(URI)
    try:
        got = facts_of(source, dom.name(), lambda a: True, "a word for the missing agent")
        assert got.status is AgentStatus.NO_AGENT and "not configured" in got.error
    finally:
        source.close()


def test_a_stopped_agent_is_not_answering_and_never_stalls_a_tick(linux, monkeypatch):
    monkeypatch.setattr(agent_mod, "EVERY_S", 2.0)  # asked again soon, so the test need not wait 30 s
    name = linux.name()
    source = LibvirtSource(URI)
    try:
        facts_of(source, name, lambda a: a.status is AgentStatus.OK, "the agent's facts")
        ga.start(linux, ["/bin/sh", "-c", "sleep 0.5; kill -STOP $(pidof qemu-ga)"])  # the guest's last command
        got = facts_of(source, name, lambda a: a.status is AgentStatus.NOT_ANSWERING, "agent not answering", 40)
        assert got.hostname is not None  # the last facts kept, dated
        # asked again at its next turns, it stays so (a call still hung is not repeated: refused at once)
        later = facts_of(source, name, lambda a: (a.checked_wall or 0) > (got.checked_wall or 0), "a later read", 30)
        assert later.status is AgentStatus.NOT_ANSWERING
    finally:
        source.close()
