"""CPU lists (xl's syntax), xl vcpu-list parsing, and the guards every action passes."""

import dataclasses

import pytest

from xentui.actions import READ_ONLY, Action, ActionError, parse_memory_kib, perform, validate
from xentui.cpulist import CpuListError, format_cpulist, parse_cpulist
from xentui.model import DomainSample, DomainState, HostSample, Pcpu, VcpuSample
from xentui.sources.xen.xl import parse_vcpu_list


def host(pcpus: int, topology: tuple[Pcpu, ...] = ()) -> HostSample:
    return HostSample(hostname="h", hypervisor="QEMU", hypervisor_version="7.2", uri="test", pcpus=pcpus, mhz=1,
                      mem_total_kib=1, mem_free_kib=1, topology=topology)


HOST2, HOST4 = host(2), host(4)
# Two NUMA nodes of four pCPUs; pCPU 6 offline.
NUMA8 = host(8, tuple(Pcpu(n, node=n // 4, socket=n // 4, core=n % 4, online=n != 6) for n in range(8)))


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0-3,^2", {0, 1, 3}), ("all", set(range(8))), ("none", set()), ("5", {5}), ("0-1,4-5", {0, 1, 4, 5}),
     ("^0", set(range(1, 8))), (" 1 , 2 ", {1, 2}), ("0-7,^1-6", {0, 7})],
)
def test_parse_cpulist(text, cpus):
    assert parse_cpulist(text, 8) == cpus


@pytest.mark.parametrize(
    ("text", "needle"),
    [("8", "pCPU 8 does not exist; this host has pCPUs 0-7"), ("3-1", "backwards"), ("a", "is not a pCPU number"),
     ("1,,2", "is not a pCPU number"), ("-1", "is not a pCPU number"), ("nodes:0", "NUMA nodes are unknown")],
)
def test_bad_cpulist_says_what_is_right(text, needle):
    with pytest.raises(CpuListError, match=needle):
        parse_cpulist(text, 8)


@pytest.mark.parametrize(("cpus", "text"), [({0, 1, 2, 3, 6}, "0-3,6"), (set(range(8)), "all"), (set(), "none"),
                                            ({7}, "7"), ({1, 3, 5}, "1,3,5")])
def test_format_cpulist_round_trips(cpus, text):
    assert format_cpulist(cpus, 8) == text
    assert parse_cpulist(text, 8) == cpus


def test_parse_real_xl_vcpu_list(data_dir):
    parsed = parse_vcpu_list((data_dir / "xl-vcpu-list-domu.txt").read_text(), 2)
    assert parsed[(0, 0)] == (0, {0, 1}, {0, 1})
    assert parsed[(2, 0)] == (0, {0}, {0, 1})  # probe1 vCPU 0 pinned: "0 / all"
    assert parsed[(2, 1)] == (1, {1}, {0, 1})
    assert parsed[(3, 1)] == (0, {0}, {0, 1})
    assert len(parsed) == 6


def test_memory_sizes():
    assert parse_memory_kib("512M") == 512 * 1024
    assert parse_memory_kib("2G") == 2 * 1024 * 1024
    assert parse_memory_kib("262144k") == 262144
    assert parse_memory_kib("256") == 256 * 1024  # bare number: MiB, as xl mem-set
    for bad in ("", "0", "-5M", "1.5G", "lots"):
        with pytest.raises(ActionError, match=r"write e\.g\. 512M"):
            parse_memory_kib(bad)


def test_pin_validation():
    assert validate(Action.PIN, {"vcpu": 0, "hard": "1"}, HOST2, 2) == {"vcpu": 0, "persistent": False, "hard": {1}}
    with pytest.raises(ActionError, match="vCPUs 0-1"):
        validate(Action.PIN, {"vcpu": 5, "hard": "1"}, HOST2, 2)
    with pytest.raises(ActionError, match="leaves no pCPU"):
        validate(Action.PIN, {"vcpu": 0, "hard": "none"}, HOST2, 2)
    with pytest.raises(ActionError, match="does not exist"):
        validate(Action.PIN, {"vcpu": "all", "hard": "0-4"}, HOST2, 2)


class RecordingSource:
    """Stands in for a hypervisor only to see which calls the guard lets through."""

    def __init__(self, readonly: bool, uuid_now: str | None):
        self.readonly = readonly
        self.uuid_now = uuid_now
        self.done: list = []

    def current_uuid(self, domain):
        return self.uuid_now

    def act(self, domain, action, params):
        self.done.append((domain.name, action, params))


DOM = DomainSample(uuid="u1", name="web", domid=3, state=DomainState.RUNNING, vcpus=(VcpuSample(0), VcpuSample(1)))


def test_read_only_refuses_before_touching_anything():
    src = RecordingSource(readonly=True, uuid_now="u1")
    with pytest.raises(ActionError, match="--write"):
        perform(src, DOM, Action.DESTROY, host=HOST2)
    assert src.done == [] and "--write" in READ_ONLY


def test_replaced_domain_is_refused():
    src = RecordingSource(readonly=False, uuid_now="u2")
    with pytest.raises(ActionError, match="replaced by another domain of that name"):
        perform(src, DOM, Action.DESTROY, host=HOST2)
    gone = RecordingSource(readonly=False, uuid_now=None)
    with pytest.raises(ActionError, match="is gone"):
        perform(gone, DOM, Action.PAUSE, host=HOST2)
    assert src.done == gone.done == []


def test_valid_action_goes_through():
    src = RecordingSource(readonly=False, uuid_now="u1")
    perform(src, DOM, Action.PIN, host=HOST4, vcpu=1, hard="0-3,^2")
    perform(src, dataclasses.replace(DOM), Action.BALLOON, host=HOST4, memory="1G")
    assert src.done == [("web", Action.PIN, {"vcpu": 1, "persistent": False, "hard": {0, 1, 3}}),
                        ("web", Action.BALLOON, {"memory_kib": 1048576})]


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("nodes:0", {0, 1, 2, 3}), ("node:1", {4, 5, 6, 7}), ("nodes:0-1,^nodes:1", {0, 1, 2, 3}),
     ("nodes:1,^6", {4, 5, 7}), ("0,nodes:1", {0, 4, 5, 6, 7}), ("^nodes:0", {4, 5, 6, 7})],
)
def test_numa_node_lists(text, cpus):
    assert parse_cpulist(text, 8, NUMA8.nodes()) == cpus


