"""The alert engine: held for ``for`` on snapshot time, resolved when false or gone, keyed across a fleet."""

from __future__ import annotations

import dataclasses

from xentui.alerts import AlertEngine, Severity
from xentui.alerts.rules import parse_rules, parse_settings
from xentui.model import DomainState, HostState, RawSample, build_snapshot
from xentui.model.samples import HostPart

from ..factories import HOST, dom, raw
from ..hostile import NAMES as HOSTILE_NAMES


def engine(*tables: dict, history: int = 200) -> AlertEngine:
    rules, problems = parse_rules(list(tables), parse_settings({})[0])
    assert problems == []
    return AlertEngine(rules, history=history)


def feed(eng: AlertEngine, samples: list[RawSample]) -> list[tuple[float, str, str, str]]:
    """Every transition as (wall offset, firing|resolved, rule, subject)."""
    out = []
    prev = None
    for seq, sample in enumerate(samples):
        board = eng.evaluate(build_snapshot(prev, sample, seq))
        prev = sample
        out += [(a.fired_at - 1_700_000_000, "firing", a.rule, a.subject) for a in board.fired_now]
        out += [(a.resolved_at - 1_700_000_000, "resolved", a.rule, a.subject) for a in board.resolved_now]
    return out


def busy_then_idle(ticks_busy: int, ticks_idle: int, name: str = "web") -> list[RawSample]:
    """One domain at 100 % of a pCPU for ``ticks_busy`` 1 s ticks, then idle."""
    samples, cpu = [], 0.0
    for t in range(ticks_busy + ticks_idle + 1):
        samples.append(raw(float(t), dom(cpu, name=name, vcpus_current=2)))
        cpu += 1.0 if t < ticks_busy else 0.0
    return samples


def test_fires_after_for_and_resolves_when_false():
    eng = engine({"name": "busy", "when": "cpu_pct > 90", "for": "3s", "severity": "crit"})
    transitions = feed(eng, busy_then_idle(6, 3))
    # rates from t=1 (the first interval), held since 1, fired at 4; the interval ending at 7 is idle
    assert transitions == [(4.0, "firing", "busy", "web"), (7.0, "resolved", "busy", "web")]
    assert eng.board.firing == () and eng.board.resolved[0].since == 1_700_000_001.0
    assert eng.board.resolved[0].values == (("cpu_pct", 100.0),)


def test_not_long_enough_never_fires():
    assert feed(engine({"name": "busy", "when": "cpu_pct > 90", "for": "5s"}), busy_then_idle(4, 2)) == []


def test_gone_domain_resolves_and_a_host_rule_has_the_host_as_subject():
    eng = engine({"name": "web-up", "when": 'state == "running"'},
                 {"name": "mem", "when": "host_mem_pct > 50", "for": "1s", "severity": "crit"})
    samples = [raw(0.0, dom(0.0)), raw(1.0, dom(0.5)), raw(2.0), raw(3.0)]
    assert feed(eng, samples) == [(0.0, "firing", "web-up", "web"), (1.0, "firing", "mem", "h"),
                                  (2.0, "resolved", "web-up", "web")]
    alert = eng.board.firing[0]
    assert (alert.domain_key, alert.host, alert.severity) == ("", "", Severity.CRIT)
    assert alert.values == (("host_mem_pct", 75.0),)


def test_match_glob_and_hostile_names_are_data():
    eng = engine({"name": "db", "when": 'state == "running"', "match": "db-*"})
    names = [*HOSTILE_NAMES.values(), *("db-" + n for n in HOSTILE_NAMES.values()), "db-1", "web", "db"]
    domains = [dom(0.0, name=n, uuid=f"u{i}") for i, n in enumerate(names)]
    board = eng.evaluate(build_snapshot(None, raw(0.0, *domains), 0))
    assert sorted(a.subject for a in board.firing) == sorted(n for n in names if n.startswith("db-"))
    everything = engine({"name": "all", "when": 'state == "running"'})
    board = everything.evaluate(build_snapshot(None, raw(0.0, *domains), 0))
    assert {a.subject for a in board.firing} == {d.name for d in domains}


