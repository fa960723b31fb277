"""Xen's cpupools and schedulers read from xl's own output formats, quoted from xen-project/xen's
tools/xl/xl_cpupool.c and tools/xl/xl_sched.c, with names an admin (or an attacker) may choose; the edit lines."""
# ruff: noqa: UP031  (xl's printf formats, quoted as they are)

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.factories import dom
from tests.fake_xenstat import FakeXenStat, FakeXenStore, FakeXl
from xentui.model import DomainScheduling, SchedulingState, VcpuBudget
from xentui.sources.base import SourceError
from xentui.sources.xen import XenSource
from xentui.sources.xen import sched as xs

DATA = Path(__file__).parents[1] / "data"


def pool_list(*rows: tuple[str, int, str, int]) -> str:
    # main_cpupoollist: printf("%-19s", "Name"); printf("CPUs   Sched     Active   Domain count\n");
    # per pool printf("%-19s", name); printf("%3d %9s       y       %4d", n, sched, n_dom)
    head = "%-19s" % "Name" + "CPUs   Sched     Active   Domain count\n"
    return head + "".join("%-19s" % n + "%3d %9s       y       %4d" % (c, s, d) + "\n" for n, c, s, d in rows)


def pool_cpus(*rows: tuple[str, list[int]]) -> str:
    # with -c: printf("%-19s", "Name"); printf("CPU list\n"); per pool the CPUs printed "%d" joined by ","
    return "%-19s" % "Name" + "CPU list\n" + "".join("%-19s" % n + ",".join(map(str, c)) + "\n" for n, c in rows)


def credit_dom(name: str, domid: int, weight: int, cap: int) -> str:
    return "%-33s %4d %6d %4d\n" % (name, domid, weight, cap)  # sched_credit{,2}_domain_output


CREDIT_HEAD = "%-33s %4s %6s %4s\n" % ("Name", "ID", "Weight", "Cap")


def rtds_vcpu(name: str, domid: int, vcpu: int, period: int, budget: int, extra: bool) -> str:
    # sched_rtds_vcpu_output_all: "%-33s %4d %4d %9"PRIu32" %9"PRIu32" %10s\n"
    return "%-33s %4d %4d %9d %9d %10s\n" % (name, domid, vcpu, period, budget, "yes" if extra else "no")


RTDS_HEAD = "%-33s %4s %4s %9s %9s %10s\n" % ("Name", "ID", "VCPU", "Period", "Budget", "Extratime")


def test_the_real_dom0s_cpupool_list_and_credit2_table() -> None:
    rows = xs.parse_cpupool_list((DATA / "xl-cpupool-list.txt").read_text())
    assert rows == [("Pool-0", 2, "credit2")]
    params, domains = xs.parse_sched_credit((DATA / "xl-sched-credit2-domu.txt").read_text(), {"Pool-0"})
    assert params == {"Pool-0": (("ratelimit_us", 1000),)}  # "Cpupool %s: ratelimit=%dus"
    assert domains == [("Pool-0", 0, "Domain-0", (("weight", 256), ("cap", 0))),
                       ("Pool-0", 2, "probe1", (("weight", 256), ("cap", 0))),
                       ("Pool-0", 3, "probe2", (("weight", 256), ("cap", 0)))]


def test_names_with_spaces_digits_and_full_width_are_read_from_the_right() -> None:
    names = ["Pool-0", "rt pool 7", "x" * 19, "p2: 3 4"]
    text = pool_list((names[0], 1, "credit", 3), (names[1], 1, "rtds", 1), (names[2], 12, "null", 0),
                     (names[3], 0, "credit2", 0))
    assert xs.parse_cpupool_list(text) == [(names[0], 1, "credit"), (names[1], 1, "rtds"), (names[2], 12, "null"),
                                           (names[3], 0, "credit2")]
    cpus = xs.parse_cpupool_cpus(pool_cpus((names[0], [0]), (names[1], [1]), (names[2], list(range(2, 14))),
                                           (names[3], [])), names)
    assert cpus == {names[0]: frozenset({0}), names[1]: frozenset({1}), names[2]: frozenset(range(2, 14)),
                    names[3]: frozenset()}


