"""The local KVM fast path (issue 20) on /proc-, cgroup- and run-like trees the tests build: the map, its proof
(the pid file's process must carry the guest's -uuid), each figure in libvirt's keys, cgroup v1 and v2, and the
refusals (remote, not root, a reused pid, a process that ends, hostile files)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from xentui.model import NetSample
from xentui.sources.hostside import files, held
from xentui.sources.libvirt import fastpath
from xentui.sources.libvirt.bulk_stats import KERNEL_FIGURES, parse_stats
from xentui.sources.libvirt.fastpath import FAST_GROUPS, FastPath, Paths, from_xml, kernel, why_off

UUID = "11111111-2222-3333-4444-555555555555"
CG = "/machine.slice/machine-qemu\\x2d7\\x2dweb.scope"
XML = (f"<domain type='kvm'><name>web</name><uuid>{UUID}</uuid><vcpu current='2'>4</vcpu><devices>"
       "<interface type='network'><target dev='vnet3'/></interface>"
       "<interface type='ethernet'><target dev='tap9'/></interface></devices></domain>")
NET_DEV = ("Inter-|   Receive                                                |  Transmit\n"
           " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
           "carrier compressed\n"
           "    lo:  100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n"
           " vnet3: 1000 10 1 2 0 0 0 0 5000 50 3 4 0 0 0 0\n"
           "  tap9: 7 1 0 0 0 0 0 0 9 2 0 0 0 0 0 0\n")


class Tree:
    """proc/, cgroup/, run/ under a temporary directory; one QEMU process at a time per pid."""

    def __init__(self, base: Path) -> None:
        self.paths = Paths(base / "proc", base / "cgroup", base / "run", ticks_per_s=100, page_kib=4)
        for p in (self.paths.proc, self.paths.cgroup, self.paths.qemu_run):
            assert p is not None
            p.mkdir(parents=True)
        (self.proc / "net").mkdir()
        (self.proc / "net" / "dev").write_text(NET_DEV)

    @property
    def proc(self) -> Path:
        assert self.paths.proc is not None
        return self.paths.proc

    def qemu(self, name: str, pid: int, uuid: str = UUID, vcpus: int = 2, cgroup: str = f"2:cpuacct:{CG}/emulator",
             utime: int = 30, stime: int = 20) -> Path:
        assert self.paths.qemu_run is not None
        (self.paths.qemu_run / f"{name}.pid").write_text(f"{pid}\n")
        proc = self.proc / str(pid)
        (proc / "task" / str(pid)).mkdir(parents=True)
        (proc / "cmdline").write_bytes(b"\0".join([b"/usr/bin/qemu-system-x86_64", b"-name", b"guest=" + name.encode(),
                                                   b"-uuid", uuid.encode(), b"-smp", b"2", b""]))
        (proc / "cgroup").write_text(f"4:memory:{CG}\n{cgroup}\n")
        (proc / "statm").write_text("20000 1500 300 10 0 9000 0\n")
        (proc / "stat").write_text(f"{pid} (qemu-system-x86) S " + " ".join(["0"] * 10 + [str(utime), str(stime)]
                                                                          + ["0"] * 30) + "\n")
        (proc / "task" / str(pid) / "comm").write_text("qemu-system-x86\n")
        for n in range(vcpus):
            self.thread(pid, pid + 1 + n, f"CPU {n}/KVM", run_ticks=10 * (n + 1), wait_ns=1000 * (n + 1))
        return proc

    def thread(self, pid: int, tid: int, comm: str, run_ticks: int = 0, wait_ns: int = 0, pcpu: int = 0,
               allowed: str = "0-3") -> None:
        task = self.proc / str(pid) / "task" / str(tid)
        task.mkdir(parents=True, exist_ok=True)
        (task / "comm").write_text(comm + "\n")
        (task / "stat").write_text(f"{tid} ({comm}) R " + " ".join(  # [36]: field 39, the CPU it last ran on
            ["0"] * 10 + [str(run_ticks), "0"] + ["0"] * 23 + [str(pcpu)] + ["0"] * 6))
        (task / "status").write_text(f"Name:\t{comm}\nCpus_allowed:\tf\nCpus_allowed_list:\t{allowed}\n")
        (task / "schedstat").write_text(f"{run_ticks * 10_000_000 + 5} {wait_ns} 42\n")

    def cpuacct(self, ns: int, controllers: str = "cpuacct") -> None:
        path = self.paths.cgroup / controllers / CG.lstrip("/")  # type: ignore[operator]
        path.mkdir(parents=True, exist_ok=True)
        (path / "cpuacct.usage").write_text(f"{ns}\n")


class Dom:
    """What the fast path asks of a virDomain (held by the client: no round trip), and its XML."""

    def __init__(self, name: str, uuid: str = UUID, domid: int = 7, xml: str = XML) -> None:
        self._name, self._uuid, self._id, self._xml = name, uuid, domid, xml
        self.xml_reads = 0

    def name(self) -> str:
        return self._name

    def UUIDString(self) -> str:
        return self._uuid

    def ID(self) -> int:
        return self._id

    def XMLDesc(self, _flags: int) -> str:
        self.xml_reads += 1
        return self._xml


class Conn:
    """getAllDomainStats of the given domains (state only unless asked for the fast groups), and
    domainListGetStats: which groups were asked, for which domains."""

    def __init__(self, doms: list[Dom]) -> None:
        self.doms = doms
        self.asked: list[tuple[str, int, list[str]]] = []

    def getAllDomainStats(self, groups: int, _flags: int) -> list[tuple[Dom, dict[str, object]]]:
        self.asked.append(("all", groups, [d.name() for d in self.doms]))
        return [(d, self._record(groups)) for d in self.doms]

    def domainListGetStats(self, doms: list[Dom], groups: int, _flags: int) -> list[tuple[Dom, dict[str, object]]]:
        self.asked.append(("list", groups, [d.name() for d in doms]))
        return [(d, self._record(groups)) for d in doms]

    @staticmethod
    def _record(groups: int) -> dict[str, object]:
        rec: dict[str, object] = {"state.state": libvirt.VIR_DOMAIN_RUNNING}
        if groups & libvirt.VIR_DOMAIN_STATS_CPU_TOTAL:
            rec["cpu.time"] = 123
        if groups & libvirt.VIR_DOMAIN_STATS_BALLOON:
            rec["balloon.rss"] = 1  # the monitor answered (under NOWAIT, a hung one leaves it out)
        return rec


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


_opened: list[FastPath] = []


@pytest.fixture(autouse=True)
def _closed_after() -> Iterator[None]:
    """Every fast path a test made is closed after it, failed or not (its /proc fds with it)."""
    yield
    while _opened:
        _opened.pop().close()


def fast(tree: Tree) -> FastPath:
    path = FastPath("qemu:///system", "QEMU", tree.paths, euid=0)
    _opened.append(path)
    return path


def test_every_figure_in_libvirts_keys_cgroup_v1(tree: Tree) -> None:
    tree.qemu("web", 500, cgroup=f"3:cpu,cpuacct:{CG}/emulator")
    tree.cpuacct(987_654_321, "cpu,cpuacct")  # Debian's v1 mount: the joined controllers' directory
    conn = Conn([Dom("web")])
    path = fast(tree)
    asked = libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_BALLOON
    rec = path.stats(conn, asked | FAST_GROUPS, 0)[0][1]  # type: ignore[arg-type]
    assert conn.asked == [("all", asked, ["web"])]  # the fast groups not asked of libvirt
    assert rec["cpu.time"] == 987_654_321
    assert rec["balloon.rss"] == 1500 * 4  # the kernel's, read after libvirt's
    # A hung QEMU monitor (NOWAIT leaves its figures out): no RSS put in, so the row is marked stale (stale.py)
    rec = path.stats(conn, libvirt.VIR_DOMAIN_STATS_STATE | FAST_GROUPS, 0)[0][1]  # type: ignore[arg-type]
    assert rec["cpu.time"] == 987_654_321 and "balloon.rss" not in rec
    assert (rec["vcpu.current"], rec["vcpu.maximum"]) == (2, 4)
    sample = parse_stats(UUID, "web", 7, rec)  # the vCPUs' and taps' figures come typed: as the model holds them
    assert (sample.vcpus_current, sample.vcpus_max, sample.cpu_ns) == (2, 4, 987_654_321)
    # stat ticks, as libvirt; schedstat's run-queue wait
    assert [(v.number, v.online, v.time_ns, v.delay_ns) for v in sample.vcpus] == \
        [(0, True, 100_000_000, 1000), (1, True, 200_000_000, 2000)]
    # a tap is seen swapped (the guest's rx is the tap's tx), as libvirt does; a macvtap (direct) is not
    assert sample.nets == (NetSample("vnet3", 5000, 50, 3, 4, 1000, 10, 1, 2),
                           NetSample("tap9", 9, 2, 0, 0, 7, 1, 0, 0))
    assert path.notice() == "fast path: 1 of 1 guests' CPU, vCPU, RSS, net from /proc (--no-fast-path)"
    path.close()


def test_placement_is_read_from_the_kernel_for_a_guest_read_fast(tree: Tree) -> None:
    """Each vCPU's pCPU (stat field 39) and hard affinity (Cpus_allowed_list), where libvirt's vcpus() reads them;
    None, so that libvirt is asked, for a guest not read fast or whose thread is gone."""
    tree.qemu("web", 500)
    tree.cpuacct(1)
    tree.thread(500, 501, "CPU 0/KVM", pcpu=3, allowed="2-3")
    tree.thread(500, 502, "CPU 1/KVM", pcpu=0, allowed="0,2")
    path = fast(tree)
    assert path.placement((UUID, 7)) is None  # not read yet
    path.stats(Conn([Dom("web")]), FAST_GROUPS, 0)
    assert path.placement((UUID, 7)) == {0: (3, frozenset({2, 3})), 1: (0, frozenset({0, 2}))}
    assert path.placement((UUID, 8)) is None  # another incarnation: libvirt's
    tree.thread(500, 502, "CPU 1/KVM", allowed="0-x")  # not a CPU list: libvirt asked, nothing guessed
    assert path.placement((UUID, 7)) is None
    shutil.rmtree(tree.proc / "500" / "task" / "502")  # the thread gone
    assert path.placement((UUID, 7)) is None


def test_no_descriptor_left_for_its_process_means_libvirt_for_that_guest(tree: Tree, monkeypatch) -> None:
    """A mapped guest keeps its /proc/PID fd: it takes one of the held descriptors, and with none left the guest
    is libvirt's, said in the notice; the slot is given back when the map is closed."""
    budget = held._Budget()
    budget.allowed = 0
    monkeypatch.setattr(held, "BUDGET", budget)
    tree.qemu("web", 500)
    tree.cpuacct(5)
    path = fast(tree)
    rec = path.stats(Conn([Dom("web")]), FAST_GROUPS, 0)[0][1]  # type: ignore[arg-type]
    assert rec["cpu.time"] == 123  # libvirt's figure
    assert path.notice() == ("fast path: 0 of 1 guests' CPU, vCPU, RSS, net from /proc (--no-fast-path); "
                             "not for 1: web: no file descriptor left to hold its process (the open-files limit)")
    assert budget.held == 0
    budget.allowed = 1  # its process's fd, and then its files opened at each read
    path = fast(tree)
    rec = path.stats(Conn([Dom("web")]), FAST_GROUPS, 0)[0][1]  # type: ignore[arg-type]
    assert rec["cpu.time"] == 5 and budget.held == 1
    path.close()
    assert budget.held == 0


