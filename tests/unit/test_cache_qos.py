"""Cache QoS: parsers of every format (libvirt keys, perf, xl psr-*) and the wrap-safe MBM rates."""

from pathlib import Path

import pytest

from xentui.model import (
    MAX_MBM_BYTES_S,
    CacheBank,
    CacheSample,
    DomainSample,
    DomainState,
    HostSample,
    L3Cache,
    RawSample,
    build_snapshot,
    wrapping_rate,
)
from xentui.sources.cache_qos.libvirt import capabilities_l3, libvirt_cache
from xentui.sources.cache_qos.status import CacheStatus
from xentui.sources.cache_qos.xen import (
    XenCacheQos,
    parse_psr_cmt_show,
    xen_cache,
    xen_caches,
    xen_l3,
    xen_status,
    xl_message,
)

NOT_ATTACHED = CacheStatus.NOT_ATTACHED

PSR = Path(__file__).parent.parent / "data" / "xen-psr"
MIB = 1 << 20
HOST = HostSample(hostname="h", hypervisor="QEMU", hypervisor_version="7.2", uri="qemu:///system", pcpus=4,
                  mhz=2000, mem_total_kib=1 << 22, mem_free_kib=1 << 20,
                  l3_caches=(L3Cache(0, 32 * MIB), L3Cache(1, 32 * MIB)))


def psr(name: str) -> str:
    return (PSR / name).read_text()


# --- libvirt -----------------------------------------------------------------------------


def test_libvirt_without_monitor_gives_nothing(data_dir):
    """The real domstats of this machine: ``cpu.cache.monitor.count=0``."""
    rec = {}
    for line in (data_dir / "kvm-domstats-raw.txt").read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            rec[key] = int(value) if value.isdigit() else value
    assert rec["cpu.cache.monitor.count"] == 0
    assert libvirt_cache(rec) is None


def test_libvirt_monitors_sum_per_cache_id():
    rec = {
        "cpu.cache.monitor.count": 2,
        "cpu.cache.monitor.0.name": "vcpus_0-1", "cpu.cache.monitor.0.vcpus": "0-1",
        "cpu.cache.monitor.0.bank.count": 2,
        "cpu.cache.monitor.0.bank.0.id": 0, "cpu.cache.monitor.0.bank.0.bytes": 4 * MIB,
        "cpu.cache.monitor.0.bank.1.id": 1, "cpu.cache.monitor.0.bank.1.bytes": MIB,
        "cpu.cache.monitor.1.name": "vcpus_2", "cpu.cache.monitor.1.bank.count": 1,
        "cpu.cache.monitor.1.bank.0.id": 0, "cpu.cache.monitor.1.bank.0.bytes": 2 * MIB,
        "memory.bandwidth.monitor.count": 1, "memory.bandwidth.monitor.0.name": "vcpus_0-2",
        "memory.bandwidth.monitor.0.node.count": 2,
        "memory.bandwidth.monitor.0.node.0.id": 0, "memory.bandwidth.monitor.0.node.0.bytes.total": 10_000,
        "memory.bandwidth.monitor.0.node.0.bytes.local": 7_000,
        "memory.bandwidth.monitor.0.node.1.id": 1, "memory.bandwidth.monitor.0.node.1.bytes.total": 500,
        "memory.bandwidth.monitor.0.node.1.bytes.local": 100,
    }
    cache = libvirt_cache(rec)
    assert cache.source == "libvirt"
    assert cache.group == "vcpus_0-1,vcpus_2,vcpus_0-2"
    assert cache.banks == (CacheBank(0, 6 * MIB, 10_000, 7_000), CacheBank(1, MIB, 500, 100))


def test_libvirt_legacy_perf_events_are_rates_of_all_l3():
    cache = libvirt_cache({"perf.cmt": 3 * MIB, "perf.mbmt": 2_000_000, "perf.mbml": 1_500_000})
    assert cache.source == "perf"
    assert cache.banks == (CacheBank(None, 3 * MIB, mbm_total_bytes_s=2_000_000, mbm_local_bytes_s=1_500_000),)


def test_capabilities_l3_banks():
    xml = """<capabilities><host><cache>
      <bank id='0' level='3' type='both' size='30' unit='MiB' cpus='0-11'/>
      <bank id='1' level='3' type='both' size='30720' unit='KiB' cpus='12-23'/>
      <bank id='0' level='2' type='both' size='1' unit='MiB' cpus='0'/>
      <bank id='x' level='3' type='both' size='1' unit='MiB' cpus='0'/>
    </cache></host></capabilities>"""
    assert capabilities_l3(xml) == (L3Cache(0, 30 * MIB), L3Cache(1, 30 * MIB))
    assert capabilities_l3("<not xml") == ()


