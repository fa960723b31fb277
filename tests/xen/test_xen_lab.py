"""xentui inside a real Xen 4.17 dom0 (booted under QEMU), side by side with xentop.

The lab (xenlab/run.py) boots Xen, starts three PV domUs (xl-busy and xl-io made with
`xl create`, lv-idle made through libvirt), runs xenlab/in_dom0.py and copies its records
out; these tests judge them.  XENTUI_XENLAB_OUT=DIR reuses a finished lab's records.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from ..xentop_layout import HEADER_NAMES, parse_row

pytestmark = [pytest.mark.xenlab, pytest.mark.timeout(1800)]  # a cold lab build takes minutes
REPO = Path(__file__).parents[2]
DOMAINS = {"Domain-0", "xl-busy", "xl-io", "lv-idle"}
SAME = ("MEM(k)", "MEM(%)", "MAXMEM(k)", "MAXMEM(%)", "VCPUS", "NETS", "VBDS", "SSID")
CUMULATIVE = ("NETTX(k)", "NETRX(k)", "VBD_OO", "VBD_RD", "VBD_WR", "VBD_RSECT", "VBD_WSECT")
ALIGNED_S = 0.2  # frames this close in time cover the same second


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


def windows(out: Path, tool: str) -> list[tuple[float, float, dict]]:
    """[(start, end, frame)]: each frame with the window its rates cover (its previous frame to it)."""
    found = frames(out, tool)
    return [(t0, t1, frame) for (t0, _), (t1, frame) in itertools.pairwise(found)]


def meetings(top: list, tui: list) -> list[tuple[tuple, tuple]]:
    """(xentop window, xentui window) for each xentop frame with a xentui frame ending within 0.2 s of it: the
    same second.  Windows are (start, end, figures), in time order."""
    met = []
    for w_top in top:
        w_tui = min(tui, key=lambda w: abs(w[1] - w_top[1]))
        if abs(w_tui[1] - w_top[1]) <= ALIGNED_S:
            met.append((w_top, w_tui))
    return met


def aligned_pairs(out: Path) -> list[tuple[float, float, dict, dict]]:
    """(end time, offset s, xentop frame, xentui frame) for frames that reached the lab within 0.2 s of each other.

    xentop sleeps 1 s after its own work (its seconds last 1.05-1.3 s here), xentui keeps a
    1 s cadence, so their frames drift past each other and meet now and then.  xentui's text can reach the
    lab a frame late when dom0 is starved: enough for columns that hold still (SAME) or may differ by one
    interval's growth (CUMULATIVE, CPU(sec)); CPU(%) is paired on xentui's own clock (own_windows).
    """
    return [(top[1], tui[1] - top[1], top[2], tui[2])
            for top, tui in meetings(windows(out, "xentop"), windows(out, "xentui"))]


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
    # 8-13 of xentop's 30 frames meet one of xentui's within 0.2 s; 4 with three busy loops beside the lab's QEMU
    assert len(pairs) >= 3, f"only {len(pairs)} frames of the two tools were taken in the same second"
    for _end, offset, top, tui in pairs:
        assert set(top) == set(tui) == DOMAINS
        for name in DOMAINS:
            a, b = top[name], tui[name]
            where = f"{name} (frames {offset:+.2f} s apart)"
            for column in SAME:
                assert a[column] == b[column], f"{column} of {where}: xentop {a[column]} xentui {b[column]}"
            assert abs(int(a["CPU(sec)"]) - int(b["CPU(sec)"])) <= 1


def own_windows(out: Path, prefix: str) -> list[tuple[float, float, dict[str, float]]]:
    """[(start, end, {name: CPU(%)})] of xentui's JSON frames, on xentui's own clock: when it sampled, and the
    window its rates cover."""
    found = []
    for _stamp, line in json.loads((out / f"{prefix}xentui.stamped.json").read_text()):
        frame = json.loads(line)
        rates = {d["name"]: d["cpu_pct_of_one_pcpu"] for d in frame["domains"]}
        found.append((frame["epoch_s"] - frame["interval_s"], frame["epoch_s"], rates))
    return found[1:]  # the first frame's window starts before xentop ran


def stamped_windows(out: Path, prefix: str) -> list[tuple[float, float, dict[str, float]]]:
    return [(s, e, {name: float(fields["CPU(%)"]) for name, fields in frame.items()})
            for s, e, frame in windows(out, f"{prefix}xentop")]


def mean_between(runs: list[tuple[float, float, dict[str, float]]], name: str, start: float, end: float) -> float:
    """A domain's mean CPU(%) over the frames ending in (start, end], each weighed by its window."""
    inside = [(e - s, rates[name]) for s, e, rates in runs if start < e <= end]
    return sum(length * rate for length, rate in inside) / sum(length for length, _ in inside)


