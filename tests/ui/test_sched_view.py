"""The scheduler view (w): pools and parameters shown, hostile names literal, edits guarded and sent, bad input."""

from __future__ import annotations

import dataclasses

import pytest

from tests.ui import test_placement_views as placement
from tests.ui.harness import messages, running_app
from tests.ui.screen_read import shows_harmlessly
from tests.ui.waiting import until
from xentui import config
from xentui.actions import Action, ActionError, ActionParams
from xentui.model import (
    CpuPool,
    DomainRates,
    DomainSample,
    DomainScheduling,
    DomainState,
    DomainView,
    HostSample,
    RawSample,
    SchedulingState,
    Snapshot,
    VcpuBudget,
)
from xentui.sources.libvirt import LibvirtSource
from xentui.sources.synthetic import SyntheticSource
from xentui.text import visible
from xentui.ui import sched_edit
from xentui.ui.dialogs.confirm import ConfirmScreen
from xentui.ui.dialogs.prompt import PromptScreen
from xentui.ui.sched_render import lines
from xentui.ui.views.sched import NONE_HERE, SchedulerScreen

HOSTILE_DOMAIN = "[b]web[/b][@click=app.quit]\x1b[31m"
HOSTILE_POOL = "[red]rt\x1b]0;PWNED\x07[/red]"


class RecordingSource(SyntheticSource):
    """The synthetic host, keeping every action that reached it."""

    def __init__(self, **kw: object):
        super().__init__(count=12, scheduling=True, **kw)  # type: ignore[arg-type]
        self.acted: list[tuple[str, Action, ActionParams]] = []

    def act(self, domain: DomainSample, action: Action, params: ActionParams) -> None:
        self.acted.append((domain.name, action, params))
        super().act(domain, action, params)


class HostileSource(SyntheticSource):
    """The synthetic host with a domain and a pool named to harm a terminal."""

    def collect(self) -> RawSample:
        raw = super().collect()
        assert raw.scheduling is not None
        first = raw.domains[3]  # "build", in the RTDS pool
        sched = raw.scheduling
        pools = tuple(dataclasses.replace(p, name=HOSTILE_POOL) if p.name == "rt-pool" else p for p in sched.pools)
        doms = tuple(dataclasses.replace(d, name=HOSTILE_DOMAIN if d.uuid == first.uuid else d.name,
                                         pool=HOSTILE_POOL if d.pool == "rt-pool" else d.pool) for d in sched.domains)
        domains = tuple(dataclasses.replace(d, name=HOSTILE_DOMAIN) if d.uuid == first.uuid else d
                        for d in raw.domains)
        return dataclasses.replace(raw, domains=domains,
                                   scheduling=dataclasses.replace(sched, pools=pools, domains=doms))


class Driver(placement.Driver):
    """A synthetic host the test ticks by hand (deterministic), with cpupools."""

    def __init__(self, source: SyntheticSource, tmp_path):
        super().__init__(not source.readonly, tmp_path, source)

    async def open_on(self, pilot, name: str) -> SchedulerScreen:
        await self.tick(pilot)
        for _ in range(20):
            if self.app.selected().name == name:
                break
            await pilot.press("down")
        await pilot.press("w")
        await until(pilot, lambda: isinstance(self.app.screen, SchedulerScreen), "the scheduler view open")
        return self.app.screen


def body(screen: SchedulerScreen) -> str:
    return str(screen.query_one("#sched-lines").render())


def status(screen: SchedulerScreen) -> str:
    return str(screen.query_one("#sched-status").render())


def title(screen: SchedulerScreen) -> str:
    return str(screen.query_one("#sched-title").render())


def line_of(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.lstrip("> ").startswith(start))


def cursor(screen: SchedulerScreen) -> list[str]:
    """The cursor's line, split: ``['>', 'build', 'rtds', ...]``, ``['>', 'vCPU', '1', ...]``."""
    return next(line for line in body(screen).splitlines() if line.startswith(">")).split()


