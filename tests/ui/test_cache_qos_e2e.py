"""Cache QoS end to end: a resctrl tree whose counters change between ticks, read by the libvirt source
(libvirt's in-process test driver), through the poller into the Snapshot, the table cells and the batch JSON;
the same column fed by libvirt's own monitors and by ``xl psr-cmt-show``; every "no data" case explained."""

from __future__ import annotations

import dataclasses
import io
import json

import libvirt
import pytest

from tests.resctrl_tree import FakeHost
from tests.ui.harness import messages, running_app
from xentui.cli import batch
from xentui.model import CacheSample, DomainSample, DomainState, HostSample, L3Cache, RawSample, build_snapshot
from xentui.poller import Poller
from xentui.sources.base import Source
from xentui.sources.cache_qos.libvirt import libvirt_cache
from xentui.sources.cache_qos.status import CacheStatus
from xentui.sources.cache_qos.xen import parse_psr_cmt_show, xen_cache, xen_l3, xen_status
from xentui.sources.libvirt import LibvirtSource
from xentui.sources.synthetic import SyntheticSource
from xentui.ui.cache_render import cache_lines, host_cache_line

MIB = 1 << 20
TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"  # the test driver's domain "test"
GROUP = "mon_groups/xentui-test"
# (occupancy, mbm_total, mbm_local) on L3 0 at each collection; the interval is 2.0 s.
TICKS = [(4 * MIB, 2**64 - 3 * MIB, 10 * MIB), (6 * MIB, MIB, 12 * MIB), (8 * MIB, 9 * MIB, 13 * MIB)]


class ScriptedHost(Source):
    """The test driver's host with a resctrl tree: each collect() first sets the next counters; a 2 s clock."""

    def __init__(self, fake: FakeHost):
        self.fake = fake
        self.inner = LibvirtSource("test:///default", conn=libvirt.open("test:///default"), resctrl=fake.resctrl())
        self.uri, self.readonly = self.inner.uri, True
        self.n = 0

    def collect(self) -> RawSample:
        occupancy, total, local = TICKS[min(self.n, len(TICKS) - 1)]
        self.fake.counters(GROUP, 0, occupancy, total, local)
        raw = self.inner.collect()
        self.n += 1
        return dataclasses.replace(raw, monotonic=100.0 + 2.0 * self.n)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def scripted(tmp_path) -> ScriptedHost:
    fake = FakeHost(tmp_path, cache_ids=(0,), l3_size="32M")
    fake.qemu("test", 4242, (4243, 4244))
    fake.group(GROUP, tasks=(4243, 4244))
    return ScriptedHost(fake)