def test_cgroup_v2_usage_usec_and_no_cgroup(tree: Tree) -> None:
    tree.qemu("web", 500, cgroup=f"0::{CG}/emulator")
    cg = tree.paths.cgroup / CG.lstrip("/")  # type: ignore[operator]
    cg.mkdir(parents=True)
    (cg / "cpu.stat").write_text("usage_usec 4242\nuser_usec 4000\nsystem_usec 242\n")
    path = fast(tree)
    assert path.stats(Conn([Dom("web")]), FAST_GROUPS, 0)[0][1]["cpu.time"] == 4_242_000  # type: ignore[arg-type]
    path.close()
    other = Tree(tree.paths.qemu_run.parent / "root")  # type: ignore[union-attr]
    other.qemu("web", 500, cgroup="0::/")  # the root cgroup: the host's time, never the guest's
    path = fast(other)
    rec = path.stats(Conn([Dom("web")]), FAST_GROUPS, 0)[0][1]  # type: ignore[arg-type]
    assert rec["cpu.time"] == (30 + 20) * 10_000_000  # utime + stime of the process, as libvirt reads then
    path.close()


def test_a_reused_pid_is_never_read_as_the_guest(tree: Tree) -> None:
    tree.qemu("web", 500, uuid="99999999-2222-3333-4444-555555555555")  # another guest's QEMU, or any process
    tree.cpuacct(1)
    conn = Conn([Dom("web")])
    path = fast(tree)
    rec = path.stats(conn, FAST_GROUPS, 0)[0][1]  # type: ignore[arg-type]
    assert rec["cpu.time"] == 123 and "balloon.rss" not in rec  # libvirt's figure
    assert conn.asked[1] == ("list", FAST_GROUPS | libvirt.VIR_DOMAIN_STATS_STATE, ["web"])
    assert path.notice() == (f"fast path: 0 of 1 guests' CPU, vCPU, RSS, net from /proc (--no-fast-path); "
                             f"not for 1: web: pid 500 of its pid file is not its QEMU (no -uuid {UUID})")


