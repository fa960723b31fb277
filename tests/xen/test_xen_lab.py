"""xentui inside a real Xen 4.17 dom0 (booted under QEMU), side by side with xentop.

The lab (xenlab/run.py) boots Xen, starts three PV domUs (xl-busy and xl-io made with
`xl create`, lv-idle made through libvirt), runs xenlab/in_dom0.py and copies its records
out; these tests judge them.  XENTUI_XENLAB_OUT=DIR reuses a finished lab's records.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..xentop_layout import HEADER_NAMES, parse_row

pytestmark = pytest.mark.xenlab
REPO = Path(__file__).parents[2]
DOMAINS = {"Domain-0", "xl-busy", "xl-io", "lv-idle"}
SAME = ("MEM(k)", "MEM(%)", "MAXMEM(k)", "MAXMEM(%)", "VCPUS", "NETS", "VBDS", "SSID")
CUMULATIVE = ("NETTX(k)", "NETRX(k)", "VBD_OO", "VBD_RD", "VBD_WR", "VBD_RSECT", "VBD_WSECT")
ALIGNED_S = 0.2  # frames this close in time cover the same second


@pytest.fixture(scope="session")
def out(tmp_path_factory) -> Path:
    reuse = os.environ.get("XENTUI_XENLAB_OUT")
    if reuse:
        return Path(reuse) / "out"
    dest = tmp_path_factory.mktemp("xenlab")
    proc = subprocess.run([sys.executable, str(REPO / "xenlab" / "run.py"), "--out", str(dest)], timeout=1500)
    assert (dest / "out" / "results.json").exists(), f"the lab produced no results (rc {proc.returncode})"
    return dest / "out"


@pytest.fixture(scope="session")
def results(out) -> dict:
    data = json.loads((out / "results.json").read_text())
    assert data["ok"], data.get("error")
    return data


def frames(out: Path, tool: str) -> list[tuple[float, dict[str, dict[str, str]]]]:
    """[(time the frame's header arrived, {name: fields})] of one tool's batch output."""
    found: list = []
    header = None
    for stamp, line in json.loads((out / f"{tool}.stamped.json").read_text()):
        if line.split()[:2] == ["NAME", "STATE"]:
            header = line
            found.append((stamp, {}))
        elif header and line.split() and line.split()[0] in DOMAINS and len(line) == len(header):
            fields = parse_row(header, line)
            found[-1][1][fields["NAME"]] = fields
    return found


def aligned_pairs(out: Path) -> list[tuple[float, dict, dict]]:
    """(offset s, xentop frame, xentui frame) for frames of the same second; xentop's first has no CPU%."""
    top = frames(out, "xentop")[1:]
    tui = frames(out, "xentui")
    pairs = []
    for t_top, f_top in top:
        t_tui, f_tui = min(tui, key=lambda f: abs(f[0] - t_top))
        if abs(t_tui - t_top) <= ALIGNED_S:
            pairs.append((t_tui - t_top, f_top, f_tui))
    return pairs


def test_both_tools_ran_cleanly(results):
    assert results["xentop_rc"] == 0 and results["xentui_rc"] == 0
    assert results["xentui_stderr"] == ""


def test_xentui_sees_every_domain_the_xl_created_ones_included(out):
    for _stamp, frame in frames(out, "xentui"):
        assert set(frame) == DOMAINS


def test_same_header_as_xentop(out):
    top = (out / "xentop.txt").read_text().splitlines()[0]
    tui = (out / "xentui.txt").read_text().splitlines()[0]
    assert tui == top and top.split() == HEADER_NAMES


def test_every_column_agrees_with_xentop_in_the_same_second(out):
    pairs = aligned_pairs(out)
    assert len(pairs) >= 3, f"only {len(pairs)} frames of the two tools fell in the same second"
    for offset, top, tui in pairs:
        assert set(top) == set(tui) == DOMAINS
        for name in DOMAINS:
            a, b = top[name], tui[name]
            where = f"{name} (frames {offset:+.2f} s apart)"
            for column in SAME:
                assert a[column] == b[column], f"{column} of {where}: xentop {a[column]} xentui {b[column]}"
            assert abs(float(a["CPU(%)"]) - float(b["CPU(%)"])) <= 2.0, (
                f"CPU(%) of {where}: xentop {a['CPU(%)']} xentui {b['CPU(%)']}")
            assert abs(int(a["CPU(sec)"]) - int(b["CPU(sec)"])) <= 1


def test_cumulative_columns_within_one_interval(out):
    top = frames(out, "xentop")
    growth = {}  # largest one-interval growth xentop saw, per domain and column
    for (_, f0), (_, f1) in itertools.pairwise(top):
        for name in DOMAINS:
            for column in CUMULATIVE:
                if f0[name][column] != "-":
                    step = int(f1[name][column]) - int(f0[name][column])
                    growth[name, column] = max(growth.get((name, column), 0), step)
    for _offset, a, b in aligned_pairs(out):
        for name in DOMAINS:
            for column in CUMULATIVE:
                assert (a[name][column] == "-") == (b[name][column] == "-")
                if a[name][column] != "-":
                    diff = abs(int(a[name][column]) - int(b[name][column]))
                    assert diff <= growth[name, column] + 1, f"{column} of {name}: {a[name][column]} {b[name][column]}"
    assert max(growth["xl-io", "VBD_RD"], growth["xl-io", "NETTX(k)"] + growth["xl-io", "NETRX(k)"]) > 0


def xl_vcpu_list(text: str) -> dict[tuple[str, int], tuple[str, str]]:
    """Hard and soft affinity as `xl vcpu-list` prints them: {(name, vcpu): (hard, soft)}."""
    found = {}
    for line in text.splitlines()[1:]:
        m = re.match(r"(\S+)\s+\d+\s+(\d+)\s+\S+\s+\S+\s+[\d.]+\s+(\S+) / (\S+)$", line.strip())
        if m:
            found[m.group(1), int(m.group(2))] = (m.group(3), m.group(4))
    return found


def test_affinity_equals_xl_vcpu_list(out):
    xl = xl_vcpu_list((out / "xl-vcpu-list.txt").read_text())
    frame = json.loads((out / "xentui.json").read_text().splitlines()[-1])
    ours = {(d["name"], v["number"]): (v["hard_affinity"], v["soft_affinity"])
            for d in frame["domains"] for v in d["vcpu_list"]}
    assert ours == xl
    assert xl["xl-busy", 0] == ("1", "all")  # the lab pinned it there


def xl_states(path: Path) -> dict[str, str]:
    """{name: state letters} from `xl list`."""
    return {line.split()[0]: line.split()[4] for line in path.read_text().splitlines()[1:]}


def test_pin_pause_unpause_through_xentui_are_confirmed_by_xl(out, results):
    after_pin = xl_vcpu_list((out / "xl-vcpu-list-after-pin.txt").read_text())
    assert after_pin["xl-busy", 0] == ("0", "1")
    assert results["affinity_after_pin"] == [[0], [1]]  # and xentui reads it back
    state = xl_states(out / "xl-list-after-pause.txt")
    assert "p" in state["xl-busy"]
    assert results["flags_after_pause"] == "----p-"
    state = xl_states(out / "xl-list-after-unpause.txt")
    assert "p" not in state["xl-busy"] and "p" not in results["flags_after_unpause"]


def test_refusals_touch_nothing(out, results):
    assert "--write" in results["readonly_refusal"]
    state = xl_states(out / "xl-list-after-refusal.txt")
    assert "p" not in state["xl-busy"]
    assert "replaced by another domain" in results["replaced_refusal"]
    assert "xl-busy" in (out / "xl-list-after-replaced.txt").read_text()


def test_libvirt_source_says_what_it_cannot_see(results):
    assert results["libvirt_bulk_supported"] is False  # libxl has no getAllDomainStats: per-domain fallback
    assert results["libvirt_domains"] == ["Domain-0", "lv-idle"]
    assert results["libvirt_notices"] == [
        "libvirt lists only the domains it started: 2 more of the 4 running on this host are not shown "
        "(run xentui without -c to see every domain)"
    ]
    assert all(ns > 0 for ns in results["libvirt_cpu_ns"].values())


def test_cache_monitoring_refusal_is_explained(out):
    xl_says = (out / "xl-psr-cmt-show.txt").read_text().strip()
    frame = json.loads((out / "xentui.json").read_text().splitlines()[0])
    assert xl_says == "CMT is disabled in the system"  # TCG has no Intel CMT
    assert frame["host"]["cache_monitoring"].startswith(xl_says)
    assert "psr=cmt:1" in frame["host"]["cache_monitoring"]