# --- Xen -----------------------------------------------------------------------------------


def test_xen_cmt_show_real_disabled():
    table = parse_psr_cmt_show(psr("xl-psr-cmt-show-disabled.txt"))
    assert table.error == "CMT is disabled in the system"
    assert xen_status(table.error) == "CMT is disabled in the system: boot Xen with psr=cmt:1 on a CPU with Intel CMT"


def test_xen_cmt_show_unsupported_type():
    table = parse_psr_cmt_show(psr("xl-psr-cmt-show-unsupported.txt"))
    assert table.error == "Monitor type 'total-mem-bandwidth' is not supported in the system"


def test_xen_cmt_attach_refusal_is_one_line():
    text = psr("xl-psr-cmt-attach-domu-disabled.txt")
    table = parse_psr_cmt_show(text)
    assert table.error == "CMT is not supported in this system: No such device"


def test_xen_cmt_show_tables_and_not_attached_domains():
    occ = parse_psr_cmt_show(psr("xl-psr-cmt-show-cache-occupancy.txt"))
    total = parse_psr_cmt_show(psr("xl-psr-cmt-show-total-mem-bandwidth.txt"))
    local = parse_psr_cmt_show(psr("xl-psr-cmt-show-local-mem-bandwidth.txt"))
    assert occ.sockets == (0, 1) and occ.total_rmid == 71
    assert occ.l3_kb == (30720, 30720)
    assert xen_l3(occ) == (L3Cache(0, 30 * MIB), L3Cache(1, 30 * MIB))
    assert occ.values == {0: (2112, 1056), 3: (8448, 0)}
    web = xen_cache(3, occ, total, local)
    assert web.banks == (
        CacheBank(0, 8448 * 1024, mbm_total_bytes_s=524288 * 1024.0, mbm_local_bytes_s=500000 * 1024.0),
        CacheBank(1, 0, mbm_total_bytes_s=0.0, mbm_local_bytes_s=0.0),
    )
    absent = xen_cache(7, occ, total, local)  # not attached: absent from xl's table
    assert absent.banks == () and absent.status == NOT_ATTACHED
    no_bw = xen_cache(0, occ, None, None)
    assert no_bw.banks[0].occupancy_bytes == 2112 * 1024 and no_bw.banks[0].mbm_total_bytes_s is None


# --- rates ---------------------------------------------------------------------------------


def test_wrapping_rate():
    assert wrapping_rate(100, 300, 2.0) == 100.0
    assert wrapping_rate(2**64 - 1000, 1000, 2.0) == 1000.0  # wrapped once: 2000 bytes in 2 s
    assert wrapping_rate(2**24 - 10, 20, 1.0, bits=24) == 30.0
    assert wrapping_rate(5 * 2**30, 1000, 1.0) is None  # backwards by 5 GiB: a new RMID, not a wrap
    assert wrapping_rate(None, 1, 1.0) is None
    assert wrapping_rate(1, 2, 0.0) is None
    assert wrapping_rate(0, MAX_MBM_BYTES_S + 1, 1.0) is None  # absurd: no rate


def dom(cache: CacheSample | None, domid: int = 4) -> DomainSample:
    return DomainSample(uuid="u-1", name="db", domid=domid, state=DomainState.RUNNING, cache=cache)


def raw(t: float, *domains: DomainSample, host: HostSample = HOST) -> RawSample:
    return RawSample(monotonic=t, wall=t, host=host, domains=domains)


def resctrl(occ0, total0, local0, occ1=0, total1=0, local1=0, group="mon_groups/xentui-db") -> CacheSample:
    return CacheSample("resctrl", group=group,
                       banks=(CacheBank(0, occ0, total0, local0), CacheBank(1, occ1, total1, local1)))