def test_credit_pool_parameters_and_a_domain_named_like_a_heading() -> None:
    evil = "Cpupool Pool-0: ratelimit=1us"  # a domain's name is outside text: still a domain's line
    text = ("Cpupool Pool-0: tslice=30ms ratelimit=1000us migration-delay=0us\n" + CREDIT_HEAD
            + credit_dom("Domain-0", 0, 256, 0) + credit_dom(evil, 5, 512, 50)
            + "Cpupool other: [sched params unavailable]\n" + CREDIT_HEAD + credit_dom("web 2", 6, 128, 0))
    params, domains = xs.parse_sched_credit(text, {"Pool-0", "other"})
    assert params == {"Pool-0": (("tslice_ms", 30), ("ratelimit_us", 1000), ("migration_delay_us", 0)),
                      "other": ()}
    assert [(p, d, n) for p, d, n, _ in domains] == [("Pool-0", 0, "Domain-0"), ("Pool-0", 5, evil),
                                                     ("other", 6, "web 2")]
    assert domains[1][3] == (("weight", 512), ("cap", 50))
    # a pool made since cpupool-list listed them: its section left out (not Pool-0's), its name reported
    unlisted: set[str] = set()
    _params, domains = xs.parse_sched_credit(text, {"Pool-0"}, unlisted)
    assert [d for _, d, _, _ in domains] == [0, 5] and unlisted == {"other"}


def test_rtds_per_vcpu_table() -> None:
    text = ("Cpupool rt: sched=RTDS\n" + RTDS_HEAD + rtds_vcpu("xl-busy", 3, 0, 100000, 30000, False)
            + rtds_vcpu("xl-busy", 3, 1, 10000, 4000, True) + rtds_vcpu("a b 1 2", 4, 0, 10000, 4000, True))
    out = xs.parse_sched_rtds(text, {"rt"})
    assert out[3] == ("rt", "xl-busy", [VcpuBudget(0, 100000, 30000, False), VcpuBudget(1, 10000, 4000, True)])
    assert out[4][1] == "a b 1 2"


def test_list_c_maps_domains_of_pools_without_a_sched_table() -> None:
    # list_domains: "%-40s %5d %5lu %5d     %s  %8.1f" (name, id, mem, vcpus, state, time) then " %16s" cpupool
    line = "%-40s %5d %5lu %5d     %s  %8.1f %16s\n"
    text = ("Name                                        ID   Mem VCPUs\tState\tTime(s)         Cpupool\n"
            + line % ("Domain-0", 0, 1024, 2, "r-----", 51.2, "Pool-0")
            + line % ("nul 1", 4, 128, 1, "-b----", 3.0, "np 2"))
    assert xs.parse_list_cpupools(text, {"np 2"}) == {4: ("nul 1", "np 2")}


class Xl:
    """xl answering a dom0 with a credit2 Pool-0 and an RTDS pool (a dict of command lines to outputs)."""

    def __init__(self, answers: dict[tuple[str, ...], str]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, ...]] = []

    def __call__(self, *args: str, timeout: float = 30.0) -> str:
        assert timeout <= 30
        self.asked.append(args)
        if args not in self.answers:
            raise SourceError(f"xl {' '.join(args)}: not expected")
        return self.answers[args]


TWO_POOLS = {
    ("cpupool-list",): pool_list(("Pool-0", 1, "credit2", 2), ("rt", 1, "rtds", 1)),
    ("cpupool-list", "-c"): pool_cpus(("Pool-0", [0]), ("rt", [1])),
    ("sched-credit2",): "Cpupool Pool-0: ratelimit=1000us\n" + CREDIT_HEAD + credit_dom("Domain-0", 0, 256, 0)
    + credit_dom("new", 9, 256, 0),
    ("sched-rtds", "-v", "all"): "Cpupool rt: sched=RTDS\n" + RTDS_HEAD
    + rtds_vcpu("xl-busy", 3, 0, 100000, 30000, False),
}