@pytest.mark.asyncio
async def test_the_view_shows_the_pools_their_domains_and_parameters_and_the_cursor_follows_the_table(tmp_path):
    d = Driver(SyntheticSource(count=12, scheduling=True), tmp_path)
    async with d.running() as pilot:
        screen = await d.open_on(pilot, "db")
        text = body(screen)
        assert line_of(text, "Pool-0").split() == ["Pool-0", "credit2", "0-5", "ratelimit_us", "1000"]
        assert line_of(text, "rt-pool").split() == ["rt-pool", "rtds", "6-7"]
        assert line_of(text, "web ").split()[-4:] == ["weight", "256", "cap", "50"]
        assert line_of(text, "build").endswith("4 vCPU(s), budgets reserve 170 % of one pCPU (+ extra time)")
        assert "period_us 10000  budget_us 3500 (35 %)  extratime no" in text
        assert text.index("build") > text.index("rt-pool") > text.index("web-1") > text.index("Pool-0")
        assert line_of(text, "db ").startswith(">")  # the cursor on the table's domain
        assert "2 pool(s), 12 domain(s)" in title(screen) and "ago" not in title(screen)
        await pilot.press("down")
        chosen = cursor(screen)[1]
        assert chosen != "db" and d.app.selected().name == chosen  # the table follows the view's cursor
        await pilot.press("w")
        await until(pilot, lambda: not isinstance(d.app.screen, SchedulerScreen), "w closes the view")
        assert d.app.selected().name == chosen


@pytest.mark.asyncio
async def test_data_older_than_a_tick_says_how_old(tmp_path):
    d = Driver(SyntheticSource(count=12, scheduling=True), tmp_path)  # read at ticks 1, 6: tick 5 shows 1's
    async with d.running() as pilot:
        screen = await d.open_on(pilot, "web")
        for _ in range(3):
            await d.tick(pilot)
        await until(pilot, lambda: "read 4 s ago" in title(screen), "the age in the title")
        await d.tick(pilot)  # tick 6: read again
        assert "ago" not in title(screen)


@pytest.mark.asyncio
async def test_a_source_without_schedulers_says_so_in_one_line(tmp_path):
    d = Driver(SyntheticSource(count=12, scheduling=False), tmp_path)
    async with d.running() as pilot:
        screen = await d.open_on(pilot, "web")
        assert body(screen) == NONE_HERE
        await pilot.press("e")
        assert not isinstance(d.app.screen, PromptScreen)


@pytest.mark.asyncio
async def test_hostile_pool_and_domain_names_stay_literal(tmp_path):
    d = Driver(HostileSource(count=12, scheduling=True), tmp_path)
    async with d.running() as pilot:
        screen = await d.open_on(pilot, HOSTILE_DOMAIN)
        text = body(screen)
        assert visible(HOSTILE_POOL) in text and visible(HOSTILE_DOMAIN) in text
        assert "\x1b" not in text and "␛" in text
        assert visible(HOSTILE_DOMAIN) in status(screen)
        await shows_harmlessly(pilot, d.app, HOSTILE_DOMAIN, HOSTILE_POOL, what="the scheduler view")


@pytest.mark.asyncio
async def test_an_edit_in_a_read_only_session_is_refused_with_the_reason(tmp_path):
    source = RecordingSource()
    d = Driver(source, tmp_path)
    async with d.running() as pilot:
        screen = await d.open_on(pilot, "web")
        for key in ("e", "m"):
            await pilot.press(key)
            await until(pilot, lambda: "--write" in status(screen), f"{key}: the read-only refusal")
            assert not isinstance(d.app.screen, PromptScreen)
        assert source.acted == []


@pytest.mark.asyncio
async def test_w_typed_before_a_dialog_has_the_focus_never_opens_the_view_over_it(tmp_path):
    d = Driver(SyntheticSource(count=12, scheduling=True), tmp_path)
    async with d.running() as pilot:
        await d.tick(pilot)
        assert d.app.check_action("sched_view", ())
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(d.app.screen, PromptScreen), "the filter prompt")
        assert not d.app.check_action("sched_view", ()) and not await d.app.run_action("sched_view")
        assert isinstance(d.app.screen, PromptScreen)