def test_cache_view_rates_percent_and_sums():
    a = raw(10.0, dom(resctrl(8 * MIB, 1_000, 500, MIB, 0, 0)))
    b = raw(12.0, dom(resctrl(16 * MIB, 2**64 - 1_000, 500, MIB, 4_000, 2_000)))
    first = build_snapshot(None, a).domains[0].cache
    assert first.occupancy_bytes == 9 * MIB and first.occupancy_pct == 25.0
    assert first.mbm_total_bytes_s is None  # no rate from one sample
    view = build_snapshot(a, b).domains[0].cache
    bank0, bank1 = view.banks
    assert bank0.occupancy_pct == 50.0 and bank1.occupancy_pct == pytest.approx(100 / 32)
    assert bank0.mbm_total_bytes_s is None  # 1000 -> 2**64-1000: 16 EiB/s is no bandwidth
    assert bank0.mbm_local_bytes_s == 0.0
    assert bank1.mbm_total_bytes_s == 2_000.0 and bank1.mbm_local_bytes_s == 1_000.0
    assert view.occupancy_bytes == 17 * MIB and view.occupancy_pct == 50.0
    assert view.mbm_total_bytes_s is None  # one L3 unknown: no total rather than a partial one
    assert view.mbm_local_bytes_s == 1_000.0


def test_mbm_rate_across_a_64_bit_wrap():
    a = raw(1.0, dom(resctrl(MIB, 2**64 - 3_000_000, 2**64 - 1_000_000)))
    b = raw(3.0, dom(resctrl(MIB, 1_000_000, 3_000_000)))
    view = build_snapshot(a, b).domains[0].cache
    assert view.banks[0].mbm_total_bytes_s == 2_000_000.0
    assert view.banks[0].mbm_local_bytes_s == 2_000_000.0


def test_no_mbm_rate_when_group_or_incarnation_changes():
    a = raw(1.0, dom(resctrl(MIB, 1_000, 1_000)))
    regrouped = raw(2.0, dom(resctrl(MIB, 5_000, 5_000, group="mon_groups/other")))
    restarted = raw(2.0, dom(resctrl(MIB, 5_000, 5_000), domid=9))
    for b in (regrouped, restarted):
        assert build_snapshot(a, b).domains[0].cache.mbm_total_bytes_s is None
    same = raw(2.0, dom(resctrl(MIB, 5_000, 5_000)))
    assert build_snapshot(a, same).domains[0].cache.mbm_total_bytes_s == 4_000.0


def test_measured_rates_pass_through_and_unknown_l3_has_no_percent():
    xen = CacheSample("xen", banks=(CacheBank(0, 3 * MIB, mbm_total_bytes_s=1e6, mbm_local_bytes_s=5e5),))
    bare = HostSample(hostname="h", hypervisor="Xen", hypervisor_version="4.17", uri="xen", pcpus=2, mhz=1,
                      mem_total_kib=1, mem_free_kib=1)
    view = build_snapshot(None, raw(1.0, dom(xen), host=bare)).domains[0].cache
    assert view.occupancy_bytes == 3 * MIB and view.occupancy_pct is None
    assert view.mbm_total_bytes_s == 1e6 and view.mbm_local_bytes_s == 5e5


def test_status_only_cache_and_no_cache():
    snap = build_snapshot(None, raw(1.0, dom(CacheSample("resctrl", status=NOT_ATTACHED))))
    view = snap.domains[0].cache
    assert view.status == NOT_ATTACHED and view.banks == () and view.occupancy_bytes is None
    assert build_snapshot(None, raw(1.0, dom(None))).domains[0].cache is None


@pytest.mark.parametrize("status", [CacheStatus.NOT_ATTACHED, "not-attached", "domain not attached: press A to attach"])
def test_not_attached_is_a_stable_code_in_json_whatever_wrote_it(status):
    """Live (the enum), read back from a recording (its code), or in a recording made before the code
    (the old sentence): the JSON says ``not-attached`` and the UI knows it; other reasons pass as they are."""
    import json

    from xentui.output.records import json_frame

    assert CacheStatus.of(status) is CacheStatus.NOT_ATTACHED
    frame = json.loads(json_frame(build_snapshot(None, raw(1.0, dom(CacheSample("resctrl", status=status)))), 1))
    assert frame["domains"][0]["cache_qos_status"] == "not-attached"
    other = CacheSample("resctrl", status="no qemu vCPU threads found for d")
    frame = json.loads(json_frame(build_snapshot(None, raw(1.0, dom(other))), 1))
    assert frame["domains"][0]["cache_qos_status"] == "no qemu vCPU threads found for d"
    assert CacheStatus.of(other.status) is None

# --- Xen source glue and actions ---------------------------------------------------------------


