"""FleetSource: several real libvirt test-driver hosts as one source; a hung host, a failing one, routing, close."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.factories import HOST, dom, raw
from tests.libvirt_test_driver import driver_xml
from xentui.actions import Action, ActionError, perform
from xentui.model import DomainState, HostPart, HostState, RawSample, Snapshot, build_snapshot
from xentui.poller import Poller
from xentui.sources import deadlines
from xentui.sources.base import HistoryPoint, Source, SourceError
from xentui.sources.fleet import FleetSource, HostSpec
from xentui.sources.fleet.source import open_member

B_UUID = "bbbbbbbb-0000-0000-0000-000000000002"


def driver_hosts(tmp_path: Path, *counts: int) -> list[HostSpec]:
    specs = []
    for n, count in enumerate(counts):
        path = tmp_path / f"h{n}.xml"
        path.write_text(driver_xml(count, host=n))
        specs.append(HostSpec(name=f"h{n}", uri=f"test://{path}", group="g" if n else ""))
    return specs


class Fake(Source):
    """A host that answers, hangs while ``hang`` is set, or fails while ``fail`` says why."""

    def __init__(self, uuid: str = B_UUID) -> None:
        self.uri = "fake://"
        self.hang = threading.Event()
        self.release = threading.Event()
        self.fail = ""
        self.calls = 0
        self.interest: tuple[str | None, bool] = (None, False)
        self.closed = False
        self._t = 0.0
        self._uuid = uuid

    def collect(self) -> RawSample:
        self.calls += 1
        if self.hang.is_set():
            self.release.wait(30)
        if self.fail:
            raise SourceError(self.fail)
        self._t += 1.0
        return raw(self._t, dom(self._t / 2, uuid=self._uuid, name="b-web"))

    def set_interest(self, uuid: str | None, all_pcpus: bool = False) -> None:
        self.interest = (uuid, all_pcpus)

    def close(self) -> None:
        self.closed = True


def until(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """Wait for ``predicate`` (polled), failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"not within {seconds:g} s: {what}"
        time.sleep(0.02)


def warmed(fleet: FleetSource, up: int) -> RawSample:
    """A tick in which the first ``up`` hosts are UP: a host's first tick also opens its connection, which a
    loaded machine may not do within a short ``wait_s`` (then CONNECTING); these tests are about later ticks."""
    deadline = time.monotonic() + 30
    while True:
        sample = fleet.collect()
        if all(p.state is HostState.UP for p in sample.parts[:up]):
            return sample
        assert time.monotonic() < deadline, f"not within 30 s: the first {up} host(s) up"


def opener(fakes: dict[str, Source], readonly: bool = True) -> Callable[[HostSpec], Source]:
    """Named fakes; any other host through the real URI factory."""
    return lambda spec: fakes[spec.name] if spec.name in fakes else open_member(spec, readonly)


@pytest.fixture
def closing() -> Iterator[list[Source]]:
    made: list[Source] = []
    yield made
    for source in made:
        source.close()


def test_several_test_driver_hosts_are_one_sample_with_a_part_each(tmp_path: Path, closing: list[Source]) -> None:
    fleet = FleetSource(driver_hosts(tmp_path, 2, 3), name="lab")
    closing.append(fleet)
    first = fleet.collect()
    second = fleet.collect()
    assert [(p.name, p.state, p.group, len(p.cur.domains) if p.cur else 0) for p in second.parts] == [
        ("h0", HostState.UP, "", 2), ("h1", HostState.UP, "g", 3)]
    assert sorted({d.host for d in second.domains}) == ["h0", "h1"] and len(second.domains) == 5
    assert (second.host.hostname, second.host.hypervisor, fleet.uri) == ("lab", "fleet", "fleet:lab")
    assert second.host.pcpus == sum(p.cur.host.pcpus for p in second.parts if p.cur)
    assert second.parts[0].prev is first.parts[0].cur  # each host's own two samples
    shot = build_snapshot(first, second)
    assert len(shot.by_key()) == 5 and all(key.startswith(("h0/", "h1/")) for key in shot.by_key())
    assert all(d.rates.cpu_pct is not None for d in shot.domains)
    assert [h.interval_s is not None and h.interval_s > 0 for h in shot.hosts] == [True, True]