def test_a_fleet_keys_each_domain_by_its_host():
    def part(host: str, t: float, state: HostState) -> HostPart:
        sample = raw(t, dom(0.0, name="web", host=host, state=DomainState.CRASHED))  # one UUID on both hosts
        return HostPart(name=host, state=state, cur=sample)

    def fleet(t: float, **states: HostState) -> RawSample:
        parts = tuple(part(h, t, s) for h, s in states.items())
        return RawSample(monotonic=t, wall=1_700_000_000 + t, host=HOST,
                         domains=tuple(d for p in parts for d in p.cur.domains), parts=parts)

    eng = engine({"name": "crashed", "when": 'state == "crashed"'},
                 {"name": "down", "when": 'host_state != "up"', "severity": "crit"},
                 {"name": "stale", "when": "stale"})
    up, down = HostState.UP, HostState.DOWN
    transitions = feed(eng, [fleet(0.0, kvm1=up, kvm2=up), fleet(1.0, kvm1=up, kvm2=down), fleet(2.0, kvm1=up)])
    assert transitions == [(0.0, "firing", "crashed", "web"), (0.0, "firing", "crashed", "web"),
                           (1.0, "firing", "down", "kvm2"), (1.0, "firing", "stale", "web"),
                           (2.0, "resolved", "crashed", "web"), (2.0, "resolved", "down", "kvm2"),
                           (2.0, "resolved", "stale", "web")]
    assert [a.domain_key for a in eng.board.firing] == ["kvm1/" + dom(0).uuid]
    assert [(a.host, a.domain_key) for a in eng.board.resolved] == [
        ("kvm2", "kvm2/" + dom(0).uuid), ("kvm2", ""), ("kvm2", "kvm2/" + dom(0).uuid)]


def test_deterministic_on_snapshot_time_and_a_clock_going_back_starts_afresh():
    table = {"name": "busy", "when": "cpu_pct > 90", "for": "2s"}
    samples = busy_then_idle(5, 2)
    assert feed(engine(table), samples) == feed(engine(table), samples)
    eng = engine(table)
    feed(eng, samples[:5])
    assert len(eng.board.firing) == 1
    eng.reset()  # a replay sought back to the start (the controller's evaluate_from)
    feed(eng, samples[:2])
    assert eng.board.firing == () and eng.board.resolved == ()


def test_resolved_history_is_bounded_newest_first():
    eng = engine({"name": "up", "when": 'state == "running"'}, history=3)
    samples = [raw(float(t), dom(0.0, uuid=f"u{t}", name=f"d{t}")) for t in range(6)]
    feed(eng, samples)
    assert [a.subject for a in eng.board.resolved] == ["d4", "d3", "d2"]
    assert [a.subject for a in eng.board.firing] == ["d5"]
    assert eng.board.count(Severity.WARN) == 1 and eng.board.count(Severity.CRIT) == 0


def test_unknown_figures_never_fire():
    eng = engine({"name": "llc", "when": "llc_pct > 1 or not (llc_pct > 1)"},
                 {"name": "steal", "when": "steal_pct >= 0"})
    assert feed(eng, busy_then_idle(3, 0)) == []


def test_a_condition_unknown_for_a_tick_keeps_the_alert_and_its_clock():
    eng = engine({"name": "busy", "when": "cpu_pct > 90", "for": "2s"})
    samples, cpu = [], 0.0
    for t in range(8):  # busy throughout; at t=4 and t=6 the domain's CPU time is missing (no rate: unknown)
        missing = t in (4, 6)
        samples.append(raw(float(t), dom(cpu, vcpus_current=2) if not missing else
                           dataclasses.replace(dom(0.0, vcpus_current=2), cpu_ns=None)))
        cpu += 1.0
    transitions = feed(eng, samples)
    assert transitions == [(3.0, "firing", "busy", "web")]  # no spurious resolved/firing pair at 4 or 6
    assert eng.board.firing[0].since == 1_700_000_001.0


def test_unknown_never_starts_a_clock_and_a_gone_domain_still_resolves():
    eng = engine({"name": "busy", "when": "cpu_pct > 90", "for": "1s"})
    unknown = dataclasses.replace(dom(0.0, vcpus_current=2), cpu_ns=None)
    assert feed(eng, [raw(float(t), unknown) for t in range(4)]) == []
    samples = [raw(0.0, dom(0.0, vcpus_current=2)), raw(1.0, dom(1.0, vcpus_current=2)),
               raw(2.0, dom(2.0, vcpus_current=2)), raw(3.0)]
    assert feed(eng, samples) == [(2.0, "firing", "busy", "web"), (3.0, "resolved", "busy", "web")]


def test_a_wall_clock_stepping_back_live_keeps_the_firing_alerts():
    eng = engine({"name": "busy", "when": "cpu_pct > 90", "for": "2s"})
    samples = busy_then_idle(8, 0)
    stepped = [dataclasses.replace(s, wall=s.wall - (30.0 if i >= 5 else 0.0)) for i, s in enumerate(samples)]
    transitions = feed(eng, stepped)  # NTP stepped the clock back 30 s at t=5
    assert transitions == [(3.0, "firing", "busy", "web")]
    assert len(eng.board.firing) == 1 and eng.board.resolved == ()
    assert eng.board.firing[0].since == 1_700_000_001.0