@pytest.mark.parametrize(
    ("text", "nodes", "needle"),
    [("nodes:2", NUMA8.nodes(), "NUMA node 2 does not exist; this host has NUMA nodes 0-1"),
     ("nodes:x", NUMA8.nodes(), "not a NUMA node number"),
     ("nodes:0", None, "NUMA nodes are unknown"),
     ("", NUMA8.nodes(), "cpu list is empty")],
)
def test_bad_numa_lists(text, nodes, needle):
    with pytest.raises(CpuListError, match=needle):
        parse_cpulist(text, 8, nodes)


def test_pin_refuses_offline_pcpus_and_all_means_online():
    with pytest.raises(ActionError, match=r"offline pCPU\(s\) 6; online pCPUs: 0-5,7"):
        validate(Action.PIN, {"vcpu": 0, "hard": "4-7"}, NUMA8, 2)
    assert validate(Action.PIN, {"vcpu": 0, "hard": "all"}, NUMA8, 2)["hard"] == {0, 1, 2, 3, 4, 5, 7}
    assert validate(Action.PIN, {"vcpu": "all", "hard": "nodes:0", "persistent": True}, NUMA8, 2) == {
        "vcpu": "all", "persistent": True, "hard": {0, 1, 2, 3}}


def test_host_topology_helpers():
    assert NUMA8.nodes() == {0: {0, 1, 2, 3}, 1: {4, 5, 6, 7}}
    assert NUMA8.offline() == {6}
    assert HOST2.nodes() == {0: {0, 1}} and HOST2.offline() == frozenset()  # unknown topology: one node


def test_actions_offered_by_state():
    from xentui.actions import offered

    def at(state):
        return dataclasses.replace(DOM, state=state)

    assert Action.PAUSE in offered(DOM) and Action.RESUME not in offered(DOM)
    assert offered(at(DomainState.PAUSED))[0] is Action.RESUME and Action.PAUSE not in offered(at(DomainState.PAUSED))
    assert offered(at(DomainState.SHUTOFF)) == (Action.START,)
    assert offered(at(DomainState.CRASHED)) == (Action.DESTROY,)
    src = RecordingSource(readonly=False, uuid_now="u1")
    with pytest.raises(ActionError, match="resume is not offered for web while it is running: nothing done"):
        perform(src, DOM, Action.RESUME, host=HOST2)
    assert src.done == []
