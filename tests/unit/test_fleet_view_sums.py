"""What the fleet view computes (xentui/ui/fleet.py): sums over the live hosts, the sick first, one host's own
snapshot, a set spanning hosts; and the fleet's columns in the chosen ones."""

from __future__ import annotations

from dataclasses import replace

from xentui.model import DomainState, HostPart, HostState, RawSample, build_snapshot
from xentui.ui import columns as cols
from xentui.ui.fleet import fleet_sums, host_order, host_snapshot, sick_hosts, spanning

from ..factories import HOST, dom, raw

BIG = replace(HOST, hostname="big", pcpus=16, mem_total_kib=64 * 1024 * 1024)


def part(name: str, state: HostState, *domains, host=HOST, reason: str = "", group: str = "") -> HostPart:
    stamped = tuple(replace(d, host=name) for d in domains)
    prev = replace(raw(10.0, *stamped), host=host)
    cur = replace(raw(11.0, *(replace(d, cpu_ns=(d.cpu_ns or 0) + 500_000_000) for d in stamped)), host=host)
    return HostPart(name, state, group=group, reason=reason, prev=prev, cur=cur)


def fleet(*parts: HostPart):
    domains = tuple(d for p in parts if p.cur is not None for d in p.cur.domains)
    sample = RawSample(monotonic=11.0, wall=1_700_000_011.0, host=HOST, domains=domains, parts=parts)
    return build_snapshot(replace(sample, monotonic=10.0), sample)


def uuid(n: int) -> str:
    return f"{n:08x}-0000-0000-0000-000000000000"


SHOT = fleet(
    part("a", HostState.UP, dom(1.0, uuid=uuid(1), vcpus_current=2, mem_kib=1024),
         dom(1.0, uuid=uuid(2), name="off", state=DomainState.SHUTOFF, vcpus_current=8, mem_kib=4096)),
    part("b", HostState.UP, dom(1.0, uuid=uuid(1), vcpus_current=4, mem_kib=2048), host=BIG, group="rack-b"),
    part("c", HostState.DOWN, dom(1.0, uuid=uuid(3), vcpus_current=16, mem_kib=8192), reason="refused"),
    part("d", HostState.STALE, dom(1.0, uuid=uuid(4), vcpus_current=1, mem_kib=1), reason="slow"),
    HostPart("e", HostState.CONNECTING),
)


def test_committed_and_available_count_the_live_hosts_and_running_domains_only():
    sums = fleet_sums(SHOT)
    assert (sums.hosts, sums.live) == (5, 2)
    assert sums.by_state == {HostState.UP: 2, HostState.DOWN: 1, HostState.STALE: 1, HostState.CONNECTING: 1}
    assert (sums.vcpus, sums.pcpus) == (2 + 4, HOST.pcpus + BIG.pcpus)  # a shut-off domain commits nothing
    assert (sums.mem_kib, sums.mem_total_kib) == (1024 + 2048, HOST.mem_total_kib + BIG.mem_total_kib)
    assert sums.busy_pcpus == 2 * 0.5  # two running domains at 50 % of one pCPU each


def test_a_migrating_domain_counts_once_and_a_host_of_unknown_size_is_left_out_and_said():
    moving = dom(1.0, uuid=uuid(7), vcpus_current=4, mem_kib=4096)
    shot = fleet(part("a", HostState.UP, moving),
                 part("b", HostState.UP, replace(moving, state=DomainState.PAUSED), host=BIG),  # incoming copy
                 part("p", HostState.UP, dom(1.0, uuid=uuid(8), vcpus_current=2, mem_kib=512),
                      host=replace(HOST, pcpus=0, mem_total_kib=0)))  # a Prometheus target, no node_exporter
    sums = fleet_sums(shot)
    assert (sums.vcpus, sums.mem_kib) == (4, 4096)  # once, and the unsized host's domain left out
    assert (sums.pcpus, sums.unsized) == (HOST.pcpus + BIG.pcpus, 1)
    assert (sums.cpu_sized, sums.mem_sized) == (2, 2)  # the header says "-" for a figure no live host knows
    assert sums.busy_pcpus == 0.5  # the domain on a, at 50 %: not the unsized host's (no pCPUs to be busy of)


def test_the_sick_come_first_worst_first():
    assert [h.name for h in sick_hosts(SHOT)] == ["c", "d", "e"]
    assert [h.name for h in host_order(SHOT)] == ["c", "d", "e", "a", "b"]


def test_one_host_alone_has_its_own_facts_and_domains_and_says_why_when_sick():
    own = host_snapshot(SHOT, "b")
    assert own is not None and not own.fleet and own.host == BIG
    assert [v.key for v in own.domains] == [f"b/{uuid(1)}"] and own.errors == ()
    down = host_snapshot(SHOT, "c")
    assert down is not None and down.errors == ("host c down: refused (its rows are from before)",)
    assert host_snapshot(SHOT, "e") is None and host_snapshot(SHOT, "nowhere") is None


def test_a_set_spanning_hosts_is_named_and_one_host_is_not():
    views = list(SHOT.domains)
    assert spanning(views) == "on 4 hosts: a, b, c, d"
    assert spanning([v for v in views if v.host == "a"]) == ""
    assert spanning(views, shown=2) == "on 4 hosts: a, b …"


def test_host_and_group_columns_only_for_a_fleet_and_where_the_user_put_them():
    chosen = ("name", "state", "cpu_pct")
    assert cols.fleet_keys(SHOT) == ("host", "group") and cols.fleet_keys(host_snapshot(SHOT, "a")) == ()
    ungrouped = replace(SHOT, hosts=tuple(replace(h, group="") for h in SHOT.hosts))
    assert cols.fleet_keys(ungrouped) == ("host",)  # no host has a group: no empty GROUP column
    assert cols.with_fleet(chosen, fleet=()) == chosen
    assert cols.with_fleet(chosen, fleet=("host", "group")) == ("name", "host", "group", "state", "cpu_pct")
    assert cols.with_fleet(chosen, fleet=("host",)) == ("name", "host", "state", "cpu_pct")
    assert cols.with_fleet(("name", "cpu_pct", "group"), fleet=("host",)) == ("name", "cpu_pct", "group")
    assert cols.with_fleet(("name", "cpu_pct", "host"), fleet=()) == ("name", "cpu_pct")
    assert [c.key for c in cols.listed(False)] == [c.key for c in cols.COLUMNS]
    assert [c.key for c in cols.listed(True)][:3] == ["name", "host", "group"]


def test_a_host_alone_shows_its_own_messages_unprefixed_and_the_fleets_own():
    shot = replace(SHOT, notices=("a: note of a", "b: note of b", "fleet-wide note"), errors=("b: error of b",))
    own = host_snapshot(shot, "b")
    assert own is not None
    assert own.notices == ("note of b", "fleet-wide note") and own.errors == ("error of b",)
