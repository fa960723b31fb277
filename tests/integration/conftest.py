"""The real-guest lab: a running libvirtd and tiny KVM (or TCG) guests, always cleaned up."""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import libvirt
import libvirt_qemu
import pytest

from xentui import lab, lab_linux
from xentui.lab_linux import agent
from xentui.model import DomainSample, HostSample
from xentui.sources.libvirt import LibvirtSource

URI = lab.URI
TEST_PREFIX = "xtest-"
# A spinning vCPU's least share of a pCPU here, where an idle guest stays under 5 %: it got 27-37 % with the
# load average at 10 on the 2 cores (parallel test runs and an emulated Xen), all of one on a quiet host.
SPINNING_PCT = 15.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this folder drives the real libvirtd: mark it ``lab`` (``-m "not lab"`` leaves it out)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.lab)


class LiveConnection:
    """A virConnect that opens itself again when libvirtd was restarted (the fault tests do that)."""

    def __init__(self):
        self._conn = lab.connect(URI)

    def __getattr__(self, name: str):
        if not self._conn.isAlive():
            self._conn = lab.connect(URI)
        attr = getattr(self._conn, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except libvirt.libvirtError as err:  # the socket died with the old libvirtd: once more, anew
                if err.get_error_code() not in (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_INTERNAL_ERROR):
                    raise
                self._conn = lab.connect(URI)
                return getattr(self._conn, name)(*args, **kwargs)

        return call


@pytest.fixture(scope="session")
def conn() -> Iterator[libvirt.virConnect]:
    """A read-write connection to the local libvirtd, started when absent."""
    c = LiveConnection()
    destroy_orphans(c)
    yield c
    lab.destroy_guests(c, f"{TEST_PREFIX}{os.getpid()}-")
    c.close()


def destroy_orphans(c: libvirt.virConnect) -> None:
    """Destroy test guests left by a run that was killed (its pid is gone), not a concurrent run's."""
    for dom in c.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        parts = dom.name().split("-")
        orphan = len(parts) > 1 and parts[1].isdigit() and not os.path.exists(f"/proc/{parts[1]}")
        if dom.name().startswith(TEST_PREFIX) and orphan:
            with contextlib.suppress(libvirt.libvirtError):
                dom.destroy()
    for path in (lab.IMAGE_DIR / "run").glob(f"{TEST_PREFIX}*"):  # Linux guests' disk copies, likewise
        pid = path.name.split("-")[1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            path.unlink(missing_ok=True)


class Guests:
    """Starts uniquely named guests and destroys all of them afterwards, pass or fail."""

    def __init__(self, conn: libvirt.virConnect):
        self.conn = conn
        self.started: list[libvirt.virDomain] = []

    def start(self, kind: str, vcpus: int = 1, settle: bool = True, memory_mib: int = 32) -> libvirt.virDomain:
        """A new guest of ``kind``; with ``settle``, once its vCPU 0 runs the boot sector's code."""
        name = f"{TEST_PREFIX}{os.getpid()}-{kind}-{uuid.uuid4().hex[:4]}"
        dom = lab.start_guest(self.conn, name, kind, vcpus, memory_mib)
        self.started.append(dom)
        if settle:
            wait_in_boot_code(dom, kind)
        return dom

    def cleanup(self) -> None:
        for dom in self.started:
            with contextlib.suppress(libvirt.libvirtError):  # already gone
                self.conn.lookupByName(dom.name()).destroy()  # by name: libvirtd may have restarted since


@pytest.fixture
def guests(conn) -> Iterator[Guests]:
    g = Guests(conn)
    try:
        yield g
    finally:
        g.cleanup()


@pytest.fixture(scope="module")
def busy_and_idle(conn) -> Iterator[tuple[libvirt.virDomain, libvirt.virDomain]]:
    """One busy (jmp $) and one idle (hlt loop, 2 vCPUs) guest for a module's tests."""
    g = Guests(conn)
    try:
        busy = g.start("busy", vcpus=1, settle=False)
        idle = g.start("idle", vcpus=2, settle=False)
        wait_until_halted(idle)
        yield busy, idle
    finally:
        g.cleanup()


@pytest.fixture
def source() -> Iterator[LibvirtSource]:
    s = LibvirtSource(URI)
    yield s
    s.close()


@pytest.fixture
def writer() -> Iterator[LibvirtSource]:
    """A read-write source (actions act through it)."""
    s = LibvirtSource(URI, readonly=False)
    yield s
    s.close()


def sample_of(source: LibvirtSource, name: str) -> tuple[DomainSample, HostSample]:
    """A fresh sample of the domain called ``name``, and the host's."""
    raw = source.collect()
    return next(d for d in raw.domains if d.name == name), raw.host


BOOT_SECTOR = 0x7C00  # where the BIOS loads and runs it


def guest_ip(dom: libvirt.virDomain) -> int:
    """The linear address vCPU 0 executes (CS base + EIP), from QEMU's monitor (`info registers`)."""
    regs = libvirt_qemu.qemuMonitorCommand(dom, "info registers", libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
    eip = re.search(r"\b[ER]IP=([0-9a-f]+)", regs)
    cs_base = re.search(r"^CS =[0-9a-f]+ ([0-9a-f]+)", regs, re.M)
    assert eip and cs_base, f"no EIP/CS in `info registers`: {regs[:200]!r}"
    return int(cs_base.group(1), 16) + int(eip.group(1), 16)


def dirty_passes(dom: libvirt.virDomain) -> int:
    """How many times the dirty guest has written all its pages (its EBX, from QEMU's monitor): meaningful once
    it runs its loop (:func:`wait_writing_ram`), as in its BIOS EBX holds anything."""
    regs = libvirt_qemu.qemuMonitorCommand(dom, "info registers", libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
    found = re.search(r"\bEBX=([0-9a-f]+)", regs)
    return int(found.group(1), 16) if found else 0


def wait_writing_ram(dom: libvirt.virDomain, passes: int = 2, timeout: float = 60.0) -> None:
    """Wait until the dirty guest has left its BIOS (its RAM mostly zeros: a save or a migration then moves it
    in a moment) and written all its RAM ``passes`` times."""
    wait_in_boot_code(dom, "dirty", loop_from=lab.DIRTY_LOOP, timeout=timeout)
    began = time.monotonic()
    while (done := dirty_passes(dom)) < passes:
        assert time.monotonic() - began < timeout, f"{dom.name()}: {done} passes over its RAM after {timeout:.0f} s"
        time.sleep(0.05)


IO_LOOPING_READS = 200  # the BIOS reads the boot sector once; past this many reads, the io guest's loop runs


def first_disk(dom: libvirt.virDomain, figure: str = "rd.reqs") -> int:
    """libvirt's own ``block.0.<figure>`` of the guest, now: waiting for its job, where NOWAIT would leave the figure
    out while another client (xentui's read between ticks) holds it."""
    [(_dom, rec)] = dom.connect().domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_BLOCK, 0)
    return int(rec.get(f"block.0.{figure}", 0))


def wait_in_boot_code(dom: libvirt.virDomain, kind: str, loop_from: int = 0, timeout: float = 60.0) -> float:
    """Wait until the guest has left the BIOS: vCPU 0 runs lab.BOOT_CODE[kind] at offset ``loop_from`` or
    later (e.g. past the polite guest's enabling of the power button).  Seconds waited."""
    start = BOOT_SECTOR + loop_from
    end = BOOT_SECTOR + len(lab.BOOT_CODE[kind])
    began = time.monotonic()
    if kind == "io":  # its loop spends nearly all its time in the BIOS's disk call: vCPU 0 is seldom seen in it
        while (reads := first_disk(dom)) < IO_LOOPING_READS:
            assert time.monotonic() - began < timeout, f"{dom.name()}: {reads} disk reads after {timeout:.0f} s"
            time.sleep(0.05)
        return time.monotonic() - began
    while True:
        where = guest_ip(dom)
        if start <= where <= end:  # `hlt` leaves EIP past itself: at most the code's end
            return time.monotonic() - began
        assert time.monotonic() - began < timeout, f"{dom.name()} still at {where:#x} after {timeout:.0f} s"
        time.sleep(0.05)


def wait_until_halted(dom: libvirt.virDomain, timeout: float = 30.0) -> None:
    """Wait until an idle guest has left the BIOS for its hlt loop (slow on a loaded host)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = dom.info()[4]
        time.sleep(0.5)
        if dom.info()[4] - before < 0.02 * 0.5e9:  # under 2 % of a pCPU
            return
    raise AssertionError(f"{dom.name()} still busy after {timeout:.0f} s: did it boot?")


@contextlib.contextmanager
def linux_guest(conn: libvirt.virConnect, **kwargs) -> Iterator[libvirt.virDomain]:
    """A booted xtlab-linux guest (xentui.lab_linux; ``kwargs``: vcpus, memory_mib, iops) whose agent answers,
    destroyed afterwards, pass or fail. Its ``boot_s`` attribute: seconds from createXML to the first guest-ping."""
    name = f"{TEST_PREFIX}{os.getpid()}-linux-{uuid.uuid4().hex[:4]}"
    start = time.monotonic()
    dom = lab_linux.start_linux_guest(conn, name, **kwargs)
    try:
        agent.wait_booted(dom, timeout=180)  # TCG on a host that hides vmx/svm: 11-15 s at load 6-10
        dom.boot_s = time.monotonic() - start
        yield dom
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            conn.lookupByName(name).destroy()
        lab_linux.remove_disks(name)


@pytest.fixture(scope="module")
def linux(conn) -> Iterator[libvirt.virDomain]:
    """One Linux guest (1 vCPU, 128 MiB) for a module's tests."""
    with linux_guest(conn) as dom:
        yield dom