def test_a_process_that_ends_is_read_as_nothing_even_when_its_pid_returns(tree: Tree, tmp_path: Path) -> None:
    """The map holds /proc/PID open: on a real /proc its reads fail once the process ends, whatever reuses the
    pid.  Here a real child process stands in for QEMU: mapped, then ended."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        fd = kernel.open_process(Path("/proc"), child.pid)
        assert fd is not None and kernel.read_at(fd, "statm", 512) is not None
        statm, stat = held.hold("statm", fd), held.hold(f"task/{child.pid}/stat", fd)
        assert isinstance(statm, held.HeldFile) and isinstance(stat, held.HeldFile)
        assert kernel.rss_kib(statm, 4) and kernel.stat_cpu_ns(stat, 100) is not None  # read again and again
        assert kernel.rss_kib(statm, 4) and kernel.stat_cpu_ns(stat, 100) is not None
    finally:
        child.kill()
        child.wait(timeout=10)
    try:
        assert kernel.read_at(fd, "statm", 512) is None
        assert kernel.rss_kib(statm, 4) is None and kernel.stat_cpu_ns(stat, 100) is None  # held: ESRCH now
    finally:
        os.close(fd)
        held.close_all([statm, stat])


def test_remapped_after_a_lifecycle_event_or_a_new_domid_never_each_tick(tree: Tree) -> None:
    tree.qemu("web", 500)
    tree.cpuacct(5)
    dom = Dom("web")
    path = fast(tree)
    for _ in range(3):
        path.stats(Conn([dom]), FAST_GROUPS, 0)
    assert dom.xml_reads == 1
    path.changed(UUID)  # an event: the next tick maps it again
    path.stats(Conn([dom]), FAST_GROUPS, 0)
    assert dom.xml_reads == 2
    dom._id = 8  # restarted: a new incarnation
    path.stats(Conn([dom]), FAST_GROUPS, 0)
    assert dom.xml_reads == 3
    path.close()


@pytest.mark.parametrize("posing", ["((0, 5, 5),)", 7, ((0, 5, 5),), None])
def test_a_statistics_value_posing_as_the_kernels_figures_is_not_taken(posing: object) -> None:
    """Only the fast path's own KernelFigures are taken as such: a remote libvirtd's typed parameter of that name
    (a string, a number) is an unknown key, never iterated."""
    sample = parse_stats(UUID, "web", 7, {"state.state": 1, "vcpu.maximum": 1, "vcpu.0.time": 9, "net.count": 1,
                                          "net.0.name": "vnet0", "net.0.rx.bytes": 3, KERNEL_FIGURES: posing})
    assert [(v.number, v.time_ns) for v in sample.vcpus] == [(0, 9)] and sample.nets[0].rx_bytes == 3


def looked_at_again(path: FastPath, seconds: float = fastpath.REMAP_S) -> None:
    """As if every guest was mapped or last looked at ``seconds`` ago."""
    path._mapped_at = {key: at - seconds for key, at in path._mapped_at.items()}


def test_mapped_again_after_a_while_a_few_a_tick_hot_plugged_vcpus_and_refusals_too(tree: Tree) -> None:
    tree.qemu("web", 500)
    tree.cpuacct(5)
    doms = [Dom("web"), Dom("gone", uuid=UUID.replace("1", "9"), domid=9)]  # "gone": no pid file, refused
    path = fast(tree)
    path.stats(Conn(doms), FAST_GROUPS, 0)
    assert path.stats(Conn(doms), FAST_GROUPS, 0)[0][1]["vcpu.current"] == 2
    tree.thread(500, 503, "CPU 2/KVM", run_ticks=7)  # setvcpus --live: a third vCPU thread
    looked_at_again(path)  # as if mapped half a minute ago: its threads are more
    rec = path.stats(Conn(doms), FAST_GROUPS, 0)[0][1]
    assert doms[0].xml_reads == 2 and rec["vcpu.current"] == 3
    assert parse_stats(UUID, "web", 7, rec).vcpus[2].time_ns == 7 * 10_000_000
    assert doms[1].xml_reads == 0  # one remap a tick at 2 guests (a 30th, at least one): its turn is next
    tree.qemu("gone", 600, uuid=doms[1].UUIDString())  # its QEMU now has a pid file: the refusal no longer holds
    path.stats(Conn(doms), FAST_GROUPS, 0)
    assert path.read_fast == {UUID, doms[1].UUIDString()}


def test_looked_at_again_a_guest_whose_threads_and_host_devices_did_not_change_is_not_mapped_again(
        tree: Tree) -> None:
    tree.qemu("web", 500)
    tree.cpuacct(5)
    dom = Dom("web")
    path = fast(tree)
    path.stats(Conn([dom]), FAST_GROUPS, 0)
    for _ in range(3):
        looked_at_again(path)
        path.stats(Conn([dom]), FAST_GROUPS, 0)
    assert dom.xml_reads == 1 and path.read_fast == {UUID}  # looked at three times: one stat each, no XML
    guest = path._guests[(UUID, 7)]
    assert isinstance(guest, fastpath.Guest) and guest.threads == 2 + 3  # the tree's task/ has 3 threads
    guest.since -= fastpath.FULL_REMAP_S  # however it looks, mapped again after FULL_REMAP_S
    looked_at_again(path)
    path.stats(Conn([dom]), FAST_GROUPS, 0)
    assert dom.xml_reads == 2
    path.close()


def test_a_device_no_guest_owns_appearing_on_the_host_maps_the_guests_again(tree: Tree) -> None:
    """A NIC hot-plugged: its new tap is on the host, and only the domain's XML says whose it is."""
    tree.qemu("web", 500)
    tree.cpuacct(5)
    dom = Dom("web")
    path = fast(tree)
    path.stats(Conn([dom]), FAST_GROUPS, 0)
    looked_at_again(path)
    path.stats(Conn([dom]), FAST_GROUPS, 0)  # the host's devices as they are: vnet3, tap9 (the guest's), lo
    dom._xml = XML.replace("</devices>", "<interface type='bridge'><target dev='vnet8'/></interface></devices>")
    (tree.proc / "net" / "dev").write_text(NET_DEV + "  vnet8: 70 7 0 0 0 0 0 0 90 9 0 0 0 0 0 0\n")
    looked_at_again(path)
    path.stats(Conn([dom]), FAST_GROUPS, 0)  # looked at before the new device is seen: kept; then it is seen
    assert dom.xml_reads == 1
    rec = path.stats(Conn([dom]), FAST_GROUPS, 0)[0][1]  # due again at once, and mapped anew
    assert dom.xml_reads == 2 and [n.name for n in parse_stats(UUID, "web", 7, rec).nets] == ["vnet3", "tap9", "vnet8"]
    looked_at_again(path)
    path.stats(Conn([dom]), FAST_GROUPS, 0)  # vnet8 is the guest's now: nothing new
    assert dom.xml_reads == 2
    path.close()