async def test_resctrl_counters_through_poller_into_table(scripted, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    poller = Poller(scripted, 1.0)
    await poller.tick()  # tick 0: no rates yet
    snap = await poller.tick()  # tick 1: the MBM total counter wrapped (2**64 - 3 MiB -> 1 MiB)
    view = snap.by_uuid()[TEST_UUID]
    assert snap.host.cache_monitoring == "" and snap.host.l3_caches == (L3Cache(0, 32 * MIB),)
    assert view.cache.source == "resctrl"
    assert view.cache.occupancy_bytes == 6 * MIB and view.cache.occupancy_pct == 18.75
    assert view.cache.mbm_total_bytes_s == 2 * MIB  # 4 MiB over the wrap in 2 s
    assert view.cache.mbm_local_bytes_s == 1 * MIB
    poller.close()  # closes the libvirt connection (once: two closes from two threads upset libvirt)
    # The app only shows the poller's snapshot (poll=False): its own source is never called.
    async with running_app(SyntheticSource(count=1), size=(200, 30), snapshot=snap) as (app, pilot):
        table = app.table
        assert {"llc", "llc_pct", "mbm_total", "mbm_local"} <= set(table.shown)
        cells = {k: table.cell_text(TEST_UUID, k) for k in ("llc", "llc_pct", "mbm_total", "mbm_local")}
        assert cells == {"llc": "6.0MiB", "llc_pct": "18.8", "mbm_total": "2.0MiB/s", "mbm_local": "1.0MiB/s"}
        header = app.query_one("#host").text
        assert "Cache QoS (resctrl): L3 32.0MiB (1: 32.0MiB), 1 monitored domains hold 6.0MiB (18.8 %)" in header
        await pilot.press("l")
        await pilot.pause()
        detail = str(app.query_one("#detail").render())
        assert "L3 0   LLC    6.0MiB (18.8% of 32.0MiB)  MBM total    2.0MiB/s  local    1.0MiB/s" in detail


async def test_resctrl_counters_in_batch_json(scripted):
    out = io.StringIO()
    code = await batch.run_batch(scripted, batch.BatchOptions(delay=0.2, iterations=2, format="json"), out)
    assert code == 0
    frames = [json.loads(line) for line in out.getvalue().splitlines()]
    domains = [{d["uuid"]: d for d in f["domains"]}[TEST_UUID] for f in frames]
    # iteration 1: ticks 0 -> 1 (over the wrap); iteration 2: ticks 1 -> 2
    assert [d["mbm_total_bytes_per_s"] for d in domains] == [2 * MIB, 4 * MIB]
    assert [d["mbm_local_bytes_per_s"] for d in domains] == [1 * MIB, 0.5 * MIB]
    assert [d["llc_occupancy_bytes"] for d in domains] == [6 * MIB, 8 * MIB]
    assert domains[1]["llc_occupancy_pct_of_l3"] == 25.0
    assert domains[1]["cache_qos_source"] == "resctrl" and domains[1]["cache_qos_status"] is None
    assert domains[1]["cache_list"] == [{"cache_id": 0, "llc_occupancy_bytes": 8 * MIB, "llc_occupancy_pct_of_l3": 25.0,
                                         "mbm_total_bytes_per_s": 4 * MIB, "mbm_local_bytes_per_s": 0.5 * MIB}]
    assert frames[1]["host"]["l3_caches"] == [{"cache_id": 0, "size_bytes": 32 * MIB}]
    assert frames[1]["host"]["cache_rmids"] == 4


# --- the same column from each source ------------------------------------------------------

HOST = HostSample(hostname="h", hypervisor="QEMU", hypervisor_version="7.2", uri="u", pcpus=2, mhz=1,
                  mem_total_kib=1 << 20, mem_free_kib=1, l3_caches=(L3Cache(0, 32 * MIB),))


def _views(cache: CacheSample, host: HostSample = HOST):
    d = DomainSample(uuid="u", name="d", domid=3, state=DomainState.RUNNING, cache=cache)
    return build_snapshot(None, RawSample(1.0, 1.0, host, (d,)))


async def test_every_source_feeds_the_same_llc_column(config_path, data_dir):
    rec = {"cpu.cache.monitor.count": 1, "cpu.cache.monitor.0.bank.count": 1,
           "cpu.cache.monitor.0.bank.0.id": 0, "cpu.cache.monitor.0.bank.0.bytes": 8 * MIB}
    occupancy = (data_dir / "xen-psr" / "xl-psr-cmt-show-cache-occupancy.txt").read_text()
    table = parse_psr_cmt_show(occupancy)
    xen_host = dataclasses.replace(HOST, hypervisor="Xen", l3_caches=xen_l3(table))
    snaps = {
        "libvirt": _views(libvirt_cache(rec)),
        "resctrl": _views(CacheSample("resctrl", banks=libvirt_cache(rec).banks)),
        "xen": _views(xen_cache(3, table, None, None), xen_host),
    }
    async with running_app(size=(200, 30), config_path=config_path) as (app, pilot):
        for source, snap in snaps.items():
            app.snapshot = snap
            await pilot.pause()
            # xl: 8448 KB of a 30720 KB L3; libvirt and resctrl: 8 MiB of 32 MiB
            assert app.table.cell_text("u", "llc") == ("8.2MiB" if source == "xen" else "8.0MiB"), source
            assert app.table.cell_text("u", "llc_pct") == ("27.5" if source == "xen" else "25.0"), source


# --- every "no data" case says why -----------------------------------------------------------


async def test_no_data_is_explained(config_path, data_dir):
    disabled = (data_dir / "xen-psr" / "xl-psr-cmt-show-disabled.txt").read_text().strip()
    async with running_app(SyntheticSource(count=2), size=(200, 30), config_path=config_path) as (app, pilot):
        # 1. the host has no Cache QoS at all: columns hidden, the header says why
        host = dataclasses.replace(HOST, cache_monitoring=xen_status(disabled))
        app.snapshot = _views(None, host)
        await pilot.pause()
        assert "llc" not in app.table.shown
        header = app.query_one("#host").text
        assert "Cache QoS: CMT is disabled in the system: boot Xen with psr=cmt:1" in header
        assert cache_lines(app.snapshot.domains[0], host)[0].startswith("Cache QoS: CMT is disabled")
        # 2. a domain not attached: its cells and the header say to press A
        app.snapshot = _views(CacheSample("resctrl", status=CacheStatus.NOT_ATTACHED))
        await pilot.pause()
        assert app.table.cell_text("u", "llc") == "press A"
        assert "1 not attached: press A to attach" in host_cache_line(app.snapshot)
        assert cache_lines(app.snapshot.domains[0], HOST) == [
            "Cache QoS (resctrl): domain not attached: press A to attach"]
        # 3. A in a read-only session: refused plainly
        await pilot.press("A")
        await pilot.pause()
        assert any("read-only" in m for m in messages(app))


def test_resctrl_not_mounted_is_the_hosts_reason(tmp_path):
    fake = FakeHost(tmp_path, mounted=False)
    source = LibvirtSource("test:///default", conn=libvirt.open("test:///default"), resctrl=fake.resctrl())
    try:
        raw = source.collect()
    finally:
        source.close()
    assert raw.host.cache_monitoring.startswith("resctrl not mounted: mount -t resctrl resctrl /sys/fs/resctrl")
    assert all(d.cache is None for d in raw.domains)


def test_synthetic_host_has_no_cache_columns():
    snap = build_snapshot(None, SyntheticSource(count=2).collect())
    assert all(v.cache is None for v in snap.domains)


async def test_key_a_attaches_then_detaches_in_write_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    fake = FakeHost(tmp_path, cache_ids=(0,), rmids=2)
    fake.qemu("test", 4242, (4243,))
    source = LibvirtSource("test:///default", readonly=False, conn=libvirt.open("test:///default"),
                           resctrl=fake.resctrl())
    group = fake.root / GROUP
    async with running_app(source, size=(200, 30)) as (app, pilot):
        app.snapshot = build_snapshot(None, source.collect())
        await pilot.pause()
        assert app.table.cell_text(TEST_UUID, "llc") == "press A"
        await pilot.press("A")
        await app.workers.wait_for_complete()
        assert (group / "tasks").read_text() == "4243\n"
        assert any(m.startswith("cache-attach test: done") for m in messages(app))
        fake.counters(GROUP, 0, 0, 0, 0)  # what the kernel adds to a new group
        app.snapshot = build_snapshot(None, source.collect())
        await pilot.pause()
        assert app.table.cell_text(TEST_UUID, "llc") == "0B"  # attached: counting from now
        (group / "tasks").unlink()  # the kernel drops a group's files with it; a plain directory needs this
        for name in ("mon_data/mon_L3_00", "mon_data"):
            for f in (group / name).glob("*"):
                f.unlink()
            (group / name).rmdir()
        await pilot.press("A")
        await app.workers.wait_for_complete()
        assert not group.exists()
