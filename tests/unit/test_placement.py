"""Host topology, the placement cache's reading policy, and the vCPU matrix text."""

from __future__ import annotations

import libvirt

from xentui.model import Pcpu
from xentui.sources import placement
from xentui.sources.placement import PlacementCache, parse_topology, placement_from_vcpus


def test_topology_from_real_xen_capabilities(data_dir):
    xml = (data_dir / "virsh-capabilities-xen.txt").read_text()
    assert parse_topology(xml) == (Pcpu(0, node=0, socket=0, core=0), Pcpu(1, node=0, socket=0, core=1))


def test_topology_from_the_test_driver_with_its_online_map():
    conn = libvirt.openReadOnly("test:///default")
    try:  # closed at once: an open connection keeps test:///default's one state for later tests
        size, online, _count = conn.getCPUMap()
        topo = parse_topology(conn.getCapabilities(), online)
    finally:
        conn.close()
    by_number = {p.number: p for p in topo}
    assert by_number[0] == Pcpu(0, node=0, socket=0, core=0, online=True)
    assert by_number[9].node == 1 and by_number[9].socket == 1
    assert {p.number for p in topo if not p.online} == {n for n in range(size) if not online[n]}


def test_cpus_without_ids_in_the_topology_still_count():
    xml = "<capabilities><host><topology><cells num='1'><cell id='0'><cpus num='1'><cpu id='0'/></cpus>" \
          "</cell></cells></topology></host></capabilities>"
    assert parse_topology(xml, [True, False]) == (Pcpu(0, node=0, socket=0), Pcpu(1, online=False))


def test_placement_from_vcpus_call():
    infos = [(0, 1, 10, 1), (1, 1, 10, -1)]
    maps = [(False, True), (True, True)]
    assert placement_from_vcpus(infos, maps) == {0: (1, frozenset({1})), 1: (None, frozenset({0, 1}))}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_reads_new_and_watched_domains_and_spreads_the_rest():
    clock = Clock()
    cache = PlacementCache(clock=clock)
    keys = [(f"u{i}", i) for i in range(300)]
    assert cache.due(keys) == keys  # all new
    for key in keys:
        cache.store(key, {0: (0, frozenset({0}))})
    assert cache.due(keys) == []  # fresh: nothing to read
    cache.watch = "u7"
    assert cache.due(keys) == [("u7", 7)]
    clock.now += placement.REFRESH_S
    due = cache.due(keys)
    assert due[0] == ("u7", 7) and len(due) == 1 + 300 // int(placement.REFRESH_S)  # 1/60 of them a tick
    cache.watch, cache.want_all = None, True
    assert len(cache.due(keys)) == placement.ALL_BUDGET  # a view of every pCPU: bounded too


def test_cache_hides_a_stale_current_pcpu_but_keeps_affinity():
    clock = Clock()
    cache = PlacementCache(clock=clock)
    cache.store(("u", 1), {0: (3, frozenset({2, 3}))})
    assert cache.get(("u", 1)) == {0: (3, frozenset({2, 3}))}
    clock.now += placement.FRESH_PCPU_S + 1
    assert cache.get(("u", 1)) == {0: (None, frozenset({2, 3}))}
    cache.forget("u")
    assert cache.get(("u", 1)) is None


def test_xen_topology_from_real_xl_info_n(data_dir):
    from xentui.sources.xen.xl import parse_xl_topology

    text = (data_dir / "xl-info-n.txt").read_text()
    assert parse_xl_topology(text) == (Pcpu(0, node=0, socket=0, core=0), Pcpu(1, node=0, socket=0, core=1))
    offline = "cpu_topology           :\ncpu:    core    socket     node\n  0:       0        1        1\n" \
              "  1:       -        -        -\ndevice topology        :\n"
    assert parse_xl_topology(offline) == (Pcpu(0, node=1, socket=1, core=0), Pcpu(1, online=False))


def test_xen_persistent_pin_is_refused_in_words():
    import pytest

    from xentui.actions import Action
    from xentui.model import DomainSample, DomainState
    from xentui.sources import SourceError
    from xentui.sources.xen.xl import action_line

    dom = DomainSample(uuid="u", name="d", domid=3, state=DomainState.RUNNING)
    assert action_line(dom, Action.PIN, {"vcpu": 0, "hard": frozenset({1})}, 2) == ["vcpu-pin", "3", "0", "1", "-"]
    with pytest.raises(SourceError, match="running domain only"):
        action_line(dom, Action.PIN, {"vcpu": 0, "hard": frozenset({1}), "persistent": True}, 2)


def test_a_hung_stats_call_is_left_behind_and_made_once_more(monkeypatch):
    """A call that does not return by its deadline keeps running in a daemon thread; the retry answers
    (libvirt's NOWAIT skips the domain the hung call holds); hung calls are bounded (the process-wide
    cap of :mod:`deadlines`), then the source is reported unreachable."""
    import threading

    import pytest

    from xentui.sources import SourceError, deadlines
    from xentui.sources.libvirt import LibvirtSource, connection

    monkeypatch.setattr(connection, "MIN_DEADLINE_S", 0.2)
    source = LibvirtSource("test:///default")
    monkeypatch.setattr(deadlines, "CAP", deadlines.running() + 5)
    release = threading.Event()
    answers = iter(["hung", "second"])
    before = deadlines.abandoned()

    def call():
        answer = next(answers)
        if answer == "hung":
            release.wait()
        return answer

    try:
        assert source._within_deadline(call) == "second"
        assert deadlines.abandoned() == before + 1
        # Slow twice while libvirtd answers a trivial call: busy, not gone, so the second call is waited for.
        slow = threading.Event()
        assert source._within_deadline(lambda: slow.wait(0.5) or "late") == "late"
        wait_for(lambda: deadlines.abandoned() == before + 1)  # the first, abandoned slow call has returned too
        source._stats_calls.last_s = 0.0  # the deadline back to 0.2 s
        monkeypatch.setattr(source, "_answers", lambda: False)  # from now on libvirtd answers nothing
        with pytest.raises(SourceError, match="did not answer within"):
            source._within_deadline(lambda: release.wait())  # hangs twice: the source is unreachable
        with pytest.raises(SourceError, match="did not answer within"):
            source._within_deadline(lambda: release.wait())  # 5 hung now: the cap
        with pytest.raises(SourceError, match="refused, 5 calls are still running"):
            source._within_deadline(lambda: "never")  # no more threads: refused until they return
    finally:
        release.set()
    wait_for(lambda: deadlines.abandoned() == before)
    assert source._within_deadline(lambda: "fine") == "fine"  # they finished: calls go through again
    source.close()


def wait_for(predicate, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)
