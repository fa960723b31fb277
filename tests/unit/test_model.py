"""Rate maths: the only place counters become rates."""

import pytest

from tests.factories import dom, raw
from xentui.model import (
    BlockSample,
    DomainState,
    NetSample,
    VcpuSample,
    build_snapshot,
    counter_rate,
)


def test_counter_rate():
    assert counter_rate(100, 300, 2.0) == 100.0
    assert counter_rate(None, 300, 2.0) is None
    assert counter_rate(300, 100, 2.0) is None  # reset: no negative rate
    assert counter_rate(100, 300, 0.0) is None


def test_cpu_pct_of_one_pcpu_and_of_host():
    snap = build_snapshot(raw(10.0, dom(100.0)), raw(12.0, dom(103.0)))
    view = snap.domains[0]
    assert view.rates.cpu_pct == pytest.approx(150.0)  # 1.5 pCPUs busy, as xentop shows it
    assert view.rates.cpu_host_pct == pytest.approx(37.5)  # of 4 pCPUs, as virt-top shows it
    assert snap.interval_s == pytest.approx(2.0)


def test_first_snapshot_has_no_rates():
    snap = build_snapshot(None, raw(1.0, dom(5.0)))
    assert snap.interval_s is None
    assert snap.domains[0].rates.cpu_pct is None


def test_vcpu_and_steal_rates():
    a = dom(1, vcpus=(VcpuSample(0, time_ns=1_000_000_000, delay_ns=0), VcpuSample(1, time_ns=0, delay_ns=0)))
    b = dom(2, vcpus=(VcpuSample(0, time_ns=1_900_000_000, delay_ns=50_000_000), VcpuSample(1, time_ns=100_000_000,
                                                                                           delay_ns=0)))
    rates = build_snapshot(raw(0, a), raw(1, b)).domains[0].rates.vcpus
    assert [round(r.cpu_pct, 3) for r in rates] == [90.0, 10.0]
    assert [round(r.steal_pct, 3) for r in rates] == [5.0, 0.0]


def test_uuid_reused_with_new_domid_gives_no_rate():
    """Destroyed and started again between ticks: counters restart, the rate must not lie."""
    old = dom(500.0, domid=7)
    new = dom(0.2, domid=9)
    assert build_snapshot(raw(0, old), raw(1, new)).domains[0].rates.cpu_pct is None


def test_same_name_new_uuid_is_a_new_domain():
    old = dom(500.0, uuid="aaaaaaaa-0000-0000-0000-000000000000")
    new = dom(0.5, uuid="bbbbbbbb-0000-0000-0000-000000000000")
    snap = build_snapshot(raw(0, old), raw(1, new))
    assert [d.uuid for d in snap.domains] == [new.uuid]
    assert snap.domains[0].rates.cpu_pct is None


def test_counter_reset_with_same_domid_gives_no_rate():
    assert build_snapshot(raw(0, dom(500.0)), raw(1, dom(2.0))).domains[0].rates.cpu_pct is None


def test_paused_then_shutoff_has_no_rate():
    off = dom(0, state=DomainState.SHUTOFF, domid=None)
    assert build_snapshot(raw(0, dom(5.0)), raw(1, off)).domains[0].rates.cpu_pct is None