async def answer(pilot, app, text: str | None, confirm: bool = True) -> None:
    """Type ``text`` over the prompt's prefill (None: leave it), then y at the confirmation."""
    await until(pilot, lambda: isinstance(app.screen, PromptScreen), "the prompt")
    if text is not None:
        app.screen.query_one("Input").value = ""
        await pilot.press(*text)
    await pilot.press("enter")
    if confirm:
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")


@pytest.mark.asyncio
async def test_edits_with_write_reach_the_source_with_the_action_and_its_params(tmp_path):
    source = RecordingSource(readonly=False)
    d = Driver(source, tmp_path)
    async with d.running() as pilot:
        screen = await d.open_on(pilot, "web")
        await pilot.press("e")
        await answer(pilot, d.app, "weight=512")
        await until(pilot, lambda: len(source.acted) == 1 and not screen.busy, "the weight set")
        assert source.acted[0] == ("web", Action.SCHEDULE, {"sched": {"weight": 512}, "vcpu": "all"})
        assert "set weight 512 of web in" in status(screen) and "set weight 512 of web in" in messages(d.app)[-1]
        await d.tick(pilot)
        assert line_of(body(screen), "web ").split()[-4:] == ["weight", "512", "cap", "50"]

        for _ in range(20):  # bounded: a cursor that never gets to build fails here, it does not hang the run
            if cursor(screen)[1] == "build":
                break
            await pilot.press("down")
        assert cursor(screen)[1] == "build"
        await pilot.press("down", "down")  # build's vCPU 1
        assert cursor(screen)[1:3] == ["vCPU", "1"]
        await pilot.press("enter")
        await answer(pilot, d.app, "budget_us=4000")
        await until(pilot, lambda: len(source.acted) == 2 and not screen.busy, "the budget set")
        assert source.acted[1] == ("build", Action.SCHEDULE, {"sched": {"period_us": 10000, "budget_us": 4000},
                                                              "vcpu": 1})
        await d.tick(pilot)
        assert "period_us 10000  budget_us 4000 (40 %)" in body(screen)

        await pilot.press("up")  # build itself: a move to Pool-0
        await pilot.press("m")
        await answer(pilot, d.app, None)  # the one other pool, offered
        await until(pilot, lambda: len(source.acted) == 3 and not screen.busy, "the move")
        assert source.acted[2] == ("build", Action.CPUPOOL, {"pool": "Pool-0"})
        await d.tick(pilot)
        text = body(screen)
        assert text.index("build") < text.index("rt-pool")
        assert line_of(text, "build").lstrip("> ").split()[1] == "credit2"


@pytest.mark.asyncio
@pytest.mark.parametrize(("key", "typed", "said"), [
    ("e", "weight=lots", "weight 'lots' is not a whole number"),
    ("e", "budget_us=5", "'budget_us' is not a credit2 parameter that can be set here; these can: weight, cap"),
    ("e", "weight512", "'weight512' is not name=value; write e.g. weight=256 cap=50"),
    ("e", "weight=256", "nothing changed for web: nothing done"),
    ("m", "Pool-9", "no cpupool 'Pool-9' to move to; the others are: rt-pool"),
])
async def test_bad_input_gives_one_line_and_nothing_is_done(tmp_path, key, typed, said):
    source = RecordingSource(readonly=False)
    d = Driver(source, tmp_path)
    async with d.running() as pilot:
        screen = await d.open_on(pilot, "web")
        await pilot.press(key)
        await answer(pilot, d.app, typed, confirm=False)
        await until(pilot, lambda: said in status(screen), f"the line: {said}")
        assert "\n" not in status(screen) and not isinstance(d.app.screen, ConfirmScreen)
        assert source.acted == []


