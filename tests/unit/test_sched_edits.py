"""Scheduler edits: one line with the valid range for a bad value, through perform()'s guards to the source;
libvirt's test driver read and edited; the background watch; a fleet's merge; batch JSON's fields."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from tests.factories import HOST, dom, raw, run_cli, wait_for
from tests.libvirt_test_driver import driver_xml
from xentui.actions import READ_ONLY, Action, ActionError, perform, validate
from xentui.model import CpuPool, DomainScheduling, HostPart, HostState, SchedulingState, VcpuBudget, build_snapshot
from xentui.output import records
from xentui.sources.base import SourceError
from xentui.sources.fleet.scheduling import MergedScheduling, StampedScheduling
from xentui.sources.libvirt import LibvirtSource
from xentui.sources.scheduling import SchedulingWatch


def check(sched: dict, vcpus: int = 2, vcpu: object = None) -> dict:
    params = {"sched": sched} | ({} if vcpu is None else {"vcpu": vcpu})
    return dict(validate(Action.SCHEDULE, params, HOST, vcpus))


@pytest.mark.parametrize(("sched", "vcpus", "vcpu", "said"), [
    ({"weight": 0}, 1, None, "weight 0 is out of range: 1-65535"),
    ({"weight": 65536}, 1, None, "weight 65536 is out of range: 1-65535"),
    ({"cap": 201}, 2, None, "cap 201 is out of range: 0-200 (% of one pCPU, 100 per vCPU; this domain has 2"),
    ({"cap": "lots"}, 2, None, "cap 'lots' is not a whole number"),
    ({"period_us": 100000, "budget_us": 100001}, 1, None, "budget_us 100001 is above period_us 100000: RTDS needs "
                                                          "budget <= period"),
    ({"budget_us": 300}, 1, None, "RTDS needs both period_us and budget_us"),
    ({"period_us": 5, "budget_us": 5}, 1, None, "period_us 5 is out of range: 10-2147483647 us"),
    ({"period_us": 100, "budget_us": 50}, 2, 2, "vCPU 2 does not exist; this domain has vCPUs 0-1 (or all)"),
    ({"period_us": 100, "budget_us": 50, "extratime": "maybe"}, 1, None, "extratime 'maybe' is not yes or no"),
    ({"cpu_shares": 1}, 1, None, "cpu_shares 1 is out of range: 2-262144"),
    ({"vcpu_quota": 999}, 1, None, "vcpu_quota 999 is out of range: 1000-17592186044415 us (or -1: no limit)"),
    ({"vcpu_period": 1000001}, 1, None, "vcpu_period 1000001 is out of range: 1000-1000000 us"),
    ({"weight": 5, "cap": 5}, 1, 0, "are set per domain, not per vCPU"),
    ({"weight": 5, "vcpu_quota": 5000}, 1, None, "mix two schedulers' parameters"),
    ({"tslice": 5}, 1, None, "unknown scheduler parameter(s) 'tslice'; known: budget_us, cap,"),
    ({}, 1, None, "schedule needs parameters, e.g. weight=512"),
])
def test_a_bad_value_says_the_valid_range_in_one_line(sched, vcpus, vcpu, said) -> None:
    with pytest.raises(ActionError) as err:
        check(sched, vcpus, vcpu)
    assert said in str(err.value) and "\n" not in str(err.value)


def test_good_values_are_normalised() -> None:
    assert check({"weight": "512", "cap": 0}) == {"sched": {"weight": 512, "cap": 0}, "vcpu": "all"}
    assert check({"period_us": 100000, "budget_us": 30000, "extratime": "no"}, vcpu=1) == {
        "sched": {"period_us": 100000, "budget_us": 30000, "extratime": False}, "vcpu": 1}
    assert check({"vcpu_period": 100000, "vcpu_quota": -1, "cpu_shares": 262144})["sched"]["vcpu_quota"] == -1
    assert validate(Action.CPUPOOL, {"pool": " rt "}, HOST, 1) == {"pool": "rt"}
    with pytest.raises(ActionError, match="cpupool needs the name of a cpupool"):
        validate(Action.CPUPOOL, {"pool": "a\x1b[2Jb"}, HOST, 1)


@pytest.fixture
def test_driver(tmp_path: Path):
    path = tmp_path / "host.xml"
    path.write_text(driver_xml(2))
    source = LibvirtSource(f"test://{path}", readonly=False)
    yield source
    source.close()


def test_libvirt_reads_each_domains_parameters_and_edits_them_through_perform(test_driver) -> None:
    source = test_driver
    source.watch_scheduling(True)
    got = source.collect()
    state = got.scheduling
    assert state is not None and not state.error
    assert [(p.name, p.scheduler) for p in state.pools] == [("host", "fair")]  # the test driver's scheduler
    active = [d for d in got.domains if d.active]
    assert {d.uuid for d in state.domains} == {d.uuid for d in active}
    assert all(d.pool is None and d.param("weight") == 50 for d in state.domains)
    target = active[0]
    perform(source, target, Action.SCHEDULE, host=got.host, sched={"weight": 10})  # the driver keeps its 50
    with pytest.raises(ActionError, match='"cpu_shares" could not be recognized; its scheduler\'s parameters: weight'):
        perform(source, target, Action.SCHEDULE, host=got.host, sched={"cpu_shares": 512})
    with pytest.raises(ActionError, match="cpupools are Xen's"):
        perform(source, target, Action.CPUPOOL, host=got.host, pool="Pool-0")
    readonly = LibvirtSource(source.uri)
    try:
        with pytest.raises(ActionError, match=re.escape(READ_ONLY)):
            perform(readonly, target, Action.SCHEDULE, host=got.host, sched={"weight": 10})
    finally:
        readonly.close()


def test_a_failed_read_keeps_the_last_state_and_says_why() -> None:
    answers: list[object] = [SchedulingState(wall=1.0, pools=(CpuPool("Pool-0", "credit2", frozenset({0})),)),
                             SourceError("xl cpupool-list did not answer within 10 s")]
    read = threading.Semaphore(0)

    def reader() -> SchedulingState:
        answer = answers.pop(0) if answers else answers
        read.release()
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, SchedulingState) else SchedulingState(wall=2.0)

    watch = SchedulingWatch(reader, "test-sched", every_s=3600)
    try:
        assert watch.current() is None  # nobody watches: nothing read
        watch.watch(True)
        assert watch.current().pools[0].name == "Pool-0"
        watch.changed()
        wait_for(lambda: watch.state is not None and watch.state.error, "the failed read")
        assert watch.state.error == "xl cpupool-list did not answer within 10 s"
        assert watch.state.pools[0].name == "Pool-0" and watch.state.wall == 1.0
    finally:
        watch.close()


def test_a_fleet_names_each_hosts_pools_and_domains_and_merges_only_on_change() -> None:
    state = SchedulingState(wall=5.0, pools=(CpuPool("Pool-0", "credit2", frozenset({0, 1})),),
                            domains=(DomainScheduling("u1", "web", "Pool-0", "credit2", (("weight", 256),)),))
    stamp = StampedScheduling()
    a = stamp(state, "h1")
    assert stamp(state, "h1") is a and a.domains[0].key == "h1/u1" and a.pools[0].host == "h1"
    other = StampedScheduling()(SchedulingState(wall=6.0, error="xl: no answer"), "h2")
    parts = tuple(HostPart(name=n, state=HostState.UP, cur=replace(raw(1.0), scheduling=s))
                  for n, s in (("h1", a), ("h2", other)))
    merge = MergedScheduling()
    merged = merge(parts)
    assert merge(parts) is merged
    assert merged.wall == 6.0 and merged.error == "h2: xl: no answer" and [d.key for d in merged.domains] == ["h1/u1"]


def test_batch_json_carries_cpupool_sched_and_the_pools() -> None:
    web = dom(1.0, name="web", uuid="u1")
    rt = dom(1.0, name="rt", uuid="u2")
    cur = raw(10.0, web, rt)
    pools = (CpuPool("Pool-0", "credit2", frozenset({0}), params=(("ratelimit_us", 1000),)),
             CpuPool("rt", "rtds", frozenset({1})))
    state = SchedulingState(wall=cur.wall - 1, pools=pools, domains=(
        DomainScheduling("u1", "web", "Pool-0", "credit2", (("weight", 256), ("cap", 0))),
        DomainScheduling("u2", "rt", "rt", "rtds", vcpus=(VcpuBudget(0, 100000, 30000, False),))))
    shot = build_snapshot(None, replace(cur, scheduling=state))
    frame = json.loads(records.json_frame(shot, 1))
    doms = {d["name"]: d for d in frame["domains"]}
    assert doms["web"]["cpupool"] == "Pool-0" and doms["web"]["sched"] == {"weight": 256, "cap": 0}
    assert doms["rt"]["scheduler"] == "rtds" and doms["rt"]["sched"] == {
        "vcpus": [{"vcpu": 0, "period_us": 100000, "budget_us": 30000, "extratime": False}]}
    assert frame["pools"] == [
        {"name": "Pool-0", "scheduler": "credit2", "pcpus": [0], "params": {"ratelimit_us": 1000}},
        {"name": "rt", "scheduler": "rtds", "pcpus": [1], "params": {}}]
    assert frame["scheduling_age_s"] == 1.0 and frame["scheduling_error"] is None
    unread = json.loads(records.json_frame(build_snapshot(None, raw(10.0, web)), 1))
    assert unread["pools"] is None and unread["domains"][0]["sched"] is None


def test_batch_json_reads_the_schedulers_from_its_first_iteration(tmp_path: Path) -> None:
    path = tmp_path / "host.xml"
    path.write_text(driver_xml(2))
    code, out, said = run_cli(["-c", f"test://{path}", "-b", "-d", "0.2", "-i", "2", "--format", "json"])
    assert code == 0, said
    frames = [json.loads(line) for line in out.splitlines()]
    for frame in frames:
        assert frame["pools"] == [{"name": "host", "scheduler": "fair", "pcpus": list(range(32)), "params": {}}]
        assert {d["name"]: d["sched"] for d in frame["domains"]} == {"dom0000": {"weight": 50},
                                                                     "dom0001": {"weight": 50}}
        assert all(d["cpupool"] is None and d["scheduler"] == "fair" for d in frame["domains"])


def test_an_ssh_hosts_frame_gives_its_scheduling_back_and_hostile_values_are_dropped() -> None:
    from xentui.sources.ssh_json.decode import decode_frame

    web, rt = dom(1.0, name="web", uuid="u1"), dom(1.0, name="rt", uuid="u2")
    cur = raw(10.0, web, rt)
    pools = (CpuPool("Pool-0", "credit2", frozenset({0}), params=(("ratelimit_us", 1000),)),
             CpuPool("rt", "rtds", frozenset({1})))
    sent = SchedulingState(wall=cur.wall - 2, pools=pools, domains=(
        DomainScheduling("u1", "web", "Pool-0", "credit2", (("weight", 256), ("cap", 0))),
        DomainScheduling("u2", "rt", "rt", "rtds", vcpus=(VcpuBudget(0, 100000, 30000, False),))))
    frame = json.loads(records.json_frame(build_snapshot(None, replace(cur, scheduling=sent)), 1))
    assert decode_frame(frame, 1.0).scheduling == sent
    frame["pools"].append({"name": "x", "pcpus": ["0", -1, 2**70, 3], "params": {"a": "text", "b": 1e300, "c": 2}})
    frame["domains"][0]["sched"] = {"weight": [1], "cap": 5, "vcpus": [{"vcpu": -1}]}
    got = decode_frame(frame, 1.0).scheduling
    assert got.pools[-1] == CpuPool("x", "", frozenset({3}), params=(("c", 2),))
    assert got.domains[0].params == (("cap", 5),) and got.domains[0].vcpus == ()
    del frame["pools"]
    assert decode_frame(frame, 1.0).scheduling is None  # an older xentui's frame


def test_a_fleet_watches_every_host_and_shows_their_union_keyed_as_its_domains(tmp_path: Path) -> None:
    from xentui.sources.fleet import FleetSource
    from xentui.sources.fleet.config import HostSpec

    specs = []
    for n, count in enumerate((2, 1)):
        path = tmp_path / f"h{n}.xml"
        path.write_text(driver_xml(count, host=n + 1))
        specs.append(HostSpec(name=f"h{n}", uri=f"test://{path}"))
    fleet = FleetSource(specs, wait_s=5.0)
    try:
        fleet.watch_scheduling(True)  # before the hosts open: told to each once open
        seen: list[object] = []

        def both_hosts_read() -> bool:
            got = fleet.collect()
            seen[:] = [got]
            state = got.scheduling
            return state is not None and len(state.domains) == 3

        wait_for(both_hosts_read, "both hosts' schedulers in the fleet's state")
        got = seen[0]
        state = got.scheduling
        assert {d.key for d in state.domains} == {d.key for d in got.domains if d.active}
        assert sorted((p.host, p.name) for p in state.pools) == [("h0", "host"), ("h1", "host")]
        assert all(part.cur.scheduling.domains[0].host == part.name for part in got.parts)
    finally:
        fleet.close()
