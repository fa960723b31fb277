"""The vCPU view (matrix, pinning with preview) and the pCPU view, rendered and driven by Pilot."""

from __future__ import annotations

import contextlib

import libvirt
import pytest
from textual.content import Content

from tests.ui.harness import running_app
from tests.ui.waiting import until
from xentui import config
from xentui.model import (
    DomainRates,
    DomainSample,
    DomainState,
    DomainView,
    HostSample,
    Pcpu,
    Snapshot,
    VcpuSample,
    build_snapshot,
)
from xentui.sources.libvirt import LibvirtSource
from xentui.sources.synthetic import SyntheticSource
from xentui.ui.dialogs.prompt import PromptScreen
from xentui.ui.placement_render import matrix, pcpu_lines, vcpu_table
from xentui.ui.views.pcpu import PcpuScreen
from xentui.ui.views.vcpu import VcpuScreen

NUMA8 = HostSample(hostname="h", hypervisor="QEMU", hypervisor_version="7.2", uri="x", pcpus=8, mhz=1,
                   mem_total_kib=1, mem_free_kib=1,
                   topology=tuple(Pcpu(n, node=n // 4, socket=n // 4, online=n != 6) for n in range(8)))
VIEW = DomainView(DomainSample(uuid="u", name="web", domid=1, state=DomainState.RUNNING, vcpus=(
    VcpuSample(0, time_ns=5_000_000_000, pcpu=1, hard_affinity=frozenset({0, 1, 2, 3})),
    VcpuSample(1, time_ns=7_000_000_000, pcpu=5, hard_affinity=frozenset({5}), soft_affinity=frozenset({4, 5})),
    VcpuSample(2))), DomainRates(), None, None)


def plain(lines: list[str]) -> list[str]:
    return [Content.from_markup(line).plain for line in lines]


def test_matrix_marks_current_allowed_denied_offline_and_groups_by_node():
    lines = plain(matrix(VIEW, NUMA8, chosen=set(), proposed=None))
    assert lines[0].split() == ["n0", "n1"]
    assert lines[2].strip() == "0123 4567"
    assert lines[3] == "vCPU   0  #@## ..x."
    assert lines[4] == "vCPU   1  .... .@x."
    assert lines[5].startswith("vCPU   2  ???? ??x?") and "affinity not read yet" in lines[5]


def test_matrix_previews_a_pin_on_the_chosen_vcpu_only():
    lines = plain(matrix(VIEW, NUMA8, chosen={0}, proposed=frozenset({4, 5})))
    assert lines[3] == "vCPU   0  .... **x."
    assert lines[4] == "vCPU   1  .... .@x."


def test_vcpu_table_shows_ranges_and_marks_the_chosen():
    lines = plain(vcpu_table(VIEW, NUMA8, chosen={1}))
    assert lines[1].split()[:4] == ["0", "online", "1", "-"]
    assert lines[1].split()[-2:] == ["0-3", "-"]
    assert lines[2].startswith(">") and lines[2].split()[-2:] == ["5", "4-5"]
    assert lines[3].split()[-2:] == ["?", "-"]


def test_pcpu_lines_group_by_node_and_list_vcpus():
    snap = Snapshot(seq=1, wall=0.0, interval_s=1.0, host=NUMA8, domains=(VIEW,),
                    pcpu_pct=(10.0, 95.0, 0.0, 0.0, 0.0, 50.0, None, 0.0))
    lines = plain(pcpu_lines(snap))
    assert lines[0].startswith("NUMA node 0 (socket 0)  pCPUs 0-3")
    assert lines[2].split()[-2:] == ["95.0%", "web/0"]
    assert lines[5].startswith("NUMA node 1")
    assert lines[7].split()[-1] == "web/1" and lines[8].split() == ["6", "offline"]


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


class Driver:
    """A synthetic host the test ticks by hand (deterministic), in write mode when asked."""

    def __init__(self, write: bool, tmp_path, source: SyntheticSource | None = None):
        self.source = source or SyntheticSource(count=12, readonly=not write)
        self.config_path = tmp_path / "c.toml"
        self.prev = self.source.collect()

    @contextlib.asynccontextmanager
    async def running(self):
        """The app on this host (running_app): the pilot; the app is ``self.app``."""
        async with running_app(self.source, size=(120, 40), config_path=self.config_path) as (app, pilot):
            self.app = app
            yield pilot

    async def tick(self, pilot) -> None:
        raw = self.source.collect()
        self.app.snapshot = build_snapshot(self.prev, raw, raw.monotonic)
        self.prev = raw
        await pilot.pause()


async def settled(pilot, screen: VcpuScreen) -> None:
    """Until the pin in flight (in the poller's worker thread) has finished."""
    await until(pilot, lambda: not screen.busy, "the pin finished", seconds=2.0)


async def open_vcpu_view(driver: Driver, pilot, name: str = "proxy") -> VcpuScreen:
    await driver.tick(pilot)
    while driver.app.selected().name != name:
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(driver.app.screen, VcpuScreen)
    return driver.app.screen


@pytest.mark.asyncio
async def test_enter_opens_the_vcpu_view_which_watches_its_domain(tmp_path):
    d = Driver(False, tmp_path)
    cache = type("Interest", (), {"watch": None, "want_all": False})()  # the source's interest hint, as set
    d.source.set_interest = lambda uuid, all_pcpus=False: setattr(cache, "watch", uuid)
    async with d.running() as pilot:
        screen = await open_vcpu_view(d, pilot)
        assert cache.watch == screen.uuid
        assert "vCPUs of proxy" in text_of(screen, "#vcpu-title")
        grid = text_of(screen, "#vcpu-grid")
        assert "vCPU   0" in grid and "vCPU   1" in grid and "@" in grid
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(d.app.screen, VcpuScreen) and cache.watch is None
        await pilot.press("V")
        assert isinstance(d.app.screen, VcpuScreen)


@pytest.mark.asyncio
async def test_the_pcpu_view_opened_over_the_vcpu_view_gives_the_placement_interest_back_on_close(tmp_path):
    d = Driver(False, tmp_path)
    asked: list[tuple[str | None, bool]] = []
    d.source.set_interest = lambda uuid, all_pcpus=False: asked.append((uuid, all_pcpus))
    async with d.running() as pilot:
        screen = await open_vcpu_view(d, pilot)
        await pilot.press("1")
        await until(pilot, lambda: asked and asked[-1][1], "every pCPU's placement asked for")
        await pilot.press("escape")
        await until(pilot, lambda: d.app.screen is screen, "back in the vCPU view")
        await until(pilot, lambda: asked[-1] == (screen.uuid, False), "the vCPU view's domain watched again")


@pytest.mark.asyncio
async def test_read_only_pin_explains_how_to_write(tmp_path):
    d = Driver(False, tmp_path)
    async with d.running() as pilot:
        screen = await open_vcpu_view(d, pilot)
        await pilot.press("p")
        await until(pilot, lambda: "--write" in text_of(screen, "#vcpu-status"), "the refusal")
        assert not isinstance(d.app.screen, PromptScreen)


@pytest.mark.asyncio
async def test_pin_all_vcpus_previews_then_applies_on_y(tmp_path):
    d = Driver(True, tmp_path)
    async with d.running() as pilot:
        screen = await open_vcpu_view(d, pilot)
        await pilot.press("a", "p")
        await pilot.pause()
        assert isinstance(d.app.screen, PromptScreen)
        await pilot.press(*"nodes:1,^7", "enter")
        await pilot.pause()
        assert screen.proposed == ("nodes:1,^7", frozenset({4, 5, 6}))
        assert "Pin vCPU 0-1 of proxy to pCPUs 4-6" in text_of(screen, "#vcpu-status")
        assert "vCPU   0  .... ***." in text_of(screen, "#vcpu-grid")
        await pilot.press("y")
        await pilot.pause()
        await settled(pilot, screen)
        await d.tick(pilot)
        view = d.app.snapshot.by_uuid()[screen.uuid]
        assert all(v.hard_affinity == {4, 5, 6} for v in view.sample.vcpus)
        assert "4-6" in text_of(screen, "#vcpu-rows") and screen.proposed is None


@pytest.mark.asyncio
async def test_bad_pin_list_gives_one_line_and_no_preview(tmp_path):
    d = Driver(True, tmp_path)
    async with d.running() as pilot:
        screen = await open_vcpu_view(d, pilot)
        await pilot.press("p", *"0-99", "enter")
        await pilot.pause()
        assert screen.proposed is None
        status = text_of(screen, "#vcpu-status")
        assert "pCPU 99 does not exist; this host has pCPUs 0-7" in status and "\n" not in status
        await pilot.press("p", *"2", "enter", "n")  # a preview, cancelled
        await pilot.pause()
        assert screen.proposed is None
        await d.tick(pilot)
        assert d.app.snapshot.by_uuid()[screen.uuid].sample.vcpus[0].hard_affinity == frozenset(range(8))


@pytest.mark.asyncio
async def test_key_1_opens_the_pcpu_view(tmp_path):
    d = Driver(False, tmp_path)
    async with d.running() as pilot:
        await d.tick(pilot)
        await pilot.press("1")
        await pilot.pause()
        screen = d.app.screen
        assert isinstance(screen, PcpuScreen)
        body = text_of(screen, "#pcpu-lines")
        assert "NUMA node 0" in body and "NUMA node 1" in body and "proxy/0" in body
        await d.tick(pilot)  # keeps updating while open
        await pilot.press("escape")
        assert not isinstance(d.app.screen, PcpuScreen)


@pytest.mark.asyncio
async def test_pinning_through_the_ui_on_libvirts_test_driver(tmp_path):
    """Real libvirt code end to end: the test driver's domain pinned from the vCPU view."""
    source = LibvirtSource("test:///default", readonly=False)
    async with running_app(source, settings=config.Settings(delay=0.2), config_path=tmp_path / "c.toml", prime=0.0,
                           poll=True) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, VcpuScreen)
        await pilot.press("p")
        await pilot.pause()  # the prompt has the focus before typing (keys before it are not buffered)
        await pilot.press(*"0,2", "enter", "y")
        await pilot.pause()
        await settled(pilot, screen)
        dom = source.conn.lookupByName("test")
        cpumap = dom.vcpus()[1][0]
        assert [i for i, on in enumerate(cpumap) if on] == [0, 2]
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("1", "enter")  # pCPU 1 is offline on the test driver's host
        await pilot.pause()
        assert "offline pCPU(s) 1" in text_of(screen, "#vcpu-status")
    assert libvirt.getVersion() > 0