def test_a_vcpu_thread_gone_falls_back_to_libvirt_that_tick(tree: Tree) -> None:
    tree.qemu("web", 500)
    tree.cpuacct(5)
    path = fast(tree)
    path.stats(Conn([Dom("web")]), FAST_GROUPS, 0)
    for f in (tree.proc / "500" / "task" / "502").iterdir():  # the thread ended: its held files read nothing
        f.write_text("")  # (on /proc the read fails, ESRCH: test_a_process_that_ends_is_read_as_nothing...)
    conn = Conn([Dom("web")])
    assert path.stats(conn, FAST_GROUPS, 0)[0][1]["cpu.time"] == 123  # type: ignore[arg-type]
    assert conn.asked[-1] == ("list", FAST_GROUPS | libvirt.VIR_DOMAIN_STATS_STATE, ["web"])
    assert "a read failed" in (path.notice() or "")
    path.close()


class EndingConn(Conn):
    """libvirt while a domain is torn down: running at the tick's first call, shut off a moment later, its
    cpu.time then libvirtd's own (libvirt reads /proc/self/stat once the QEMU pid is gone: seen in the lab)."""

    def domainListGetStats(self, doms: list[Dom], groups: int, flags: int) -> list[tuple[Dom, dict[str, object]]]:
        got = super().domainListGetStats(doms, groups, flags)
        for _d, rec in got:
            rec.update({"state.state": libvirt.VIR_DOMAIN_SHUTOFF, "cpu.time": 44_160_000_000})
        return got


