"""A fleet's history keeps each host's own series beside the fleet's (the host charts of a host opened alone)."""

from __future__ import annotations

import math
from dataclasses import replace

from xentui.history import History
from xentui.model import HostPart, HostState, NetSample, build_snapshot

from ..factories import HOST, dom, raw
from .test_fleet_view_sums import fleet


def part(name: str, state: HostState, rx_per_s: int, *, mem_free_kib: int) -> HostPart:
    """A host with one running domain receiving ``rx_per_s`` bytes a second over 1 s."""
    host = replace(HOST, hostname=name, mem_free_kib=mem_free_kib)
    before = dom(1.0, uuid=f"{name}-uuid", host=name, nets=(NetSample("vif0", rx_bytes=0),))
    after = replace(before, cpu_ns=before.cpu_ns + 250_000_000, nets=(NetSample("vif0", rx_bytes=rx_per_s),))
    return HostPart(name, state, prev=replace(raw(10.0, before), host=host), cur=replace(raw(11.0, after), host=host),
                    reason="" if state is HostState.UP else "refused")


def test_each_host_has_its_own_series_and_a_host_not_up_is_a_gap():
    history = History(10)
    history.add(fleet(part("a", HostState.UP, 1000, mem_free_kib=HOST.mem_total_kib - 4096),
                      part("b", HostState.UP, 3000, mem_free_kib=HOST.mem_total_kib - 1024),
                      part("c", HostState.DOWN, 7000, mem_free_kib=0)))
    assert history.host["net_rx_bytes_s"].values() == [1000 + 3000]  # the fleet's: its hosts up
    assert history.hosts["a"]["net_rx_bytes_s"].values() == [1000]
    assert history.hosts["b"]["net_rx_bytes_s"].values() == [3000]
    assert history.hosts["a"]["mem_used_kib"].values() == [4096]
    assert history.hosts["b"]["mem_used_kib"].values() == [1024]
    c = history.hosts["c"]  # its rows are from before it went down: nothing of them charted as now
    assert all(math.isnan(c[name].values()[0]) for name in ("net_rx_bytes_s", "mem_used_kib", "cpu_pct"))
    history.add(replace(fleet(part("a", HostState.UP, 1000, mem_free_kib=0)), seq=2))
    assert set(history.hosts) == {"a"}  # a host that left the fleet takes its history with it
    assert len(history.hosts["a"]["net_rx_bytes_s"].values()) == 2


def test_one_host_keeps_no_per_host_series():
    history = History(10)
    history.add(build_snapshot(raw(10.0, dom(1.0)), raw(11.0, dom(1.5)), seq=1))
    assert history.hosts == {} and history.host["cpu_pct"].values()
