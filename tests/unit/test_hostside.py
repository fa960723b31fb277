"""PSI and NUMA of local QEMU guests (issue 18, item 6) on trees the tests build: cgroup v2 pressure files whose
totals advance, a two-node host's numa_maps and cpulists; hostile, truncated and absent files."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.factories import dom, raw, wait_for
from tests.hostside_tree import CGROUP, NUMA_MAPS, HostTree, pressure_reads
from xentui import config
from xentui.model import build_snapshot, evolve
from xentui.model.pressure import NumaSample, numa_view
from xentui.output.records import json_frame
from xentui.sources import hostside
from xentui.sources.hostside import HostSide, qemu_pid
from xentui.sources.hostside import numa as numa_files
from xentui.sources.hostside.psi import cgroup_of, clean_cgroup, parse_pressure, read_pressure

UUID = "11111111-2222-3333-4444-555555555555"
PID = 4242


@pytest.fixture
def tree(tmp_path):
    return HostTree(tmp_path)


@pytest.fixture(autouse=True)
def _closed(monkeypatch):
    """Every HostSide a test makes is closed after it (its NUMA thread ends, not left beside later tests)."""
    made: list[HostSide] = []
    init = HostSide.__init__

    def noted(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(HostSide, "__init__", noted)
    yield
    for side in made:
        side.close()


def test_psi_rate_over_the_window(tree):
    tree.qemu("web", PID)
    tree.pressure("cpu", 1_000_000, 0)
    tree.pressure("io", 5_000_000, 2_000_000)
    now = [10.0]
    side = HostSide(tree.paths, clock=lambda: now[0])
    first = side.read([(UUID, 7, "web")])[UUID][0]
    assert first is not None and first.cgroup == CGROUP and first.get("memory", "some") is None  # absent file
    tree.pressure("cpu", 1_500_000, 100_000)  # 0.5 s of some stall in 2 s: 25 %
    tree.pressure("io", 5_200_000, 2_050_000)
    now[0] = 12.0  # the files read 2 s later (the tick's own window is not theirs: 3 s here)
    second = side.read([(UUID, 7, "web")])[UUID][0]
    assert (second.prev_at, second.at) == (10.0, 12.0)
    shot = build_snapshot(raw(0.0, dom(1, pressure=first)), raw(3.0, dom(2, pressure=second)))
    psi = shot.domains[0].psi
    assert psi is not None and psi.measured
    assert psi.get("cpu") == pytest.approx(25.0) and psi.get("cpu", "full") == pytest.approx(5.0)
    assert psi.get("io") == pytest.approx(10.0) and psi.get("io", "full") == pytest.approx(2.5)
    assert psi.worst() == ("cpu", pytest.approx(25.0))
    record = json.loads(json_frame(shot, 1))["domains"][0]
    assert record["psi"]["cpu"]["some_pct"] == 25.0 and record["psi"]["io"]["full_total_us"] == 2_050_000
    assert record["psi"]["memory"] is None and "numa" not in record


def test_psi_read_on_an_earlier_tick_says_how_old_it_is(tree):
    """In turns (batch --fast, the live view's rows off screen) a guest keeps its last PSI sample: the view and the
    JSON say how long before the update it was read; read in this tick, no age (and no key: lines as before)."""
    tree.qemu("web", PID)
    tree.pressure("cpu", 1_000_000, 0)
    now = [10.0]
    side = HostSide(tree.paths, clock=lambda: now[0])
    first = side.read([(UUID, 7, "web")])[UUID][0]
    now[0] = 11.0
    second = side.read([(UUID, 7, "web")])[UUID][0]
    fresh = build_snapshot(raw(9.5, dom(1, pressure=first)), raw(10.5, dom(2, pressure=second)))
    kept = build_snapshot(raw(10.5, dom(2, pressure=second)), raw(13.5, dom(3, pressure=second)))
    assert fresh.domains[0].psi.age_s is None and kept.domains[0].psi.age_s == pytest.approx(2.5)
    assert "age_s" not in json.loads(json_frame(fresh, 1))["domains"][0]["psi"]
    assert json.loads(json_frame(kept, 2))["domains"][0]["psi"]["age_s"] == 2.5
    # built on the snapshot before (as the poller does), a sample not read again keeps its figures, aged anew
    again = build_snapshot(raw(13.5, dom(3, pressure=second)), raw(14.5, dom(4, pressure=second)), before=kept)
    assert again.domains[0].psi.pct is kept.domains[0].psi.pct and again.domains[0].psi.age_s == pytest.approx(3.5)
    assert again.domains[0].psi == evolve(build_snapshot(None, raw(14.5, dom(4, pressure=second))).domains[0].psi,
                                          age_s=pytest.approx(3.5))


def test_first_tick_and_a_reset_show_the_kernels_avg10(tree):
    tree.qemu("web", PID)
    tree.pressure("memory", 9_000_000, avg10=3.25)
    side = HostSide(tree.paths)
    before = side.read([(UUID, 7, "web")])[UUID][0]
    assert build_snapshot(None, raw(0.0, dom(1, pressure=before))).domains[0].psi.get("memory") == 3.25
    tree.pressure("memory", 10, avg10=0.5)  # went back (a new cgroup under the same path): no rate
    after = side.read([(UUID, 7, "web")])[UUID][0]
    psi = build_snapshot(raw(0.0, dom(1, pressure=before)), raw(1.0, dom(2, pressure=after))).domains[0].psi
    assert psi.get("memory") == 0.5 and not psi.measured


def test_restarted_guest_is_looked_up_again(tree):
    tree.qemu("web", PID)
    tree.pressure("cpu", 1)
    side = HostSide(tree.paths)
    assert side.read([(UUID, 7, "web")])[UUID][0].cgroup == CGROUP
    other = "/machine.slice/machine-qemu\\x2d8\\x2dweb.scope/libvirt"
    tree.qemu("web", PID + 1, other)
    tree.pressure("cpu", 1, cgroup=other)
    assert side.read([(UUID, 8, "web")])[UUID][0].cgroup == other  # new domid: new pid file read


def test_cgroup_v1_only_and_absent_files_mean_not_present(tree):
    tree.qemu("web", PID, cgroup=None)  # this lab host: no 0:: line
    side = HostSide(tree.paths)
    assert side.read([(UUID, 7, "web")]) == {}
    tree.qemu("web", PID + 1)  # a cgroup v2 path, but no pressure files (psi=0, an old kernel)
    assert HostSide(tree.paths).read([(UUID, 7, "web")]) == {}
    assert HostSide(tree.paths).read([(UUID, 7, "nosuchvm")]) == {}


@pytest.mark.parametrize("text", ["", "12abc", "-5", "0", "99999999999999", "1e3", "\uff14\uff12"])
def test_hostile_pid_files(tree, text):
    (tree.paths.qemu_run / "web.pid").write_text(text)
    assert qemu_pid(tree.paths.qemu_run, "web") is None


@pytest.mark.parametrize("name", ["../etc/x", "a/b", "", ".hidden", "x\0y", "n" * 300])
def test_names_that_are_not_file_names(tree, name):
    assert qemu_pid(tree.paths.qemu_run, name) is None


@pytest.mark.parametrize("path", ["machine.slice", "/a/../../etc", "/a/./b", "/a//b", "/x\0", "/" + "a" * 5000])
def test_hostile_cgroup_paths(path):
    assert clean_cgroup(path) is None


def test_cgroup_line_read_within_bounds(tree):
    proc = tree.qemu("web", PID, cgroup="/ok")
    assert cgroup_of(tree.paths.proc, PID) == "/ok"
    (proc / "cgroup").write_text("1:x:/y\n" * 20_000 + "0::/late\n")  # past the bound: the line is not seen
    assert cgroup_of(tree.paths.proc, PID) is None
    (proc / "cgroup").write_bytes(b"0::/\xff\xfe\n")  # undecodable: replaced, still a path
    assert cgroup_of(tree.paths.proc, PID) == "/\ufffd\ufffd"


@pytest.mark.parametrize("text", [
    "some avg10=0.00 avg60=0.00 avg300=0.00 total=34784428\nfull avg10=12.50 avg60=1.00 avg300=0.20 total=34607189\n",
    "some avg10=100.00 avg60=0.00 avg300=0.00 total=0\n",  # an old kernel's cpu.pressure: no full line
    "some avg10=100.01 avg60=0.00 avg300=0.00 total=18446744073709551615\n"
    "full avg10=999.99 avg60=0.00 avg300=0.00 total=18446744073709551616\n",  # out of range: unknown
])
def test_pressure_as_the_kernel_writes_it_reads_as_line_by_line(text):
    """The one-match read of the kernel's layout gives what the tolerant line-by-line read gives (an unknown
    line after it sends the text there)."""
    assert parse_pressure(text) == parse_pressure(text + "bogus line\n")
    assert [kind for kind, _stall in parse_pressure(text)] == ["some", "full"][:text.count("\n")]


def test_hostile_and_truncated_pressure_files(tree):
    parsed = dict(parse_pressure("some avg10=nan avg60=1 total=-4\nfull avg10=250.0 total=18446744073709551616\n"
                                 "some avg10=1.00 total=5\nbogus avg10=1 total=1\nfull\n"))
    assert parsed["some"].avg10 is None and parsed["some"].total_us is None  # the first some line counts
    assert parsed["full"].avg10 is None and parsed["full"].total_us is None  # out of range: unknown
    assert parse_pressure("some avg10=1.00 avg60=0.00 avg300=0.00 total=12", truncated=True) == ()  # a cut line
    tree.cgroup_dir()
    (tree.cgroup_dir() / "cpu.pressure").write_text("some avg10=1.00 total=7\n" + "x" * 5000)
    sample = read_pressure(CGROUP, pressure_reads(tree.paths.cgroup, CGROUP))
    assert sample is not None and sample.get("cpu", "some").total_us == 7
    (tree.cgroup_dir() / "cpu.pressure").write_bytes(b"\x00\xff garbage\n")
    assert read_pressure(CGROUP, pressure_reads(tree.paths.cgroup, CGROUP)) is None


def test_numa_of_a_two_node_host(tree):
    tree.qemu("web", PID)
    tree.numa_maps(PID, NUMA_MAPS)
    tree.vcpu(PID, PID + 1, 0, cpu=2)  # node 1, with the memory
    tree.vcpu(PID, PID + 2, 1, cpu=0)  # node 0: off the memory's node
    (tree.paths.proc / str(PID) / "task" / str(PID + 3)).mkdir()
    (tree.paths.proc / str(PID) / "task" / str(PID + 3) / "comm").write_text("IO mon_iothread\n")
    sample = numa_files.read_numa(tree.paths.proc, PID, numa_files.node_of_cpu(tree.paths.nodes), None)
    assert sample == NumaSample("numa_maps", ((0, 1000 * 4 + 2 * 2048 + 20 * 4), (1, 3000 * 4)), ((0, 1), (1, 0)))
    shown = numa_view(sample)
    assert shown.home == 1 and shown.remote_vcpus == (1,) and shown.misplaced
    assert shown.home_pct == pytest.approx(100 * 12000 / (12000 + 8176))
    # the model reads it once a tick, for the table and the batch output alike
    views = build_snapshot(None, raw(0.0, dom(1, numa=sample), dom(2, uuid="u2", name="db"))).domains
    assert views[0].numa == shown and views[1].numa is None


def test_numa_stat_preferred_to_numa_maps(tree):
    tree.qemu("web", PID)
    tree.numa_maps(PID, NUMA_MAPS)
    (tree.cgroup_dir() / "memory.numa_stat").write_text(
        "anon N0=1073741824 N1=0\nfile N0=999999999 N1=999999999\nshmem N0=0 N1=1048576\nbogus N9=1\n")
    tree.vcpu(PID, PID + 1, 0, cpu=1)
    sample = numa_files.read_numa(tree.paths.proc, PID, numa_files.node_of_cpu(tree.paths.nodes), tree.cgroup_dir())
    assert sample == NumaSample("numa_stat", ((0, 1024 * 1024), (1, 1024)), ((0, 0),))
    assert not numa_view(sample).misplaced


def test_truncated_and_hostile_numa_files(tree, monkeypatch):
    monkeypatch.setattr(numa_files, "MAX_NUMA_MAPS", 100)
    tree.qemu("web", PID)
    tree.numa_maps(PID, NUMA_MAPS)
    sample = numa_files.read_numa(tree.paths.proc, PID, {0: 0, 2: 1}, None)
    assert sample == NumaSample("numa_maps", ((0, 4000), (1, 12000)), (), partial=True)  # the first line only
    hostile = ("x default N0=5 N1=abc N-1=4 N99999=1 kernelpagesize_kB=99999999999\n"
               "y default N0=18446744073709551615 kernelpagesize_kB=4\ny default N0=1\n")
    assert numa_files.parse_numa_maps(hostile) == {0: 4}  # absurd sizes counted as nothing
    (tree.paths.nodes / "node1" / "cpulist").write_text("0-3,^x\n")
    (tree.paths.nodes / "node7").mkdir()  # no cpulist: skipped
    assert numa_files.node_of_cpu(tree.paths.nodes) == {0: 0, 1: 0}
    assert numa_files.node_of_cpu(tree.paths.nodes / "absent") == {}
    (tree.paths.proc / str(PID) / "task" / "99").mkdir()
    (tree.paths.proc / str(PID) / "task" / "99" / "comm").write_text("CPU 0/KVM\n")
    (tree.paths.proc / str(PID) / "task" / "99" / "stat").write_text("99 (CPU 0/KVM) S 1 2 )\n")  # short
    assert numa_files.vcpu_cpus(tree.paths.proc, PID) == {}


def test_vcpu_threads_are_qemus_cpu_n_kvm_threads(tree):
    from xentui.sources.hostside.files import task_ids, vcpu_tids

    tree.vcpu(PID, PID + 1, 0, cpu=0)
    tree.vcpu(PID, PID + 2, 1, cpu=1)
    task = tree.paths.proc / str(PID) / "task"
    for tid, comm in ((PID + 3, "IO mon_iothread"), (PID + 4, "CPU 8192/KVM"), (PID + 5, "CPU 2/KVM extra"),
                      (PID + 6, "x" * 500), (PID + 7, "CPU \u0663/KVM")):  # an Arabic-Indic 3: not a vCPU
        (task / str(tid)).mkdir()
        (task / str(tid) / "comm").write_text(comm + "\n")
    (task / "not-a-tid").mkdir()
    assert sorted(task_ids(tree.paths.proc, PID)) == [PID + n for n in range(1, 8)]
    assert vcpu_tids(tree.paths.proc, PID) == {0: PID + 1, 1: PID + 2}
    assert vcpu_tids(tree.paths.proc, PID, [PID + 2]) == {1: PID + 2}
    assert task_ids(tree.paths.proc, 424242) == [] and vcpu_tids(tree.paths.proc, 424242) == {}


def test_numa_read_in_the_background_only_with_two_nodes(tmp_path):
    two = HostTree(tmp_path / "two")
    two.qemu("web", PID)
    two.pressure("cpu", 1)
    two.numa_maps(PID, NUMA_MAPS)
    two.vcpu(PID, PID + 1, 0, cpu=0)
    side = HostSide(two.paths, numa_interval_s=0.05)
    try:
        assert side.read([(UUID, 7, "web")])[UUID][1] is None  # the thread has not read it yet: never waited for
        numa = wait_for(lambda: side.read([(UUID, 7, "web")])[UUID][1], "the NUMA figure", 10)
        assert numa.source == "numa_maps" and numa.vcpu_nodes == ((0, 0),)
        pressure, again = side.read([(UUID, 7, "web")])[UUID]
        assert again == numa and pressure is not None
    finally:
        side.close()
    one = HostTree(tmp_path / "one", nodes={0: "0-3"})
    one.qemu("web", PID)
    one.numa_maps(PID, NUMA_MAPS)
    single = HostSide(one.paths, numa_interval_s=0.05)
    try:
        single.read([(UUID, 7, "web")])
        # rounds done: a one-node host never has a NUMA figure
        wait_for(lambda: single.numa_rounds >= 2, "two NUMA rounds", 10)
        assert single.read([(UUID, 7, "web")]) == {}
    finally:
        single.close()


def test_roots_are_config_keys(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('cgroup_root = "/tmp/cg"\nnuma_root = "relative/path"\n')
    settings, problems = config.load(path, env={"XENTUI_PROC_ROOT": "/tmp/proc"})
    assert settings.cgroup_root == "/tmp/cg" and settings.proc_root == "/tmp/proc"
    assert settings.numa_root == "/sys/devices/system/node"
    assert problems == [f"{path}: numa_root 'relative/path' must be an absolute directory path, "
                        "e.g. '/sys/devices/system/node'"]


def test_a_libvirt_tick_carries_them(tree):
    """Through LibvirtSource.collect (test driver; on a local QEMU host HostSide is made by itself)."""
    from xentui.sources.libvirt import LibvirtSource

    source = LibvirtSource("test:///default")
    try:
        assert source.host_side is None  # not a local QEMU/KVM host: nothing is read
        source.host_side = HostSide(tree.paths)
        tree.qemu("test", PID)
        tree.pressure("io", 0, 0)
        first = source.collect()
        tree.pressure("io", 1, 0)  # 1 us stalled in the window of two ticks (a few ms)
        second = source.collect()
        shot = build_snapshot(first, second)
        (view,) = [v for v in shot.domains if v.name == "test"]
        read = view.sample.pressure
        seconds = read.at - read.prev_at  # between the two reads of the files
        assert first.monotonic < read.prev_at < read.at < second.monotonic + 1
        assert view.psi is not None and view.psi.get("io") == pytest.approx(100 * 1e-6 / seconds)
        assert view.psi.get("io", "full") == 0.0
    finally:
        source.close()


def guests_with_psi(tree: HostTree, count: int) -> list[tuple[str, int, str]]:
    """(uuid, domid, name) of ``count`` running guests, each with its own cgroup and cpu.pressure."""
    running = []
    for i in range(count):
        cgroup = f"/machine.slice/vm{i}.scope"
        tree.qemu(f"vm{i}", 100 + i, cgroup)
        tree.pressure("cpu", i, cgroup=cgroup)
        running.append((f"uuid-{i}", i + 1, f"vm{i}"))
    return running


def test_a_ticks_psi_reads_stop_at_their_budget_and_go_on_next_tick(tree, monkeypatch):
    monkeypatch.setattr(hostside, "PSI_BUDGET_S", 3.5)
    running = guests_with_psi(tree, 5)
    now = [0.0]

    def clock() -> float:  # each look at the clock is a second later: the budget lets three guests be read
        now[0] += 1.0
        return now[0]

    def fresh(found) -> list[str]:
        return sorted(u for u, (psi, _numa) in found.items() if psi.at >= start)

    side = HostSide(tree.paths, clock=clock)
    start = now[0]
    assert fresh(side.read(running)) == ["uuid-0", "uuid-1", "uuid-2"]
    start = now[0]
    found = side.read(running)
    assert fresh(found) == ["uuid-0", "uuid-3", "uuid-4"]  # those left first, then from the top
    assert found["uuid-1"][0].at < start and len(found) == 5  # not read: its last sample, with its window
    monkeypatch.setattr(hostside, "PSI_BUDGET_S", 100.0)
    start = now[0]
    assert len(fresh(side.read(running))) == 5


def test_with_turns_the_guests_on_screen_are_read_every_tick_the_others_a_fifth_a_tick(tree):
    running = guests_with_psi(tree, 11)
    now = [0.0]
    side = HostSide(tree.paths, clock=lambda: now[0], turns=True)
    side.on_screen.rows, side.on_screen.detail = frozenset({"uuid-4", "uuid-9"}), "uuid-7"
    ticks = []
    for tick in range(1, 8):
        now[0] = float(tick)
        found = side.read(running)
        assert len(found) == 11  # every guest has its last sample
        ticks.append(sorted(int(u[5:]) for u, (psi, _numa) in found.items() if psi.at == tick))
    assert ticks[0] == list(range(11))  # never read: read at once
    assert all({4, 7, 9} <= set(t) for t in ticks)  # on screen, in the detail view: every tick
    off = [sorted(set(t) - {4, 7, 9}) for t in ticks[1:]]
    assert [len(t) for t in off] == [2, 2, 2, 2, 2, 2]  # 8 off screen: 2 a tick (a fifth, rounded up)
    assert sorted(i for t in off[:4] for i in t) == [0, 1, 2, 3, 5, 6, 8, 10]  # each read once in 4 ticks, in turn
    side.turns = False
    now[0] = 9.0
    assert all(psi.at == 9.0 for psi, _numa in side.read(running).values())  # without turns: all, budget allowing


class FlippingRows:
    """What the view shows, replaced by the UI's thread each time it is looked at (the worst timing)."""

    detail = None

    def __init__(self) -> None:
        self.sets = itertools.cycle([frozenset({"uuid-1"}), frozenset({"uuid-2"})])

    @property
    def rows(self) -> frozenset[str]:
        return next(self.sets)