def test_a_guest_whose_qemu_ends_is_never_given_libvirtds_own_cpu_time(tree: Tree) -> None:
    """The QEMU process gone between the tick's first call and the files: the fallback asks the state too, so
    the row is shut off, and a shut-off record's cpu.time (libvirtd's own) is never the domain's."""

    tree.qemu("web", 500)
    tree.cpuacct(5)
    path = fast(tree)
    path.stats(Conn([Dom("web")]), FAST_GROUPS, 0)
    for f in (tree.proc / "500").iterdir():  # the process ended: its held files read nothing
        if f.is_file():
            f.write_text("")
    rec = path.stats(EndingConn([Dom("web")]), libvirt.VIR_DOMAIN_STATS_STATE | FAST_GROUPS, 0)[0][1]  # type: ignore[arg-type]
    sample = parse_stats(UUID, "web", 7, rec)
    assert not sample.active and sample.cpu_ns is None
    path.close()


@pytest.mark.parametrize(("uri", "hypervisor", "euid", "why"), [
    ("qemu:///system", "QEMU", 0, None),
    ("qemu+ssh://root@h/system", "QEMU", 0, ""),  # remote: nothing to say, libvirt alone
    ("test:///default", "TEST", 0, ""),
    ("qemu:///session", "QEMU", 0, "fast path off: only for qemu:///system (its pid files and cgroups)"),
    ("qemu:///system", "QEMU", 1000, "fast path off: not root (the QEMU processes' /proc files need root)"),
])
def test_when_it_runs(uri: str, hypervisor: str, euid: int, why: str | None) -> None:
    assert why_off(uri, hypervisor, euid) == why