def test_a_read_gives_every_pool_and_domain_keyed_by_uuid() -> None:
    uuids = {0: "u0", 3: "u3"}  # domid 9 is newer than the last tick: read next time
    run = Xl(TWO_POOLS)
    state = xs.read_scheduling(run, uuids.get)
    assert [(p.name, p.scheduler, p.pcpus, p.params) for p in state.pools] == [
        ("Pool-0", "credit2", frozenset({0}), (("ratelimit_us", 1000),)), ("rt", "rtds", frozenset({1}), ())]
    assert [(d.uuid, d.name, d.pool, d.scheduler) for d in state.domains] == [
        ("u0", "Domain-0", "Pool-0", "credit2"), ("u3", "xl-busy", "rt", "rtds")]
    assert state.domains[0].param("weight") == 256 and state.domains[1].vcpus == (VcpuBudget(0, 100000, 30000, False),)
    assert ("sched-credit",) not in run.asked and ("list", "-c") not in run.asked  # only the schedulers in use


def test_edit_lines_follow_the_domains_scheduler() -> None:
    busy = dom(1, name="xl-busy", domid=3)
    rt = DomainScheduling("u3", "xl-busy", "rt", "rtds", vcpus=(VcpuBudget(0, 100000, 30000, True),))
    params = {"sched": {"period_us": 100000, "budget_us": 30000}, "vcpu": "all"}
    assert xs.schedule_line(busy, params, rt) == ["sched-rtds", "-d", "3", "-v", "all", "-p", "100000",
                                                  "-b", "30000", "-e", "1"]  # extratime kept: xl sets all three
    params = {"sched": {"period_us": 100000, "budget_us": 30000, "extratime": False}, "vcpu": 0}
    assert xs.schedule_line(busy, params, rt)[-6:] == ["-p", "100000", "-b", "30000", "-e", "0"]
    c2 = replace(rt, pool="Pool-0", scheduler="credit2", vcpus=())
    assert xs.schedule_line(busy, {"sched": {"cap": 30}, "vcpu": "all"}, c2) == ["sched-credit2", "-d", "3", "-c", "30"]
    with pytest.raises(SourceError, match="runs in cpupool rt under rtds: its parameters are period_us, budget_us"):
        xs.schedule_line(busy, {"sched": {"weight": 5}}, rt)
    with pytest.raises(SourceError, match="not known yet"):
        xs.schedule_line(busy, {"sched": {"weight": 5}}, None)
    state = SchedulingState(wall=0, pools=xs.read_scheduling(Xl(TWO_POOLS), {}.get).pools)
    assert xs.cpupool_line(busy, "rt", state) == ["cpupool-migrate", "3", "rt"]
    with pytest.raises(SourceError, match=r"no cpupool 'nope' on this host \(xl cpupool-list: Pool-0, rt\)"):
        xs.cpupool_line(busy, "nope", state)
    with pytest.raises(SourceError, match="as an option"):
        xs.cpupool_line(busy, "-h", state)
    two = replace(rt, vcpus=(VcpuBudget(0, 100000, 30000, True), VcpuBudget(1, 100000, 30000, False)))
    with pytest.raises(SourceError, match="vCPUs differ in extratime: give extratime for all of them"):
        xs.schedule_line(busy, {"sched": {"period_us": 100000, "budget_us": 20000}, "vcpu": "all"}, two)
    assert xs.schedule_line(busy, {"sched": {"period_us": 100000, "budget_us": 20000, "extratime": True},
                                   "vcpu": "all"}, two)[-2:] == ["-e", "1"]


def test_numbers_are_ascii_digits_and_pool_names_never_read_as_pool_ids() -> None:
    from xentui.schedparams import SchedParamError, check_pool, check_schedule

    for typed in ("--5", "\u00b2", "1e3", "", "12345678901234567890"):
        with pytest.raises(SchedParamError, match="is not a whole number"):
            check_schedule({"weight": typed}, None, 1)
    with pytest.raises(SchedParamError, match="all-digit name as a pool id"):
        check_pool("1")
    shares = r"cpu_shares 1 is out of range: 2-262144 \(cgroup v1; libvirt on cgroup v2"
    with pytest.raises(SchedParamError, match=shares):
        check_schedule({"cpu_shares": 1}, None, 1)


