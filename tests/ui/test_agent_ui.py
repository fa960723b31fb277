"""The guest agent in the UI (issue 18, item 2): the IP and AGENT columns only where an agent answered, the
facts in the detail pane, and opening a domain's details reads its agent at once.  End to end on libvirt's
test driver, whose domain ``test`` answers ``interfaceAddresses(SRC_AGENT)`` and ``getTime()`` itself."""

from __future__ import annotations

import pytest

from tests.factories import dom, raw
from xentui.model import build_snapshot
from xentui.model.guest_agent import AgentStatus, GuestAddress, GuestAgent, GuestInterface
from xentui.sources.libvirt import LibvirtSource

from .harness import running_app
from .screen_read import lines, shows_harmlessly
from .waiting import until

AGENT = GuestAgent(AgentStatus.OK, 1_700_000_000.0, hostname="web.example", os_name="Debian GNU/Linux",
                   os_version="12 (bookworm)", kernel="6.1.0-27-amd64",
                   interfaces=(GuestInterface("eth0", "52:54:00:12:34:56", (GuestAddress("10.0.2.15", 24),)),),
                   ip="10.0.2.15")


def host(agent: GuestAgent | None):
    return build_snapshot(raw(0.0, dom(1, agent=agent)), raw(2.0, dom(2, agent=agent)), seq=2)


@pytest.mark.asyncio
async def test_ip_and_agent_columns_show_only_once_an_agent_answered():
    async with running_app(size=(200, 30), snapshot=host(None)) as (app, pilot):
        await until(pilot, lambda: any("NAME" in line for line in lines(app)), "the table")
        assert not {"ip", "agent"} & set(app.table.shown)
        app.snapshot = host(GuestAgent(AgentStatus.NO_AGENT, 1.0))
        await pilot.pause()
        assert not {"ip", "agent"} & set(app.table.shown)  # "no agent" everywhere: nothing to show
        app.snapshot = host(AGENT)
        await until(pilot, lambda: {"ip", "agent"} <= set(app.table.shown), "IP and AGENT once an agent answered")
        row = next(line for line in lines(app) if "web" in line)
        assert "10.0.2.15" in row.split() and "yes" in row.split()


@pytest.mark.asyncio
async def test_details_show_the_facts_and_read_the_agent_at_once():
    source = LibvirtSource("test:///default", readonly=False, guest_agent=True)
    try:
        async with running_app(source, size=(200, 30), poll=True) as (app, pilot):
            watch = source.agent
            assert watch is not None
            await until(pilot, lambda: "ip" in app.table.shown, "the IP column from the test driver's agent", 20)
            row = next(line for line in lines(app) if line.split()[:1] == ["test"])
            assert "192.168.122.3" in row.split()  # the test driver's agent address for testnet0
            first = next(iter(watch.facts.values())).read_wall
            await pilot.press("n")
            detail = app.query_one("#detail")
            await until(pilot, lambda: "if testnet0 aa:bb:cc:dd:ee:ff: 192.168.122.3/24" in str(detail.render()),
                        "the interface in the detail pane")
            # read again at once, not after its 30 s turn
            await until(pilot, lambda: next(iter(watch.facts.values())).read_wall > first, "a read on opening", 10)
    finally:
        source.close()


@pytest.mark.asyncio
async def test_a_hostile_guest_shows_literally_in_the_detail():
    from dataclasses import replace

    from tests.hostile import NAMES, unsafe_in

    evil = replace(AGENT, hostname=NAMES["osc-title"] + NAMES["markup-click"], kernel=NAMES["bidi-override"],
                   interfaces=(GuestInterface(NAMES["csi-colour"], None, (GuestAddress("10.0.2.15", 24),)),))
    async with running_app(size=(200, 30), snapshot=host(evil)) as (app, pilot):
        await pilot.press("n")
        detail = app.query_one("#detail")
        await until(pilot, lambda: "guest: " in str(detail.render()), "the guest's facts in the detail")
        text = str(detail.render())
        assert all(unsafe_in(line) == [] for line in text.splitlines())
        assert "␛]0;PWNED␇[ @click=app.screenshot('x.svg')]web01" in text  # literal: no markup, no escape
        assert "kernel ⟨U+202E⟩web01" in text and "if ␛[31mred -: 10.0.2.15/24" in text
        # and on the whole screen, and in the bytes written to the terminal
        await shows_harmlessly(pilot, app, NAMES["osc-title"], NAMES["markup-click"], NAMES["bidi-override"],
                               NAMES["csi-colour"], within=detail, what="the guest's facts in the detail pane")