def test_no_fast_path_asks_libvirt_for_everything(tree: Tree) -> None:
    fastpath.configure(False)
    try:
        path = fast(tree)
        conn = Conn([Dom("web")])
        path.stats(conn, FAST_GROUPS, 0)
        assert conn.asked == [("all", FAST_GROUPS, ["web"])] and path.notice() is None
    finally:
        fastpath.configure(True)


def test_hostile_files_are_unknown(tree: Tree) -> None:
    proc = tree.qemu("web", 500)
    fd = kernel.open_process(tree.proc, 500)
    assert fd is not None
    statm = held.OpenedEachRead("statm", fd)
    vcpu = kernel.VcpuFiles(0, held.OpenedEachRead("task/501/stat", fd), held.OpenedEachRead("task/501/schedstat", fd),
                            "task/501")
    try:
        assert kernel.rss_kib(statm, 4) == 6000 and kernel.vcpu_times(vcpu, 100) == (100_000_000, 1000) \
            and kernel.last_cpu(kernel.stat_fields(vcpu.stat)) == 0
        (proc / "statm").write_text("1 -5 3\n")
        assert kernel.rss_kib(statm, 4) is None
        (proc / "statm").write_text("1 " + "9" * 30 + " 3\n")
        assert kernel.rss_kib(statm, 4) is None
        (proc / "task" / "501" / "schedstat").write_text("x" * 2000)  # past the bound: not a figure
        assert kernel.vcpu_times(vcpu, 100) is None
        (proc / "cmdline").write_bytes(b"qemu\0-uuid\0" + UUID.encode() + b"\0-uuid\0" + UUID.encode() + b"\0")
        assert kernel.cmdline_uuid(fd) is None  # two of them: not proven
        tree.thread(500, 600, "CPU 0/KVM")  # a vCPU number twice
        assert kernel.vcpu_threads(fd) is None
    finally:
        os.close(fd)
    assert files.vcpu_number("CPU 12/KVM") == 12 and files.vcpu_number("CPU 1/TCG") is None
    assert files.vcpu_number("CPU x/KVM") is None
    assert kernel.net_dev("h\nh\n bad line\n eth0: 1 2 3\n") == {}
    rest = " 0" * 12
    lines = {"ok": "1 2 3 4 0 0 0 0 5 6 7 8 0 0 0 0", "plus": "+1" + rest + " 1 1 1", "under": "1_0" + rest + " 1 1 1",
             "arabic": "\u0661" + rest + " 1 1 1", "past": str(1 << 64) + rest + " 1 1 1",
             "long": "0" * 21 + rest + " 1 1 1", "short": "1" + rest}
    text = "h\nh\n" + "".join(f"{dev}: {fields}\n" for dev, fields in lines.items())
    assert kernel.net_dev(text) == {"ok": (1, 2, 3, 4, 5, 6, 7, 8)}
    assert kernel.net_dev(text.replace("past: " + str(1 << 64), "past: " + str((1 << 64) - 1)))["past"][0] == \
        (1 << 64) - 1