def test_net_and_block_rates_sum_devices():
    def sample(rx, tx, rd, wr):
        return dom(1, nets=(NetSample("vnet0", rx_bytes=rx, tx_bytes=tx, rx_packets=rx // 100, tx_packets=tx // 100),
                            NetSample("vnet1", rx_bytes=rx, tx_bytes=tx, rx_packets=rx // 100, tx_packets=tx // 100)),
                   blocks=(BlockSample("vda", rd_reqs=rd // 4096, rd_bytes=rd, wr_reqs=wr // 4096, wr_bytes=wr),))

    r = build_snapshot(raw(0, sample(1000, 2000, 0, 0)), raw(2, sample(3000, 2000, 8192, 40960))).domains[0].rates
    assert r.net_rx_bytes_s == 2000.0  # two NICs, 2000 B each over 2 s
    assert r.net_tx_bytes_s == 0.0
    assert r.net_rx_packets_s == 20.0
    assert r.blk_rd_bytes_s == 4096.0
    assert r.blk_wr_bytes_s == 20480.0
    assert r.blk_rd_reqs_s == 1.0
    assert r.blk_wr_reqs_s == 5.0


def test_hotplugged_nic_gives_no_net_rate():
    a = dom(1, nets=(NetSample("vnet0", rx_bytes=10, tx_bytes=10),))
    b = dom(2, nets=(NetSample("vnet0", rx_bytes=20, tx_bytes=20), NetSample("vnet1", rx_bytes=9e9, tx_bytes=9e9)))
    assert build_snapshot(raw(0, a), raw(1, b)).domains[0].rates.net_rx_bytes_s is None


def test_unknown_device_counter_makes_total_unknown():
    a = dom(1, nets=(NetSample("vnet0", rx_bytes=10), NetSample("vnet1", rx_bytes=None)))
    b = dom(2, nets=(NetSample("vnet0", rx_bytes=20), NetSample("vnet1", rx_bytes=None)))
    assert build_snapshot(raw(0, a), raw(1, b)).domains[0].rates.net_rx_bytes_s is None


def test_mem_pct_of_host():
    view = build_snapshot(None, raw(0, dom(1, mem_kib=1024 * 1024, maxmem_kib=None))).domains[0]
    assert view.mem_pct == pytest.approx(25.0)
    assert view.maxmem_pct is None


@pytest.mark.parametrize(
    ("state", "flags"),
    [(DomainState.RUNNING, "-----r"), (DomainState.BLOCKED, "--b---"), (DomainState.PAUSED, "----p-"),
     (DomainState.SHUTDOWN, "-s----"), (DomainState.CRASHED, "---c--"), (DomainState.DYING, "d-----"),
     (DomainState.NOSTATE, "------")],
)
def test_state_flags(state, flags):
    assert state.flags == flags


def test_sum_parts_is_unknown_when_a_part_is():
    from xentui.model import sum_parts

    assert sum_parts([1, 2, 3]) == 6 and sum_parts([0.5, 1]) == 1.5
    assert sum_parts([1, None, 3]) is None  # a partial sum lies
    assert sum_parts([]) == 0 and sum_parts([], empty=None) is None
    io = dom(1.0, nets=(NetSample("a", rx_bytes=5), NetSample("b", rx_bytes=None)),
             blocks=(BlockSample("vda", rd_bytes=7),)).io
    assert io.net_rx_bytes is None and io.blk_rd_bytes == 7 and io.net_tx_bytes is None
    from xentui.model.samples import sum_attr  # the devices' loop spelling of the same rule

    for nets in ((), (NetSample("a", rx_bytes=5),), (NetSample("a", rx_bytes=5), NetSample("b", rx_bytes=None))):
        assert sum_attr(nets, "rx_bytes") == sum_parts(n.rx_bytes for n in nets)


def test_vcpu_rates_pair_each_vcpu_with_its_own_before_whatever_the_order_or_a_hot_plug():
    S = 1_000_000_000
    before = (VcpuSample(0, time_ns=10 * S, delay_ns=S), VcpuSample(1, time_ns=20 * S, delay_ns=2 * S))
    same = (VcpuSample(0, time_ns=11 * S, delay_ns=S), VcpuSample(1, time_ns=20 * S + S // 2, delay_ns=2 * S))
    a, b = raw(0.0, dom(30, vcpus=before)), raw(1.0, dom(31.5, vcpus=same))
    assert [(r.number, r.cpu_pct, r.steal_pct) for r in build_snapshot(a, b).domains[0].rates.vcpus] == [
        (0, 100.0, 0.0), (1, 50.0, 0.0)]
    plugged = (VcpuSample(2, time_ns=S), *reversed(same))  # a third vCPU, and a source listing them otherwise
    c = raw(1.0, dom(32, vcpus=plugged))
    assert [(r.number, r.cpu_pct) for r in build_snapshot(a, c).domains[0].rates.vcpus] == [
        (2, None), (1, 50.0), (0, 100.0)]
    renumbered = (VcpuSample(1, time_ns=21 * S), VcpuSample(3, time_ns=S))  # as many, not the same ones
    d = raw(1.0, dom(32, vcpus=renumbered))
    assert [(r.number, r.cpu_pct) for r in build_snapshot(a, d).domains[0].rates.vcpus] == [(1, 100.0), (3, None)]
