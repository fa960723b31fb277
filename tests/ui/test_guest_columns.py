"""TYPE (chosen; listed where known) and PCI (shown only when some domain has a host device), the detail pane's
type and device list; a Xen domain's overhead named after its device model."""

from __future__ import annotations

import pytest
from textual.widgets import SelectionList

from tests import hostile
from tests.factories import dom, raw
from xentui import config
from xentui.model import VcpuSample, build_snapshot
from xentui.ui.dialogs.columns import ColumnsScreen

from .harness import running_app, snapshots
from .screen_read import lines, shows_harmlessly
from .waiting import until

S = 1_000_000_000
OTHER = "22222222-2222-3333-4444-555555555555"


def xen_host(hostdevs: tuple[str, ...]):
    """An HVM domain served by its QEMU in dom0 (1.5 % of a pCPU over 2 s), a PV one beside it."""
    def sample(t: float, cpu: float, ovh: float):
        hvm = dom(cpu, vcpus=(VcpuSample(0, time_ns=int(cpu * S)),), overhead_ns=int(ovh * S), vcpus_current=1,
                  domain_type="hvm", device_model="qemu-xen", hostdevs=hostdevs)
        pv = dom(cpu / 2, uuid=OTHER, name="pv1", domid=8, domain_type="pv", device_model="none")
        return raw(t, hvm, pv)
    return build_snapshot(sample(0.0, 10, 3), sample(2.0, 11, 3.03), seq=2)


def chooser_keys(app) -> list[str]:
    picked = app.screen.query_one(SelectionList)
    return [picked.get_option_at_index(i).value for i in range(picked.option_count)]


@pytest.mark.asyncio
async def test_pci_column_type_column_and_the_detail():
    settings = config.Settings(columns=("name", "cpu_pct", "type", "ovh_pct", "pci"))
    async with running_app(size=(120, 30), snapshot=xen_host(("0000:03:00.1", "0000:81:10.2 VF")),
                           settings=settings) as (app, pilot):
        await until(pilot, lambda: any("PCI" in line for line in lines(app)), "the PCI header")
        header = next(line for line in lines(app) if "PCI" in line)
        assert header.split()[-3:] == ["TYPE", "OVH(%)", "PCI"]
        assert next(line for line in lines(app) if "web" in line).split()[-4:] == ["50.0", "hvm/qemu", "1.5", "2"]
        assert next(line for line in lines(app) if "pv1" in line).split()[-3:] == ["pv", "-", "0"]
        await pilot.press("v")
        detail = app.query_one("#detail")
        await until(pilot, lambda: "PCI 2" in str(detail.render()), "the device list in the detail pane")
        text = str(detail.render())
        assert "PCI 2: 0000:03:00.1, 0000:81:10.2 VF" in text
        assert "type hvm, device model qemu-xen" in text
        assert "overhead 1.5 (its QEMU in dom0)" in text
        await pilot.press("v", "c")
        await until(pilot, lambda: isinstance(app.screen, ColumnsScreen), "the column chooser")
        assert chooser_keys(app)[-3:] == ["ovh_pct", "type", "pci"]


@pytest.mark.asyncio
async def test_no_host_device_no_pci_column():
    async with running_app(size=(160, 30), snapshot=xen_host(())) as (app, pilot):  # PCI is a default column
        await until(pilot, lambda: any("NAME" in line for line in lines(app)), "the table")
        assert "pci" not in app.table.shown and not any(" PCI" in line for line in lines(app))
        app.snapshot = xen_host(("0000:03:00.1",))
        await until(pilot, lambda: "pci" in app.table.shown, "the PCI column once a domain has a device")


@pytest.mark.asyncio
async def test_not_listed_where_unknown():
    async with running_app(size=(120, 30), snapshot=snapshots()[-1]) as (app, pilot):
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ColumnsScreen), "the column chooser")
        assert not {"type", "pci"} & set(chooser_keys(app))


@pytest.mark.asyncio
async def test_a_recordings_unchecked_guest_words_read_literally_in_the_detail_pane():
    """A recording's device model and device list are any text (its decoder checks only their length): the detail
    pane shows them made visible, never as they came."""
    model, device = hostile.NAMES["osc-title"], hostile.NAMES["csi-colour"]
    first, second = (raw(t, dom(10 + t, domain_type="hvm", device_model=model, hostdevs=(device,))) for t in (0.0, 2.0))
    async with running_app(size=(120, 30), snapshot=build_snapshot(first, second, seq=2)) as (app, pilot):
        await pilot.press("v")
        await shows_harmlessly(pilot, app, f"device model {model}", f"PCI 1: {device}", within=app.query_one("#detail"),
                               what="the detail pane's guest lines")