def test_interfaces_without_a_host_device_are_libvirts(tree: Tree) -> None:
    assert from_xml(XML) == (4, (("vnet3", True), ("tap9", True)))
    assert from_xml(XML.replace("<target dev='tap9'/>", "<target dev='tap9' managed='no'/>"))[1] is None
    vhost = "<domain><vcpu>1</vcpu><devices><interface type='vhostuser'/></devices></domain>"
    assert from_xml(vhost) == (1, None)
    assert from_xml("<domain><vcpu>x</vcpu></domain>") == (None, ())
    assert from_xml("<not xml") == (None, None)
    macvtap = ("<domain><vcpu>1</vcpu><devices><interface type='direct'><target dev='macvtap0'/></interface>"
               "</devices></domain>")
    assert from_xml(macvtap) == (1, (("macvtap0", False),))  # a macvtap shares the host's view: not swapped


def test_the_remaps_go_to_the_guests_mapped_longest_ago(tree: Tree) -> None:
    path = fast(tree)
    now = 1000.0
    path._mapped_at = {("a", 1): now - 100, ("b", 2): now - 31, ("c", 3): now - 60, ("d", 4): now - 5}
    assert path._due_remap(now, 60) == {("a", 1), ("c", 3)}  # 60 guests: 2 a tick, the oldest first
    assert path._due_remap(now, 1) == {("a", 1)}


