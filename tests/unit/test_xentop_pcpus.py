"""``xentui -b -p``: xentop 4.21's per-pCPU table, byte for byte, without its 128-pCPU cap; JSON's
``pcpu_busy_pct``; Xen's idle-time counter (libxenctrl's xc_getcpuinfo) on a fake library; the refusals."""

from __future__ import annotations

import asyncio
import ctypes
import io
import json
from dataclasses import replace

import pytest

from tests.factories import HOST, dom, run_cli
from xentui.cli import batch
from xentui.model import RawSample, build_snapshot
from xentui.output import records
from xentui.output.xentop import XentopOptions, format_frame
from xentui.sources.synthetic import SyntheticSource
from xentui.sources.xen.xenctrl import XenCpuInfo

# tools/xentop/xentop.c, print_pcpu_stats_display() (xen-project/xen 45bb8868ef, unchanged on master), quoted:
#     print("\nNo PCPU data available\n");
#     print("\nPhysical CPU Usage:\n");
#     print("+-------+--------+\n");
#     print("| Core  | Usage  |\n");
#     print("+-------+--------+\n");
#     for (i = 0; i < num_cpus; i++) print("| %-5d | %5.1f%% |\n", i, get_pcpu_usage(i));
#     print("+-------+--------+\n");
# and pcpu.c clamps: pcpu_stats[i].usage_pct = (usage < 0) ? 0.0 : (usage > 100) ? 100.0 : usage;
NO_DATA = "\nNo PCPU data available\n"
TITLE = "\nPhysical CPU Usage:\n"
RULE = "+-------+--------+\n"
HEAD = "| Core  | Usage  |\n"
ROW = "| %-5d | %5.1f%% |\n"


def xentop_table(usage: list[float]) -> str:
    """What xentop prints for these usages: its own format strings through printf's rules (Python's %)."""
    clamped = [0.0 if u < 0 else 100.0 if u > 100 else u for u in usage]
    return TITLE + RULE + HEAD + RULE + "".join(ROW % (i, u) for i, u in enumerate(clamped)) + RULE


def snapshot(busy_pct: list[float] | None):
    """Two samples 2 s apart whose pCPUs were busy ``busy_pct`` (None: the host gives no pCPU figures)."""
    before = None if busy_pct is None else tuple(10**12 for _ in busy_pct)
    after = None if busy_pct is None else tuple(10**12 + round(p * 2e7) for p in busy_pct)
    a = RawSample(0.0, 1_700_000_000.0, HOST, (dom(10),), pcpu_busy_ns=before)
    b = RawSample(2.0, 1_700_000_002.0, HOST, (dom(11),), pcpu_busy_ns=after)
    return build_snapshot(a, b, seq=2)


def test_the_table_is_xentops_after_the_domains():
    usage = [0.0, 12.34, 99.96, 100.0, 7.05]
    frame = format_frame(snapshot(usage), XentopOptions(pcpus=True))
    plain = format_frame(snapshot(usage), XentopOptions())
    # do_domain() ends its line with "\n"; the table's leading "\n" leaves one empty line, as in xentop.
    assert frame == plain + xentop_table(usage)
    assert frame.endswith("| 2     | 100.0% |\n| 3     | 100.0% |\n| 4     |   7.0% |\n" + RULE)


def test_no_cap_at_128_pcpus_and_wide_numbers_keep_the_layout():
    usage = [(n * 7.3) % 100 for n in range(300)]
    frame = format_frame(snapshot(usage), XentopOptions(pcpus=True))
    assert frame.endswith(xentop_table(usage))
    assert "| 299   |" in frame and frame.count("\n| ") == 301  # 300 pCPUs and the heading


def test_out_of_range_usage_is_clamped_as_pcpu_c_does():
    table = format_frame(snapshot([0.0]), XentopOptions(pcpus=True)).split(TITLE)[1]
    assert table.count("|   0.0% |") == 1
    over = replace(snapshot([50.0, 50.0]), pcpu_pct=(-3.0, 104.2))  # jitter past the ends, as pcpu.c meets it
    assert format_frame(over, XentopOptions(pcpus=True)).endswith(xentop_table([-3.0, 104.2]))


def test_a_host_without_pcpu_figures_says_so_as_xentop_does():
    frame = format_frame(snapshot(None), XentopOptions(pcpus=True))
    assert frame == format_frame(snapshot(None), XentopOptions()) + NO_DATA


def test_json_carries_pcpu_busy_pct_only_with_p():
    shot = snapshot([25.0, 75.5])
    assert json.loads(records.json_frame(shot, 1, pcpu_usage=True))["pcpu_busy_pct"] == [25.0, 75.5]
    assert "pcpu_busy_pct" not in json.loads(records.json_frame(shot, 1))
    assert json.loads(records.json_frame(snapshot(None), 1, pcpu_usage=True))["pcpu_busy_pct"] is None