def test_a_kvm_host_shows_its_one_implicit_pool_with_shares_periods_and_quotas():
    host = HostSample(hostname="kvm1", hypervisor="QEMU", hypervisor_version="8", uri="qemu:///system", pcpus=4,
                      mhz=1, mem_total_kib=1, mem_free_kib=1)
    dom = DomainSample(uuid="u1", name="vm1", domid=1, state=DomainState.RUNNING)
    params = (("cpu_shares", 1024), ("vcpu_period", 100000), ("vcpu_quota", 30000), ("emulator_period", 100000),
              ("emulator_quota", -1), ("iothread_period", 100000), ("iothread_quota", -1))
    state = SchedulingState(10.0, (CpuPool("kvm1", "posix", frozenset(range(4))),),
                            (DomainScheduling("u1", "vm1", None, "posix", params),))
    snap = Snapshot(1, 10.0, 1.0, host, (DomainView(dom, DomainRates(cpu_pct=29.5), None, None),), scheduling=state)
    shown = [line.plain for line in lines(state, snap.by_key(), ("u1", None))]
    assert shown[1].split() == ["kvm1", "posix", "0-3"]
    assert shown[2].split() == [">", "vm1", "posix", "29.5", "cpu_shares", "1024", "vcpu_period", "100000",
                                "vcpu_quota", "30000", "emulator_period", "100000", "emulator_quota", "-1",
                                "iothread_period", "100000", "iothread_quota", "-1"]


def test_an_rtds_edit_sends_period_and_budget_together_and_reads_extratime_as_a_flag():
    rt = DomainScheduling("u", "rt", "rt-pool", "rtds", vcpus=(VcpuBudget(0, 10000, 2000, True),
                                                               VcpuBudget(1, 20000, 5000, False)))
    assert sched_edit.prefill(rt, 1) == "period_us=20000 budget_us=5000 extratime=no"
    assert sched_edit.parse("extratime=yes", rt, 1) == {"period_us": 20000, "budget_us": 5000, "extratime": True}
    assert sched_edit.parse("period_us=10000 budget_us=2000", rt, 0) == {}  # vCPU 0's now: nothing changes
    assert sched_edit.parse("period_us=10000, budget_us=2000", rt, None) == {"period_us": 10000,
                                                                             "budget_us": 2000}  # vCPU 1's change
    with pytest.raises(ActionError, match="extratime 'maybe' is not yes or no"):
        sched_edit.parse("extratime=maybe", rt, 0)
    with pytest.raises(ActionError, match="the vCPUs differ in period_us: give it for all of them, or edit one vCPU"):
        sched_edit.parse("budget_us=1000", rt, None)  # vCPU 0's period would be copied onto vCPU 1


def test_a_fleet_host_opened_alone_shows_only_its_own_pools_and_domains():
    pools = tuple(CpuPool("Pool-0", "credit2", frozenset({0, 1}), host=h) for h in ("h2", "h3"))
    doms = tuple(DomainScheduling(f"u{h}", f"vm-{h}", "Pool-0", "credit2", (("weight", 256),), host=h)
                 for h in ("h2", "h3"))
    shown = "\n".join(line.plain for line in lines(SchedulingState(1.0, pools, doms), {}, (None, None), "h3"))
    assert shown.count("Pool-0") == 1 and "vm-h3" in shown and "vm-h2" not in shown


@pytest.mark.asyncio
async def test_the_view_on_libvirts_test_driver_reads_edits_and_refuses_out_of_range(tmp_path):
    """Real libvirt code end to end: the test driver's weight shown, set from the view (libvirt takes it; this driver
    keeps its 50), one out of range refused with the range."""
    source = LibvirtSource("test:///default", readonly=False)
    async with running_app(source, settings=config.Settings(delay=0.2), config_path=tmp_path / "c.toml",
                           poll=True) as (app, pilot):
        await until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, SchedulerScreen), "the scheduler view open")
        screen = app.screen
        await until(pilot, lambda: "weight 50" in body(screen), "the test domain's weight read", seconds=20)
        assert line_of(body(screen), "host").split()[:2] == ["host", "fair"]
        await pilot.press("e")
        await answer(pilot, app, "weight=70000", confirm=False)
        await until(pilot, lambda: "weight 70000 is out of range: 1-65535" in status(screen), "the range")
        await pilot.press("e")
        await answer(pilot, app, "weight=120")
        await until(pilot, lambda: "set weight 120 of test" in status(screen), "the weight set (the driver keeps 50)")
