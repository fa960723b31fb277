"""The Xen lab's cpupool of RTDS on pCPU 1 (credit2 and a cap where this Xen lacks RTDS): xl-busy moved into it
and given 30 % of a pCPU through xentui's actions; its CPU(%) in xentui and in the real xentop, side by side;
xentui's scheduling state beside xl's own cpupool-list and sched-* output."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from ..xentop_layout import parse_row

pytestmark = [pytest.mark.xenlab, pytest.mark.timeout(1800)]
TARGET_PCT = 30.0
NEAR = 6.0  # points
SETTLE = 2  # frames left out at the start (xentui's first two: the prime and a window that began before)


@pytest.fixture(scope="module")
def sched(results: dict) -> dict:
    assert "sched_error" not in results, results.get("sched_error")
    return results


def xentui_busy_pct(out: Path) -> list[float]:
    lines = [line for _t, line in json.loads((out / "sched-xentui.stamped.json").read_text())]
    frames = [json.loads(line) for line in lines if line.startswith("{")]
    return [d["cpu_pct_of_one_pcpu"] for f in frames[SETTLE:] for d in f["domains"] if d["name"] == "xl-busy"]


def xentop_busy_pct(out: Path) -> list[float]:
    header, found = None, []
    for _t, line in json.loads((out / "sched-xentop.stamped.json").read_text()):
        if line.split()[:2] == ["NAME", "STATE"]:
            header = line
        elif header and line.split()[:1] == ["xl-busy"] and len(line) == len(header):
            found.append(float(parse_row(header, line)["CPU(%)"]))
    return found[1:]  # xentop's first frame is 0.0 by design


def test_the_busy_domu_settles_near_30_percent_in_xentui_and_in_xentop(sched, out) -> None:
    tui, top = xentui_busy_pct(out), xentop_busy_pct(out)
    assert len(tui) >= 8 and len(top) >= 6, (tui, top)
    print(f"\nxl-busy in cpupool rt ({'RTDS 30000/100000 us' if sched['sched_rtds'] else 'credit2 cap 30'}): "
          f"xentui median {statistics.median(tui):.1f} {tui}; xentop median {statistics.median(top):.1f} {top}")
    assert abs(statistics.median(tui) - TARGET_PCT) <= NEAR
    assert abs(statistics.median(top) - TARGET_PCT) <= NEAR
    assert abs(statistics.median(tui) - statistics.median(top)) <= 3.0


def test_xentuis_state_is_xls_own_output(sched, out) -> None:
    state = sched["sched_state"]
    assert state is not None and not state["error"]
    pools = {name: (scheduler, cpus) for name, scheduler, cpus, _params in state["pools"]}
    # xl cpupool-list -c: "%-19s" name then the CPUs; xl cpupool-list: "%-19s" then "%3d %9s       y       %4d"
    for line in (out / "sched-xl-cpupool-list-c.txt").read_text().splitlines()[1:]:
        name, cpus = line[:19].strip(), line[19:].strip()
        assert sorted(pools[name][1]) == [int(c) for c in cpus.split(",") if c], line
    for line in (out / "sched-xl-cpupool-list.txt").read_text().splitlines()[1:]:
        fields = line.split()
        assert pools[fields[0]][0] == fields[-3], line
    expected = "rtds" if sched["sched_rtds"] else "credit2"
    assert pools["rt"] == (expected, [1]) and 1 not in pools["Pool-0"][1]
    pool, scheduler, params, vcpus = state["domains"]["xl-busy"]
    assert (pool, scheduler) == ("rt", expected)
    listed = (out / "sched-xl-sched.txt").read_text()
    if sched["sched_rtds"]:
        # "%-33s %4d %4d %9u %9u %10s": name, ID, vCPU, period, budget, extratime
        rows = [line.split()[-4:] for line in listed.splitlines() if line.startswith("xl-busy ")]
        assert [[int(v), int(p), int(b), e == "yes"] for v, p, b, e in rows] == vcpus == [[0, 100000, 30000, False]]
    else:
        row = next(line.split() for line in listed.splitlines() if line.startswith("xl-busy "))
        assert params == {"weight": int(row[-2]), "cap": int(row[-1])} and params["cap"] == 30
    assert re.search(r"^xl-busy\s.*\srt\s*$", (out / "sched-xl-list-c.txt").read_text(), re.M)


def test_batch_json_carries_the_pools_and_each_domains_sched(sched, out) -> None:
    lines = [line for _t, line in json.loads((out / "sched-xentui.stamped.json").read_text())]
    frame = json.loads(lines[-1])
    assert {p["name"]: p["scheduler"] for p in frame["pools"]}["rt"] == ("rtds" if sched["sched_rtds"] else "credit2")
    busy = next(d for d in frame["domains"] if d["name"] == "xl-busy")
    assert busy["cpupool"] == "rt"
    if sched["sched_rtds"]:
        assert busy["sched"]["vcpus"] == [{"vcpu": 0, "period_us": 100000, "budget_us": 30000, "extratime": False}]
    else:
        assert busy["sched"]["cap"] == 30
    after = (out / "sched-xl-cpupool-list-after.txt").read_text().splitlines()[1:]
    assert [line.split()[:2] for line in after] == [["Pool-0", "2"]]  # the layout restored