def test_batch_run_prints_the_table_every_iteration():
    out = io.StringIO()
    opts = batch.BatchOptions(delay=0.2, iterations=2, xentop=XentopOptions(pcpus=True))
    assert asyncio.run(batch.run_batch(SyntheticSource(2), opts, out)) == 0
    text = out.getvalue()
    assert text.count(TITLE) == 2 and text.count(HEAD) == 2 and text.count("\n| 7     | ") == 2


@pytest.mark.parametrize(("argv", "needle"), [
    (["-p", "-c", "synthetic://2"], "-p prints each pCPU's use in batch mode: add -b"),
    (["-b", "-p", "--format", "csv", "-c", "synthetic://2"], "CSV has one row per domain: use --format text"),
    (["-b", "-p", "--format", "json", "-c", "synthetic://2", "-c", "synthetic://3"], "-p shows one host's pCPUs"),
])
def test_bad_combinations_get_one_line(argv, needle):
    code, out, err = run_cli(argv)
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1


class FakeXenctrl:
    """libxenctrl's two calls: xc_getcpuinfo fills min(max_cpus, pcpus) idle times, as Xen's sysctl does."""

    def __init__(self, idle: list[int]):
        self.idle = idle
        self.asked: list[int] = []
        self.closed = False

    def xc_interface_open(self, *_args):
        return 1

    def xc_interface_close(self, _handle):
        self.closed = True
        return 0

    def xc_getcpuinfo(self, _handle, max_cpus, info, nr):
        self.asked.append(max_cpus)
        n = min(max_cpus, len(self.idle))
        for i in range(n):
            info[i] = self.idle[i]
        ctypes.cast(nr, ctypes.POINTER(ctypes.c_int))[0] = n
        return 0


def test_xen_busy_is_wall_time_minus_idle_time_for_every_pcpu():
    # the read's own clock, before and after each call (the first read asks twice)
    clock = iter([99.0, 99.0, 100.0, 100.0, 102.0, 102.0, 104.0, 104.0, 105.0, 105.0, 107.0, 107.0])
    lib = FakeXenctrl([5 * 10**9] * 1000)  # 1000 pCPUs: past xentop's 128 and the first array of 256
    info = XenCpuInfo(lib, clock=lambda: next(clock))
    assert info.busy_ns() == (0,) * 1000
    assert lib.asked == [256, 1024]
    lib.idle = [5 * 10**9 + 2 * 10**9] * 999 + [5 * 10**9 + 10**9 // 2]  # idle all along, bar one 75 % busy
    assert info.busy_ns() == (0,) * 999 + (15 * 10**8,)
    lib.idle = [5 * 10**9 + 4 * 10**9 + 10**6] * 1000  # idle ran 1 ms past the wall clock: no negative busy
    busy = info.busy_ns()
    assert busy is not None and busy[0] == 0 and busy[-1] == 15 * 10**8
    # Each window on its own: 1 s with pCPU 999 never idle, then 2 s with it idle half the time; the others idle
    # all along.
    lib.idle = [10 * 10**9 + 10**6] * 999 + [9 * 10**9 + 10**6]
    assert info.busy_ns() == (0,) * 999 + (25 * 10**8,)
    lib.idle = [12 * 10**9 + 10**6] * 999 + [10 * 10**9 + 10**6]
    assert info.busy_ns() == (0,) * 999 + (35 * 10**8,)
    info.close()
    assert lib.closed


def test_a_xen_source_reports_each_pcpus_busy_time_and_b_p_prints_it():
    from tests.fake_xenstat import FakeXenStat, FakeXenStore, FakeXl
    from xentui.sources.xen import XenSource

    reads = iter([9.99, 9.99, 11.99, 11.99])  # the idle times read just before each stamp, on their own clock
    stamps = iter([10.0, 12.0])
    lib = FakeXenctrl([0, 0])
    source = XenSource(stat=FakeXenStat(), store=FakeXenStore(), run=FakeXl(),
                       cpuinfo=lambda: XenCpuInfo(lib, clock=lambda: next(reads)), clock=lambda: next(stamps))
    try:
        first = source.collect()
        lib.idle = [2 * 10**9, 10**9 // 2]  # over 2 s: pCPU 0 idle all along, pCPU 1 busy 75 %
        second = source.collect()
    finally:
        source.close()
    assert first.pcpu_busy_ns == (0, 0) and second.pcpu_busy_ns == (0, 15 * 10**8)
    assert lib.closed
    # The rates' window is the samples' own (libxenstat's stamp); pCPU 0 did nothing in it.
    table = format_frame(build_snapshot(first, second), XentopOptions(pcpus=True)).split(TITLE)[1]
    assert table.startswith(RULE + HEAD + RULE + "| 0     |   0.0% |\n| 1     | ")
    assert table.count("\n| ") == 3  # the heading and 2 pCPUs