def test_xl_message_strips_libxl_prefix_either_way():
    real = psr("xl-psr-cmt-attach-0-disabled.txt")
    assert xl_message(real) == "CMT is not supported in this system: No such device"
    assert xl_message("error: libxl_psr.c:71:libxl__psr_cmt_log_err_msg: There is no free CMT RMID") \
        == "There is no free CMT RMID"


def test_xen_caches_from_tables():
    tables = tuple(parse_psr_cmt_show(psr(f"xl-psr-cmt-show-{kind}.txt"))
                   for kind in ("cache-occupancy", "total-mem-bandwidth", "local-mem-bandwidth"))
    caches, why, l3, rmids = xen_caches(tables, [0, 3, 5])
    assert why == "" and rmids == 71 and l3 == (L3Cache(0, 30 * MIB), L3Cache(1, 30 * MIB))
    assert caches[3].banks[0].occupancy_bytes == 8448 * 1024
    assert caches[5].status == NOT_ATTACHED
    assert xen_caches(None, [0])[1] == "reading xl psr-cmt-show…"
    disabled = (parse_psr_cmt_show(psr("xl-psr-cmt-show-disabled.txt")),) * 3
    caches, why, _l3, _rmids = xen_caches(disabled, [0])
    assert caches == {} and why.startswith("CMT is disabled in the system: boot Xen with psr=cmt:1")
    unsupported = parse_psr_cmt_show(psr("xl-psr-cmt-show-unsupported.txt"))
    caches, why, _l3, _rmids = xen_caches((tables[0], unsupported, unsupported), [3])
    assert why == "" and caches[3].banks[0].mbm_total_bytes_s is None  # occupancy only on this CPU


def test_xen_cache_actions_are_xl_psr_cmt_attach_and_detach():
    from xentui.actions import Action
    from xentui.sources.xen.xl import action_line

    d = DomainSample(uuid="u", name="web", domid=3, state=DomainState.RUNNING)
    assert action_line(d, Action.CACHE_ATTACH, {}, 4) == ["psr-cmt-attach", "3"]
    assert action_line(d, Action.CACHE_DETACH, {}, 4) == ["psr-cmt-detach", "3"]


def test_xen_out_of_rmids_is_said_plainly():
    from xentui.sources.xen.xl import XlError

    cmt = XenCacheQos.__new__(XenCacheQos)  # no xl here: only the refusal wording is tested
    cmt.tables = (parse_psr_cmt_show(psr("xl-psr-cmt-show-cache-occupancy.txt")),) * 3
    error = XlError(("psr-cmt-attach", "5"),
                    "error: libxl_psr.c:71:libxl__psr_cmt_log_err_msg: There is no free CMT RMID")
    assert str(error).startswith("xl psr-cmt-attach 5: error:")  # the whole line for the admin, the message apart
    assert cmt.refusal(error.message) == "no free RMID (2 domains attached, 71 RMIDs): detach another domain first"
    refusal = cmt.refusal(psr("xl-psr-cmt-attach-domu-disabled.txt").strip())
    assert refusal == ("CMT is not supported in this system: No such device: "
                       "boot Xen with psr=cmt:1 on a CPU with Intel CMT")


def test_parse_stats_prefers_libvirt_monitors_over_resctrl():
    from xentui.sources.libvirt.bulk_stats import parse_stats

    resctrl = CacheSample("resctrl", status=NOT_ATTACHED)
    own = {"state.state": 1, "cpu.cache.monitor.count": 1, "cpu.cache.monitor.0.name": "vcpus_0",
           "cpu.cache.monitor.0.bank.count": 1, "cpu.cache.monitor.0.bank.0.id": 0,
           "cpu.cache.monitor.0.bank.0.bytes": 5 * MIB}
    assert parse_stats("u", "d", 1, own, cache=resctrl).cache.banks == (CacheBank(0, 5 * MIB),)
    assert parse_stats("u", "d", 1, {"state.state": 1, "cpu.cache.monitor.count": 0}, cache=resctrl).cache is resctrl
    assert parse_stats("u", "d", 1, {"state.state": 1}).cache is None


def test_llc_cells_turn_warn_then_crit():
    from xentui.ui import columns as cols

    ctx = cols.Context()
    level = cols.BY_KEY["llc_pct"].level
    for held, expected in ((8 * MIB, None), (16 * MIB, "warn"), (26 * MIB, "crit")):
        view = build_snapshot(None, raw(1.0, dom(resctrl(held, 0, 0)))).domains[0]
        assert level(view, ctx) == expected