def test_the_rows_on_screen_are_taken_once_a_tick(tree):
    # a set replaced while a tick sorts the guests must leave each guest in one group: none dropped (its files
    # closed, its window lost), none read twice
    running = guests_with_psi(tree, 6)
    now = [0.0]
    side = HostSide(tree.paths, clock=lambda: now[0], turns=True, on_screen=FlippingRows())  # type: ignore[arg-type]
    for tick in range(1, 6):
        now[0] = float(tick)
        found = side.read(running)
        assert sorted(found) == [u for u, _d, _n in running] and len(side._guests) == 6
        assert all(psi.prev_at is None or psi.at - psi.prev_at >= 1.0 for psi, _numa in found.values())


def test_turns_never_starve_the_others_and_a_guest_without_psi_takes_no_turn(tree):
    running = guests_with_psi(tree, 6)
    for name in ("vm4", "vm5"):  # a cgroup, but no pressure files (psi=0): read once, then in turn like the others
        (tree.cgroup_dir(f"/machine.slice/{name}.scope") / "cpu.pressure").unlink()
    now = [0.0]
    side = HostSide(tree.paths, clock=lambda: now[0], turns=True)

    def tick(at: float) -> list[int]:
        now[0] = at
        return sorted(int(u[5:]) for u, (psi, _n) in side.read(running).items() if psi is not None and psi.at == at)

    assert tick(1.0) == [0, 1, 2, 3]  # never read: all at once
    assert len(tick(2.0)) <= 2  # no view (batch --fast): a fifth of the 6 a tick, rounded up
    side.on_screen.rows = frozenset({"uuid-0"})
    read = [tick(t) for t in (3.0, 4.0, 5.0, 6.0, 7.0)]  # the 5 off screen: one a tick
    assert all(r[0] == 0 and len(r) <= 2 for r in read) and {1, 2, 3} <= {i for r in read for i in r}
    clock = [10.0]

    def slow() -> float:  # each look at the clock is 30 ms later: the row on screen alone is past the budget
        clock[0] += 0.03
        return clock[0]

    side = HostSide(tree.paths, clock=slow, turns=True)
    side.on_screen.rows = frozenset({"uuid-0"})
    for _ in range(8):
        side.read(running)
    assert len({u for u, (psi, _n) in side.read(running).items() if psi is not None}) == 4  # one more a tick


