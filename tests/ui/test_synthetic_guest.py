"""The screenshots' guest scenes (guest-columns, guest-detail) show the synthetic host's own figures: each cell of
IP, GMEM(%), RD ms, WR ms, STEAL(%) and AGENT worked out here from the raw counters the source gave, and the
detail pane's facts from its agent; the opt-in leaves the other scenes' host (and their snapshots) as it was."""

from __future__ import annotations

import ipaddress

import pytest

from tests.ui.snapshot_app import GUEST_COLUMNS, DemoScreenApp
from xentui.model import DomainSample, DomainState, RawSample
from xentui.sources.synthetic import SyntheticSource
from xentui.ui.columns import BY_KEY

from .screen_read import lines, row_of
from .waiting import until

AGENT_WORD = {"ok": "yes", "no agent": "no", "agent not answering": "hung"}


def two_ticks() -> tuple[RawSample, RawSample]:
    """The samples DemoScreenApp(guest=True) shows (the source is deterministic: the same two ticks)."""
    source = SyntheticSource(count=12, readonly=True, scheduling=True, guest=True)
    return source.collect(), source.collect()


def ms(a: DomainSample, b: DomainSample, kind: str) -> str:
    d0, d1 = a.blocks[0], b.blocks[0]
    reqs = getattr(d1, f"{kind}_reqs") - getattr(d0, f"{kind}_reqs")
    if not reqs:
        return "-"
    value = (getattr(d1, f"{kind}_times_ns") - getattr(d0, f"{kind}_times_ns")) / reqs / 1e6
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def expected_cells(a: DomainSample, b: DomainSample, seconds: float) -> dict[str, str]:
    agent, stats = b.agent, b.balloon
    ip = "-"
    if agent is not None:
        found = [ipaddress.ip_address(x.address) for i in agent.interfaces for x in i.addresses]
        usable = [x for x in found if not x.is_link_local and not x.is_loopback]
        ip = str(min(usable, key=lambda x: x.version)) if usable else "-"  # IPv4 first, else in the guest's order
    gmem = "-" if stats is None else f"{100 * (stats.available_kib - stats.usable_kib) / stats.available_kib:.1f}"
    steal = sum(v1.delay_ns - v0.delay_ns for v0, v1 in zip(a.vcpus, b.vcpus, strict=True)) / seconds / 1e7
    return {"ip": ip, "gmem_pct": gmem, "rd_ms": ms(a, b, "rd"), "wr_ms": ms(a, b, "wr"), "steal_pct": f"{steal:.1f}",
            "agent": "-" if agent is None else AGENT_WORD[agent.status.value]}


@pytest.mark.asyncio
async def test_the_guest_columns_show_the_synthetic_figures():
    prev, cur = two_ticks()
    app = DemoScreenApp(guest=True, columns=GUEST_COLUMNS)
    async with app.run_test(size=(170, 40)) as pilot:
        await until(pilot, lambda: any(" AGENT" in line for line in lines(app)), "the AGENT column")
        assert app.table.shown == GUEST_COLUMNS  # every column fits 170 cells: none dropped
        by_name = {d.name: d for d in prev.domains}
        seen = set()
        for b in cur.domains:
            cells = dict(zip(GUEST_COLUMNS, row_of(app, b.name).text.split(), strict=True))
            want = expected_cells(by_name[b.name], b, cur.monotonic - prev.monotonic)
            assert {k: cells[k] for k in want} == want, b.name
            seen |= {(k, v) for k, v in cells.items()}
        # The variety the scene promises: an IPv6-only guest, guests with no agent and a hung one, a slow disk.
        assert {("ip", "2001:db8:53::6"), ("agent", "no"), ("agent", "hung"), ("agent", "-")} <= seen
        assert max(float(v) for k, v in seen if k == "rd_ms" and v != "-") > 40
        levels = {(v.name, key): BY_KEY[key].level(v, app.context) for v in app.snapshot.domains
                  for key in ("gmem_pct", "steal_pct", "agent")}
        assert levels[("db", "gmem_pct")] == "warn"  # swaps in
        assert levels[("proxy", "steal_pct")] == "crit" and levels[("build", "steal_pct")] == "warn"
        assert levels[("mail", "agent")] == "warn" and levels[("web", "gmem_pct")] is None


@pytest.mark.asyncio
async def test_the_detail_shows_the_guest_agent_facts_and_memory():
    _prev, cur = two_ticks()
    build = next(d for d in cur.domains if d.name == "build")  # the busiest: the cursor's row
    app = DemoScreenApp(guest=True, columns=GUEST_COLUMNS)
    async with app.run_test(size=(170, 40)) as pilot:
        await until(pilot, lambda: any(" AGENT" in line for line in lines(app)), "the table")
        await pilot.press("v", "b")
        detail = app.query_one("#detail")
        await until(pilot, lambda: "guest: " in str(detail.render()), "the guest's facts in the detail")
        shown = lines(app, detail)
        text = "\n".join(shown)
        agent, stats = build.agent, build.balloon
        assert shown[0].strip() == "build"
        assert f"guest: {agent.hostname}, {agent.os_name} {agent.os_version}, kernel {agent.kernel}" in text
        for i in agent.interfaces:
            assert f"if {i.name} {i.hwaddr}: {', '.join(str(a) for a in i.addresses)}" in text
        for fs in agent.filesystems:
            assert f"fs {fs.mountpoint} ({fs.fstype}):" in text
        assert f"users: {', '.join(u.name for u in agent.users)};" in text
        used = 100 * (stats.available_kib - stats.usable_kib) / stats.available_kib
        assert f"(GMEM {used:.1f} %)" in text
        assert f"read {cur.wall - agent.read_wall:.0f} s ago" in text  # dated by the tick shown, not this clock
        assert any(line.strip().startswith("VBD vda") and " RD " in line for line in shown)  # on screen, not cut


def test_the_opt_in_leaves_the_snapshot_host_unchanged():
    plain, guest = SyntheticSource(count=12), SyntheticSource(count=12, guest=True)
    for _ in range(2):
        a, b = plain.collect(), guest.collect()
    assert all(d.agent is None and d.balloon is None and d.blocks[0].rd_times_ns is None for d in a.domains)
    assert [(d.name, d.cpu_ns, d.mem_kib, d.nets) for d in a.domains] == \
        [(d.name, d.cpu_ns, d.mem_kib, d.nets) for d in b.domains]
    crashed = [d for d in b.domains if d.state is DomainState.CRASHED]
    assert crashed and all(d.agent is None for d in crashed)
    assert two_ticks()[1] == two_ticks()[1]  # deterministic: every run draws the same screens
