"""A fleet's snapshot: each host's rates over its own window, a sick host's rows kept and marked stale."""

from __future__ import annotations

from dataclasses import replace

from xentui.model import HostPart, HostState, RawSample, build_snapshot

from ..factories import HOST, dom, raw

A_UUID = "aaaaaaaa-0000-0000-0000-000000000001"
B_UUID = "bbbbbbbb-0000-0000-0000-000000000002"


def stamped(host: str, sample: RawSample) -> RawSample:
    return replace(sample, domains=tuple(replace(d, host=host) for d in sample.domains))


def fleet(t: float, *parts: HostPart) -> RawSample:
    domains = tuple(d for p in parts if p.cur is not None for d in p.cur.domains)
    return RawSample(monotonic=t, wall=1_700_000_000 + t, host=HOST, domains=domains, parts=parts)


def test_each_host_has_rates_over_its_own_window():
    """Host a was sampled 1 s apart, host b 2 s apart in the same fleet tick: each rate uses its own window."""
    a = HostPart(
        "a",
        HostState.UP,
        prev=stamped("a", raw(10.0, dom(1.0, uuid=A_UUID))),
        cur=stamped("a", raw(11.0, dom(1.5, uuid=A_UUID))),
    )
    b = HostPart(
        "b",
        HostState.UP,
        group="rack2",
        prev=stamped("b", raw(20.0, dom(3.0, uuid=B_UUID))),
        cur=stamped("b", raw(22.0, dom(4.0, uuid=B_UUID))),
    )
    shot = build_snapshot(fleet(100.0, a, b), fleet(101.0, a, b))
    rows = shot.by_key()
    assert set(rows) == {f"a/{A_UUID}", f"b/{B_UUID}"}
    assert rows[f"a/{A_UUID}"].rates.cpu_pct == 50.0
    assert rows[f"b/{B_UUID}"].rates.cpu_pct == 50.0
    assert shot.interval_s == 1.0 and shot.fleet
    assert [(h.name, h.group, h.interval_s, h.domains) for h in shot.hosts] == [
        ("a", "", 1.0, 1),
        ("b", "rack2", 2.0, 1),
    ]


def test_the_same_uuid_on_two_hosts_is_two_rows():
    """A migrating domain exists on both hosts for a while."""
    a = HostPart("a", HostState.UP, cur=stamped("a", raw(1.0, dom(1.0))))
    b = HostPart("b", HostState.UP, cur=stamped("b", raw(1.0, dom(1.0, state=dom(0).state))))
    shot = build_snapshot(None, fleet(1.0, a, b))
    assert len(shot.by_key()) == 2 and len({d.uuid for d in shot.domains}) == 1


def test_a_sick_host_keeps_its_last_rows_marked_stale_and_one_never_seen_has_none():
    a = HostPart(
        "a",
        HostState.STALE,
        reason="no answer within 2 s",
        prev=stamped("a", raw(10.0, dom(1.0, uuid=A_UUID))),
        cur=stamped("a", raw(11.0, dom(1.5, uuid=A_UUID))),
    )
    b = HostPart("b", HostState.DOWN, reason="Connection refused")
    shot = build_snapshot(None, fleet(5.0, a, b))
    (row,) = shot.domains
    assert row.sample.stale == "host a stale: no answer within 2 s"
    assert row.rates.cpu_pct == 50.0  # its last known rate, said to be old
    down = shot.hosts[1]
    assert (down.state, down.reason, down.host, down.domains) == (HostState.DOWN, "Connection refused", None, 0)


def test_one_host_keys_by_uuid_alone():
    shot = build_snapshot(None, raw(1.0, dom(1.0)))
    assert not shot.fleet and list(shot.by_key()) == [shot.domains[0].uuid]