def span_edges(top: list, tui: list) -> tuple[tuple[float, float], tuple[float, float]]:
    """((xentop end, xentui end) of the first frames the two tools took together, (...) of the last ones)."""
    met = meetings(top, tui)
    assert len(met) >= 2, "the two tools never took a frame in the same 0.2 s"
    (first_top, first_tui), (last_top, last_tui) = met[0], met[-1]
    return (first_top[1], first_tui[1]), (last_top[1], last_tui[1])


STEADY = {"xl-busy", "lv-idle"}  # loads even within a second: compared second by second


def test_steady_domu_cpu_agrees_with_xentop_over_the_same_second(out):
    """Second by second, for the domUs whose load is steady (so the window's exact start does not matter).

    The seconds are paired on each tool's own clock (the JSON run beside xentop, as the span test below):
    paired by the arrival of xentui's text frames, a frame rendered late under a starved dom0 met xentop's
    frame of the second before (a loaded lab run: lv-idle xentop 5.8 %, xentui 0.6 %, its 7.6 % one frame later).
    Each tool reads its clock, then asks Xen for the counters; under emulation dom0 can be descheduled between
    the two for a few ms (tens on a slow host), which moves one second's figure in either tool by that share *of
    the figure*: a point or two of lv-idle's 2 %, up to 4 of xl-busy's 100 % (xentop 96.1-102.9 % of its one
    spinning vCPU in one slow-host run, xentui 100.0-101.5 beside it).  So 80 % of the seconds must agree within
    1 point + 2 % of the figure and none by more than 2 points + 5 % (7 at 100 %, 2.1 at 2 %: an offset by a
    second, lv-idle 5.8 against 0.6, still fails); the span comparison below is the strict one.  A
    second where either tool reads more than its domain's vCPUs can run is one whose window went wrong by that
    much (xentop 121.2 % of one vCPU on a loaded host: 0.2 s off; xentui 106.4 % once, xentop 100.0 beside it):
    that second compares no two true figures.  It is left out, said, and may happen once in four.
    """
    pairs = [(tui[1] - top[1], top[2], tui[2])
             for top, tui in meetings(windows(out, "span-xentop"), own_windows(out, "span-"))]
    assert len(pairs) >= 3, f"only {len(pairs)} frames of the two tools were taken in the same second"
    diffs, impossible = [], []
    for offset, top, rates in pairs:
        for name in STEADY:
            a, b = float(top[name]["CPU(%)"]), rates[name]
            most = 100.0 * int(top[name]["VCPUS"]) + 2.0  # what its vCPUs can run in the window, and a margin
            if a > most or b > most:  # a tool's own window went wrong (dom0 descheduled between clock and counters)
                impossible.append(f"{name} {offset:+.2f} s: xentop {a}, xentui {b}")
                continue
            diffs.append((abs(a - b), max(a, b)))
            assert abs(a - b) <= 2.0 + 0.05 * max(a, b), f"CPU(%) of {name} ({offset:+.2f} s): xentop {a} xentui {b}"
    within = sum(d <= 1.0 + 0.02 * figure for d, figure in diffs) / len(diffs)
    print(f"{len(diffs)} domU-seconds compared, {100 * within:.0f} % within 1 point + 2 %, largest "
          f"{max(d for d, _f in diffs):.1f}; "
          f"a tool past its domain's vCPUs (left out): {impossible}")
    assert within >= 0.8 and len(impossible) <= max(2, len(diffs) // 4)


SPAN_POINTS = 2.0  # CPU(%) points two honest tools may differ by over the common span


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_cpu_agrees_with_xentop_over_the_same_span(out, name):
    """Every domain's mean CPU(%) over the time both tools ran, the same for both within 2 points.

    The span runs from the first second both tools sampled together (within 0.2 s) to the last one.  Each
    tool's mean is its frames' CPU(%) weighed by the windows they cover: frames wholly inside add up to
    exactly the CPU time Xen counted between the edges, whatever their lengths, so how xentop's 1.05-1.3 s
    seconds and xentui's 1 s ones fall against each other does not matter, and a domain whose load changes
    from second to second (dom0, which runs both tools; xl-io, which forks a dd or a ping every 0.5 s)
    compares as exactly as a steady one.

    Which windows: xentop's are the times its frames reach the lab's reader (it prints a few microseconds
    after reading its clock and the counters).  xentui's come from its JSON, on its own clock.  Weighing
    xentui's frames by their arrival instead failed one lab run in three: Python renders a frame under
    emulation in 0.03-0.6 s, longer when QEMU's dom0 stalls, so arrivals came 0.27-3.0 s apart while the
    windows were 0.9-2.6 s; a late frame (its dom0 load low, the stall inside it) was weighed 1.84 s and the
    frame after it (load high) 0.27 s: dom0 xentop 53.1 %, xentui 50.3 %.
    """
    top, tui = stamped_windows(out, "span-"), own_windows(out, "span-")
    (top_start, tui_start), (top_end, tui_end) = span_edges(top, tui)
    assert top_end - top_start >= 20.0, f"the two tools ran together for only {top_end - top_start:.1f} s"
    theirs, ours = mean_between(top, name, top_start, top_end), mean_between(tui, name, tui_start, tui_end)
    print(f"{name} over {top_end - top_start:.1f} s: xentop {theirs:.2f} %, xentui {ours:.2f} %")
    assert abs(theirs - ours) <= SPAN_POINTS


def test_cumulative_columns_within_one_interval(out):
    top = frames(out, "xentop")
    growth = {}  # largest one-interval growth xentop saw, per domain and column
    for (_, f0), (_, f1) in itertools.pairwise(top):
        for name in DOMAINS:
            for column in CUMULATIVE:
                if f0[name][column] != "-":
                    step = int(f1[name][column]) - int(f0[name][column])
                    growth[name, column] = max(growth.get((name, column), 0), step)
    for _end, _offset, a, b in aligned_pairs(out):
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
    assert results["topology"] == [[0, 0, 0, 0, True], [1, 0, 0, 1, True]]  # from xl info -n
    state = xl_states(out / "xl-list-after-pause.txt")
    assert "p" in state["xl-busy"]
    assert results["flags_after_pause"] == "----p-"
    state = xl_states(out / "xl-list-after-unpause.txt")
    assert "p" not in state["xl-busy"] and "p" not in results["flags_after_unpause"]


def test_mem_set_and_destroy_through_xentui_are_confirmed_by_xl(out, results):
    mem_mib = {line.split()[0]: int(line.split()[2]) for line in
               (out / "xl-list-after-mem-set.txt").read_text().splitlines()[1:]}
    assert mem_mib["xl-io"] == 96
    assert results["mem_kib_after_mem_set"] == 96 * 1024
    assert "xl-busy" not in xl_states(out / "xl-list-after-destroy.txt")
    assert results["domains_after_destroy"] == ["Domain-0", "lv-idle", "xl-io"]


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


def test_libvirt_on_xen_topology_and_its_pinning_limit(out, results):
    """libvirt-python sizes cpumaps with virNodeGetCPUMap, which the libxl driver lacks: vcpus() and
    pinVcpu() fail there.  xentui says so in one line, touches nothing, and points to the xl source."""
    assert results["libvirt_topology"] == [[0, 0, 0, 0, True], [1, 0, 0, 1, True]]  # from virsh capabilities
    refusal = results["libvirt_pin_refusal"]
    assert refusal and "\n" not in refusal and "without -c" in refusal and "nothing pinned" in refusal
    assert xl_vcpu_list((out / "xl-vcpu-list-after-libvirt-pin.txt").read_text())["lv-idle", 0][0] == "0"


def pcpu_frames(text: str) -> list[tuple[dict[str, float], list[float]]]:
    """Each frame of ``xentui -b -p``: ({domain: CPU(%)}, [each pCPU's busy %]) in xentop -p's layout."""
    found: list[tuple[dict[str, float], list[float]]] = []
    header = None
    for line in text.splitlines():
        if line.split()[:2] == ["NAME", "STATE"]:
            header = line
            found.append(({}, []))
        elif header and line.split() and line.split()[0] in DOMAINS and len(line) == len(header):
            fields = parse_row(header, line)
            found[-1][0][fields["NAME"]] = float(fields["CPU(%)"])
        elif m := re.fullmatch(r"\| (\d+) +\| +(\d+\.\d)% \|", line):
            assert int(m[1]) == len(found[-1][1]), line  # every pCPU, in order
            found[-1][1].append(float(m[2]))
    return found


def test_pcpu_table_counts_every_pcpu_and_adds_up_to_the_domains(out):
    """xentui -b -p (xentop 4.21's table) on real Xen: one row per pCPU of `xl info`, and over the same window
    the pCPUs' busy time is the domains' CPU time (Xen charges a busy pCPU to the vCPU on it) give or take the
    hypervisor's own work."""
    nr_cpus = int(re.search(r"^nr_cpus\s*:\s*(\d+)", (out / "xl-info.txt").read_text(), re.M)[1])
    text = (out / "xentui-p.txt").read_text()
    assert "Physical CPU Usage:" in text and "No PCPU data" not in text
    frames = pcpu_frames(text)[1:]  # the first frame's window starts at xentui's own start-up
    assert len(frames) >= 3
    for domains, pcpus in frames:
        assert len(pcpus) == nr_cpus and set(domains) == DOMAINS
        assert all(0.0 <= p <= 100.0 for p in pcpus)
        assert sum(pcpus) == pytest.approx(sum(domains.values()), abs=6.0), (pcpus, domains)  # seen: within 1.1


def test_guest_types_are_xls_and_pv_domains_have_no_device_model(out, results):
    """TYPE is libxl's own answer (xl list -l's c_info.type); the lab's domUs are PV (TCG cannot run HVM), so no
    QEMU serves them: device model "none", OVH(%) unknown (their back-ends are dom0 kernel threads)."""
    listed = {d["config"]["c_info"]["name"]: d["config"]["c_info"]["type"]
              for d in json.loads((out / "xl-list-l.txt").read_text())}
    facts = results["guest_facts"]
    assert set(facts) >= DOMAINS and set(listed) >= DOMAINS
    for name in DOMAINS:
        assert facts[name]["type"] == listed[name] == "pv", name
        assert (facts[name]["device_model"], facts[name]["overhead_ns"]) == ("none", None), name
    assert results["libvirt_guest"]["lv-idle"][:2] == ["pv", "none"]  # libvirt's XML: <type machine='xenpv'>linux


def test_no_pci_device_in_the_lab_none_shown(out, results):
    for name in ("xl-busy", "xl-io", "lv-idle"):
        assert (out / f"xl-pci-list-{name}.txt").read_text().strip() == ""  # xl prints nothing, not even a header
    assert all(f["hostdevs"] == [] for f in results["guest_facts"].values())
    assert results["libvirt_guest"]["lv-idle"][2] == []