def test_the_xen_source_reads_only_once_watched_and_then_carries_the_state() -> None:
    xl = FakeXl()
    source = XenSource(stat=FakeXenStat(), store=FakeXenStore(), run=xl, cpuinfo=lambda: None)
    try:
        assert source.collect().scheduling is None  # nobody asked: no xl in dom0 for it
        source.watch_scheduling(True)
        state = source.collect().scheduling  # the first read is waited for (FIRST_WAIT_S at most)
        assert state is not None and not state.error
        assert [(p.name, p.scheduler, p.pcpus) for p in state.pools] == [("Pool-0", "credit2", frozenset({0, 1}))]
        by_name = {d.name: d for d in state.domains}
        assert by_name["Domain-0"].uuid == "00000000-0000-0000-0000-000000000000"
        assert by_name["Domain-0"].params == (("weight", 256), ("cap", 0))
    finally:
        source.close()


def test_an_edit_goes_through_perform_to_xl_and_xls_refusal_is_shown_in_its_words() -> None:
    from xentui.actions import Action, ActionError, perform
    from xentui.sources.xen.xl import XlError

    class Refusing(FakeXl):
        def __call__(self, *args: str, timeout: float = 30.0) -> str:
            if args[:1] == ("cpupool-migrate",):
                self.actions.append(args)
                raise XlError(args, "libxl_cpupool_movedomain failed")
            return super().__call__(*args, timeout=timeout)

    xl = Refusing()
    source = XenSource(readonly=False, stat=FakeXenStat(), store=FakeXenStore(), run=xl,
                       cpuinfo=lambda: None)
    try:
        source.watch_scheduling(True)
        sample = source.collect()
        probe1 = next(d for d in sample.domains if d.name == "probe1")
        perform(source, probe1, Action.SCHEDULE, host=sample.host, sched={"weight": 512, "cap": 50})
        assert ("sched-credit2", "-d", "2", "-w", "512", "-c", "50") in xl.actions
        with pytest.raises(ActionError, match="no cpupool 'rt' on this host"):
            perform(source, probe1, Action.CPUPOOL, host=sample.host, pool="rt")
        with pytest.raises(ActionError) as err:
            perform(source, probe1, Action.CPUPOOL, host=sample.host, pool="Pool-0")
        assert str(err.value) == "xl cpupool-migrate 2 Pool-0: libxl_cpupool_movedomain failed"
        with pytest.raises(ActionError, match="under credit2: its parameters are weight, cap"):
            perform(source, probe1, Action.SCHEDULE, host=sample.host, sched={"period_us": 100, "budget_us": 50})
    finally:
        source.close()


def test_pools_are_listed_every_10_s_or_when_a_table_names_a_new_one_the_tables_every_read() -> None:
    now = [0.0]
    run = Xl(dict(TWO_POOLS))
    reader = xs.XlScheduling(run, {0: "u0", 3: "u3"}.get, clock=lambda: now[0])
    reader.read()
    assert run.asked == [("cpupool-list",), ("cpupool-list", "-c"), ("sched-credit2",), ("sched-rtds", "-v", "all")]
    run.asked.clear()
    reader.read()  # a watched tick: one call per scheduler in use, no pool listing
    assert run.asked == [("sched-credit2",), ("sched-rtds", "-v", "all")]
    run.answers[("sched-credit2",)] += "Cpupool new: ratelimit=1000us\n" + CREDIT_HEAD + credit_dom("moved", 0, 9, 0)
    run.answers[("cpupool-list",)] = pool_list(("Pool-0", 1, "credit2", 1), ("rt", 1, "rtds", 1),
                                               ("new", 0, "credit2", 1))
    run.asked.clear()
    state = reader.read()  # the table names a pool not listed: listed again at once
    assert ("cpupool-list",) in run.asked and [p.name for p in state.pools] == ["Pool-0", "rt", "new"]
    assert next(d for d in state.domains if d.uuid == "u0").pool == "new"
    run.asked.clear()
    now[0] = 10.0
    reader.read()
    assert run.asked[0] == ("cpupool-list",)  # 10 s on
    run.asked.clear()
    reader.changed()  # after an edit
    reader.read()
    assert run.asked[0] == ("cpupool-list",)