def test_each_guest_is_stamped_when_its_files_are_read_after_every_libvirt_call(tree: Tree) -> None:
    """A guest's CPU, vCPU and network counters carry the time they were read (its rates span those reads, not
    the stats call's middle: rates.read_window); the new guests' maps (libvirt's XML) come before any read."""
    import time

    from xentui.sources.libvirt.bulk_stats import KERNEL_AT

    xml = [XML.replace(UUID, f"{UUID[:-1]}{n}").replace(">web<", f">vm{n}<") for n in range(3)]
    doms = [Dom(f"vm{n}", uuid=f"{UUID[:-1]}{n}", domid=10 + n, xml=xml[n]) for n in range(3)]
    for n in range(3):
        tree.qemu(f"vm{n}", 500 + 10 * n, uuid=f"{UUID[:-1]}{n}")
    xml_read_at: list[float] = []
    for d in doms:
        def xml_desc(_flags: int, d: Dom = d) -> str:
            xml_read_at.append(time.monotonic())
            return d._xml
        d.XMLDesc = xml_desc  # type: ignore[method-assign]
    began = time.monotonic()
    records = fast(tree).stats(Conn(doms), libvirt.VIR_DOMAIN_STATS_STATE | FAST_GROUPS, 0)  # type: ignore[arg-type]
    ended = time.monotonic()
    stamps = [rec[KERNEL_AT] for _d, rec in records]
    assert len(xml_read_at) == 3 and all(type(at) is float for at in stamps)
    assert max(xml_read_at) <= min(stamps) and stamps == sorted(stamps)  # type: ignore[type-var]
    assert began <= min(stamps) and max(stamps) <= ended  # type: ignore[type-var, operator]
    sample = parse_stats(doms[0].UUIDString(), "vm0", 10, records[0][1])
    assert sample.kernel_at == stamps[0]
    refused = parse_stats(doms[0].UUIDString(), "vm0", 10, {"state.state": libvirt.VIR_DOMAIN_RUNNING,
                                                               KERNEL_AT: "12.5"})
    assert refused.kernel_at is None


def test_rates_span_the_kernel_reads_not_the_samples_stamps() -> None:
    """Stats calls stamped at 10 and 11 (their middles); the guest's files read at 10.4 and 11.0, 0.6 s of CPU
    in between: 100 %, where the samples' 1 s would say 60 %; a tick it was read by libvirt spans to that
    sample's stamp.  Block figures (the monitor's) keep the samples' window."""
    from tests.factories import dom, raw
    from xentui.model import NetSample, build_snapshot

    def nic(rx: int) -> tuple[NetSample, ...]:
        return (NetSample("vnet0", rx_bytes=rx, rx_packets=0, tx_bytes=0, tx_packets=0),)

    a = raw(10, dom(1.0, nets=nic(0), kernel_at=10.4))
    b = raw(11, dom(1.6, nets=nic(600_000), kernel_at=11.0))
    rates = build_snapshot(a, b).domains[0].rates
    assert rates.cpu_pct == pytest.approx(100.0) and rates.net_rx_bytes_s == pytest.approx(1_000_000.0)
    c = raw(12, dom(2.1, nets=nic(1_000_000)))  # read by libvirt, within the call stamped 12
    assert build_snapshot(b, c).domains[0].rates.cpu_pct == pytest.approx(50.0)  # over 11.0 .. 12
    assert build_snapshot(b, raw(12, dom(2.1, kernel_at=11.0))).domains[0].rates.cpu_pct is None  # no new read