class BlackHole:
    """A TCP listener on 127.0.0.1 that accepts and never answers (a host whose libvirtd hangs)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        """Hang up: the client's hung call fails at once and its thread ends."""
        for sock in [self.listener, *self.accepted]:
            sock.close()


def test_a_hung_host_never_delays_the_others(tmp_path: Path, closing: list[Source]) -> None:
    """A libvirtd that accepts and never answers, and a host that answered once then hangs: the live host's
    samples come every tick, each tick waits at most ``wait_s``, and the others say why they have nothing new."""
    hole = BlackHole()
    calls_before = deadlines.running()
    hung = Fake()
    specs = [*driver_hosts(tmp_path, 2), HostSpec("hung", "fake://"),
             HostSpec("hole", f"qemu+tcp://127.0.0.1:{hole.port}/system")]
    fleet = FleetSource(specs, wait_s=0.5, opener=opener({"hung": hung}))
    closing.append(fleet)
    warmed(fleet, 2)
    hung.hang.set()
    try:
        seen: list[float] = []
        for _ in range(4):
            start = time.monotonic()
            sample = fleet.collect()
            assert time.monotonic() - start < 0.5 + 1.0  # the wait, and slack for a loaded machine
            live, stale, hole_part = sample.parts
            assert live.state is HostState.UP and live.cur is not None
            seen.append(live.cur.monotonic)
            assert (stale.state, stale.reason) == (HostState.STALE, "no answer within 0.5 s")
            assert hole_part.state in (HostState.CONNECTING, HostState.DOWN) and hole_part.cur is None
        assert seen == sorted(set(seen))  # a new sample of the live host every tick
        shot = build_snapshot(None, sample)
        old = [d for d in shot.domains if d.host == "hung"]
        assert [d.sample.stale for d in old] == ["host hung stale: no answer within 0.5 s"]
        hung.release.set()
        hung.hang.clear()
        until(lambda: fleet.collect().parts[1].state is HostState.UP, 10, "the host that hung came back")
    finally:
        hung.release.set()
        hole.close()
    # The hung connect has returned: no thread of it is left for later tests.
    until(lambda: deadlines.running() <= calls_before, 15, "the call to the black hole returned")


def test_a_hung_call_holds_one_tick_not_every_tick(tmp_path: Path, closing: list[Source]) -> None:
    """The call that hangs is waited for once (its tick takes ``wait_s``); the ticks after it do not wait on it."""
    hung = Fake()
    fleet = FleetSource([*driver_hosts(tmp_path, 1), HostSpec("hung", "fake://")], wait_s=2.0,
                        opener=opener({"hung": hung}))
    closing.append(fleet)
    fleet.collect()
    hung.hang.set()
    try:
        start = time.monotonic()
        fleet.collect()
        assert time.monotonic() - start >= 2.0  # the tick the hang began: waited for, once
        for _ in range(3):
            start = time.monotonic()
            assert fleet.collect().parts[1].state is HostState.STALE
            assert time.monotonic() - start < 1.0  # not waited for again
    finally:
        hung.release.set()
        hung.hang.clear()


def test_a_fleet_makes_room_for_its_hosts_calls(tmp_path: Path, closing: list[Source], monkeypatch) -> None:
    monkeypatch.setattr(deadlines, "CAP", 16)
    closing.append(FleetSource(driver_hosts(tmp_path, 1, 1, 1), wait_s=0.5))
    assert deadlines.CAP == 3 * deadlines.PER_HOST
    closing.append(FleetSource(driver_hosts(tmp_path, 1, 1), wait_s=0.5))
    assert deadlines.CAP == 3 * deadlines.PER_HOST  # never lowered
    closing.append(FleetSource([HostSpec(f"s{i}", "synthetic://1") for i in range(100)], wait_s=0.5))
    assert deadlines.CAP == deadlines.MAX_CAP