def test_libvirts_emulator_cgroup_stands_for_its_parent_and_the_root_for_nothing(tree):
    tree.qemu("web", PID, cgroup="/machine/qemu-7-web.libvirt-qemu/emulator")  # libvirt's own layout
    assert cgroup_of(tree.paths.proc, PID) == "/machine/qemu-7-web.libvirt-qemu"  # the VM's: emulator + vcpuN
    tree.qemu("web", PID, cgroup="/")
    assert cgroup_of(tree.paths.proc, PID) is None  # the whole host's pressure is not the VM's


def test_hybrid_hosts_psi_is_on_the_unified_mount(tree):
    """systemd's hybrid mode (this lab host): controllers on v1, the v2 hierarchy (with PSI) at <root>/unified."""
    unified = tree.paths.cgroup / "unified"
    (unified / CGROUP.lstrip("/")).mkdir(parents=True)
    (unified / "cgroup.controllers").write_text("")
    (unified / CGROUP.lstrip("/") / "io.pressure").write_text("some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n")
    tree.qemu("web", PID)
    assert HostSide(tree.paths).read([(UUID, 7, "web")])[UUID][0].get("io", "some").total_us == 42
    (tree.paths.cgroup / "cgroup.controllers").write_text("")  # unified mode: the root itself, where none is
    assert HostSide(tree.paths).read([(UUID, 7, "web")]) == {}