def test_the_poller_keeps_its_cadence_with_a_hung_host(tmp_path: Path) -> None:
    hung = Fake()
    hung.hang.set()
    fleet = FleetSource([*driver_hosts(tmp_path, 1), HostSpec("hung", "fake://")], wait_s=0.3,
                        opener=opener({"hung": hung}))
    warmed(fleet, 1)

    async def run() -> list[tuple[float, Snapshot]]:
        poller = Poller(fleet, 0.4, reconnect=False)
        got = []
        try:
            async for event in poller.events():
                assert isinstance(event, Snapshot)
                got.append((time.monotonic(), event))
                if len(got) == 5:
                    break
        finally:
            poller.close()
        return got

    try:
        got = asyncio.run(asyncio.wait_for(run(), 30))
    finally:
        hung.release.set()
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(got)]
    assert max(gaps) < 0.4 + 1.0, gaps  # the delay, and slack for a loaded machine; never the hung host's time
    assert all([h.state for h in s.hosts] == [HostState.UP, HostState.CONNECTING] for _, s in got)
    assert all(len(s.domains) == 1 and s.domains[0].host == "h0" for _, s in got)


def test_a_tick_waits_for_slow_hosts_no_longer_than_the_delay_as_it_changes(tmp_path: Path) -> None:
    """The d key sets the poller's delay: a fleet's tick then waits min(delay, 2 s) for a hung host, not the
    delay it started with."""
    hung = Fake()
    hung.hang.set()
    fleet = FleetSource([*driver_hosts(tmp_path, 1), HostSpec("hung", "fake://")], opener=opener({"hung": hung}))
    poller = Poller(fleet, 5.0, reconnect=False)
    try:
        warmed(fleet, 1)  # (the hung host's connect was waited for: 2 s)
        assert fleet.wait_s == 2.0  # min(5 s, 2 s)
        poller.delay = 0.3
        assert fleet.wait_s == 0.3
        start = time.monotonic()
        assert [p.state for p in fleet.collect().parts] == [HostState.UP, HostState.CONNECTING]
        assert time.monotonic() - start < 0.3 + 1.0  # not the 2 s it waited before the change
        poller.delay = 60
        assert fleet.wait_s == 2.0
    finally:
        poller.close()
        hung.release.set()
        fleet.close()


def test_a_failing_host_is_down_with_its_line_and_is_retried_with_backoff(tmp_path: Path,
                                                                           closing: list[Source]) -> None:
    now = [100.0]
    bad = Fake()
    bad.fail = "refused \x1b[31mred\nsecond line"
    fleet = FleetSource([*driver_hosts(tmp_path, 1), HostSpec("bad", "fake://")], opener=opener({"bad": bad}),
                        clock=lambda: now[0])
    closing.append(fleet)
    part = fleet.collect().parts[1]
    assert (part.state, part.reason) == (HostState.DOWN, "refused ␛[31mred␊second line")  # literal, one line
    calls = bad.calls
    now[0] += 0.5
    assert fleet.collect().parts[1].state is HostState.DOWN and bad.calls == calls  # not before its back-off
    bad.fail = ""
    now[0] += 1.0
    part = fleet.collect().parts[1]
    assert part.state is HostState.UP and bad.calls == calls + 1 and part.cur is not None


def test_every_host_down_at_the_first_tick_is_one_source_error(closing: list[Source]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    specs = [HostSpec(f"h{n}", f"qemu+tcp://127.0.0.1:{port}/system") for n in range(4)]
    fleet = FleetSource(specs, wait_s=5.0)
    closing.append(fleet)
    with pytest.raises(SourceError) as err:
        fleet.collect()
    line = str(err.value)
    assert line.startswith("no host of the fleet answers: h0: cannot connect") and line.endswith("; and 1 more")
    assert "\n" not in line


def test_actions_and_interest_go_to_the_domains_host(tmp_path: Path, closing: list[Source]) -> None:
    fake = Fake()
    specs = [*driver_hosts(tmp_path, 2, 2), HostSpec("f", "fake://")]
    fleet = FleetSource(specs, readonly=False, opener=opener({"f": fake}, readonly=False))
    closing.append(fleet)
    sample = fleet.collect()
    assert fleet.CAN_ACT and fleet.HAS_PLACEMENT
    target = next(d for d in sample.domains if d.host == "h1")
    perform(fleet, target, Action.PAUSE, host=sample.host)
    states = {(d.host, d.uuid): d.state for d in fleet.collect().domains}
    assert states[("h1", target.uuid)] is DomainState.PAUSED
    assert [s for (h, _), s in states.items() if h == "h0"] == [DomainState.RUNNING] * 2  # only its host
    on_fake = next(d for d in sample.domains if d.host == "f")
    with pytest.raises(ActionError, match=r"^host f: pause: this source takes no actions$"):
        fleet.act(on_fake, Action.PAUSE, {})
    with pytest.raises(ActionError, match="no host 'nowhere' in this fleet"):
        fleet.current_uuid(replace(on_fake, host="nowhere"))
    fleet.set_interest(on_fake.key, all_pcpus=True)
    assert fake.interest == (B_UUID, True)
    fleet.set_interest(target.key)
    assert fake.interest == (None, False)


def test_a_source_with_parts_is_flattened_and_goes_stale_as_one(closing: list[Source]) -> None:
    """A Prometheus-like member: its hosts join the fleet's, their domains named after them."""
    class Many(Fake):
        asked: list[tuple[str, float]] = []

        def history(self, domain_key: str, seconds: float) -> list[HistoryPoint]:
            self.asked.append((domain_key, seconds))
            return [HistoryPoint(1.0, 5.0, 1024)]

        def collect(self) -> RawSample:
            one = super().collect()
            parts = tuple(HostPart(n, HostState.UP, cur=one) for n in ("p1", "p2"))
            return RawSample(one.monotonic, one.wall, HOST, one.domains * 2, parts=parts)

    many = Many()
    fleet = FleetSource([HostSpec("p2", "synthetic://2"), HostSpec("prom", "fake://", group="dc1")], wait_s=0.3,
                        opener=opener({"prom": many}))
    closing.append(fleet)
    sample = warmed(fleet, 3)
    assert [(p.name, p.group, p.state) for p in sample.parts] == [
        ("p2", "", HostState.UP), ("p1", "dc1", HostState.UP), ("p2@prom", "dc1", HostState.UP)]  # a name clash
    assert sorted(d.host for d in sample.domains if d.name == "b-web") == ["p1", "p2@prom"]
    renamed = next(d for d in sample.domains if d.host == "p2@prom")
    assert fleet.history(renamed.key, 60) == [HistoryPoint(1.0, 5.0, 1024)]
    assert many.asked == [(f"p2/{renamed.uuid}", 60)]  # the name the Prometheus source knows, not p2@prom
    many.hang.set()
    try:
        assert [p.state for p in fleet.collect().parts] == [HostState.UP, HostState.STALE, HostState.STALE]
    finally:
        many.release.set()


def test_close_never_waits_on_a_hung_host(tmp_path: Path) -> None:
    hung = Fake()
    hung.hang.set()
    fleet = FleetSource([*driver_hosts(tmp_path, 1), HostSpec("hung", "fake://")], wait_s=0.2,
                        opener=opener({"hung": hung}))
    fleet.collect()
    start = time.monotonic()
    fleet.close()
    fleet.close()
    assert time.monotonic() - start < 0.5
    hung.release.set()
    until(lambda: hung.closed, 10, "the hung host was closed in its own thread once its call returned")


def test_naming_a_domains_host_is_replace_without_recomputing() -> None:
    from xentui.sources.fleet.member import with_host
    from xentui.sources.synthetic import SyntheticSource

    for domain in SyntheticSource(count=20, cache=True).collect().domains:
        named = with_host(domain, "kvm-01")
        assert named == replace(domain, host="kvm-01") and named.io == domain.io and named.key.startswith("kvm-01/")


def test_a_domains_stored_history_is_asked_of_its_own_host(tmp_path: Path, closing: list[Source]) -> None:
    from xentui.sources.base import HistoryPoint

    class Keeping(Fake):
        def history(self, domain_key: str, seconds: float) -> list[HistoryPoint] | None:
            return [HistoryPoint(wall=seconds, cpu_pct=1.0, mem_kib=None)] if domain_key.startswith("keep/") else []

    fleet = FleetSource([*driver_hosts(tmp_path, 1), HostSpec("keep", "fake://")], wait_s=2.0,
                        opener=opener({"keep": Keeping()}))
    closing.append(fleet)
    fleet.collect()
    assert fleet.history(f"keep/{B_UUID}", 60.0) == [HistoryPoint(wall=60.0, cpu_pct=1.0, mem_kib=None)]
    assert fleet.history("h0/whatever", 60.0) is None  # a libvirt host keeps none: this session's memory
    assert fleet.history("nowhere/x", 60.0) is None


class Delayed(Fake):
    def __init__(self, uuid: str = B_UUID) -> None:
        super().__init__(uuid)
        self.delays: list[float] = []

    def set_delay(self, delay_s: float) -> None:
        self.delays.append(delay_s)


def test_each_hosts_source_is_told_the_delay_once_open_or_when_it_opens(closing):
    """d changes a fleet's delay: each host's source follows it (a Prometheus host's tick deadline), the one that
    opens later too."""
    early, late = Delayed(), Delayed("cccccccc-0000-0000-0000-000000000003")
    fleet = FleetSource([HostSpec("a", "fake://"), HostSpec("b", "fake://")], wait_s=2.0,
                        opener=opener({"a": early, "b": late}))
    closing.append(fleet)
    fleet.members[0].start(0.0).result(timeout=10)  # a opens; b not yet
    fleet.set_delay(15.0)
    assert early.delays == [15.0] and fleet.wait_s == 2.0
    fleet.members[1].start(0.0).result(timeout=10)
    assert late.delays == [15.0]


class Unsized(Fake):
    """A host that cannot say its size (Prometheus without node_exporter): 0 pCPUs, 0 KiB."""

    def collect(self) -> RawSample:
        sample = super().collect()
        return replace(sample, host=replace(sample.host, pcpus=0, mem_total_kib=0, mem_free_kib=0))


def test_the_fleets_size_is_unknown_when_a_live_host_s_is_not_a_partial_sum(tmp_path: Path,
                                                                          closing: list[Source]) -> None:
    sized = FleetSource(driver_hosts(tmp_path, 1, 1), name="lab")
    closing.append(sized)
    one = sized.collect().parts[0].cur
    assert one is not None
    host = sized.collect().host
    assert (host.pcpus, host.mem_total_kib) == (2 * one.host.pcpus, 2 * one.host.mem_total_kib)
    fleet = FleetSource([*driver_hosts(tmp_path, 1), HostSpec("u", "fake://")], opener=opener({"u": Unsized()}))
    closing.append(fleet)
    host = fleet.collect().host
    assert (host.pcpus, host.mem_total_kib, host.mem_used_kib) == (0, 0, None)


def test_a_fleet_keeps_history_when_one_of_its_hosts_is_a_prometheus(tmp_path, closing):
    """The kind of a fleet is the set of its hosts' kinds: a Prometheus among them has a store of its own."""
    plain = FleetSource(driver_hosts(tmp_path, 1), name="plain")
    closing.append(plain)
    mixed = FleetSource([*driver_hosts(tmp_path, 1), HostSpec("prom", "prometheus+http://127.0.0.1:9")],
                        name="mixed", opener=opener({"prom": Fake()}))
    closing.append(mixed)
    assert not plain.KEEPS_HISTORY and mixed.KEEPS_HISTORY
