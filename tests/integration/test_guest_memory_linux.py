"""Memory as the guest sees it, on the lab's real Linux guest: xentui's balloon figures and GMEM(%) against the
guest's own /proc/meminfo read through its agent in the same stats period, while the guest fills and frees memory;
and the ``m`` balloon action (xentui's actions, read-write) moving the guest's own MemTotal.

Lining the windows up: the guest sends its figures every stats period (2 s here) and QEMU stamps them with the
host's clock (``last-update``, whole seconds).  Each comparison waits for a new update, reads /proc/meminfo through
the agent at once, and keeps the pair only when no newer update came in between: the meminfo read then falls within
the same stats period as the figures (the gap is printed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import libvirt

from tests.factories import wait_for
from xentui.actions import Action, perform
from xentui.lab_linux import agent
from xentui.model import BalloonStats, build_snapshot
from xentui.sources.libvirt import LibvirtSource
from xentui.ui import frame

from .conftest import URI, sample_of

PERIOD_S = 2  # the Linux guest's <memballoon><stats period='2'/>
# GMEM(%) against (MemTotal - MemAvailable) / MemTotal from the guest's own meminfo, read ~1 s after the report
# (TCG): the agent's own work in between moves ~1 MiB of the guest's 80 MiB (1.2 points measured before settling).
GMEM_POINTS = 1.5
FIGURE_KIB = 2048  # MemFree and the page cache: the guest's own small churn between its report and our read
FILL_MIB = 20  # of the guest's ~100 MiB, ~43 % used idle: 40 MiB had the OOM killer end its agent


def balloon(source: LibvirtSource, name: str) -> BalloonStats | None:
    return next(d for d in source.collect().domains if d.name == name).balloon


def caches(meminfo: dict[str, int]) -> int:
    """What the balloon's disk_caches counts (the kernel's NR_FILE_PAGES): Buffers + Cached + SwapCached."""
    return meminfo["Buffers"] + meminfo["Cached"] + meminfo.get("SwapCached", 0)


def paired(source: LibvirtSource, dom: libvirt.virDomain, timeout: float = 60.0) -> tuple[BalloonStats, dict, float]:
    """The balloon's figures and the guest's meminfo, read within one stats period; and the gap between them (s)."""
    deadline = time.monotonic() + timeout
    last = balloon(source, dom.name())
    while time.monotonic() < deadline:
        stats = balloon(source, dom.name())
        if stats is None or not stats.last_update or last is None or stats.last_update == last.last_update:
            last = stats if last is None else last
            time.sleep(0.1)
            continue
        meminfo = agent.meminfo(dom)  # at once after a fresh update
        read_at = time.time()
        after = balloon(source, dom.name())
        if after is not None and after.last_update == stats.last_update:  # no newer update in between
            return stats, meminfo, read_at - stats.last_update
        last = after
    raise AssertionError(f"no balloon update paired with a meminfo read within {timeout:.0f} s")


def test_gmem_and_the_balloon_figures_agree_with_the_guest_s_meminfo(linux, source):
    rows = []
    for step in ("idle", "filled", "freed"):
        if step == "filled":
            assert agent.memory_fill(linux, FILL_MIB).exitcode == 0
        elif step == "freed":
            assert agent.memory_free(linux).exitcode == 0
        paired(source, linux)  # settle: the step's processes (guest-exec) gone and a report made since
        stats, mi, gap = paired(source, linux)
        own_pct = 100.0 * (mi["MemTotal"] - mi["MemAvailable"]) / mi["MemTotal"]
        rows.append((step, stats.used_pct, own_pct, gap, stats, mi))
        print(f"{step}: GMEM {stats.used_pct:.2f} % vs meminfo {own_pct:.2f} % ({stats.used_pct - own_pct:+.2f} "
              f"points), MemFree {stats.unused_kib - mi['MemFree']:+d} KiB, caches "
              f"{stats.disk_caches_kib - caches(mi):+d} KiB, MemTotal {stats.available_kib - mi['MemTotal']:+d} KiB, "
              f"read {gap:.2f} s after the update")
        assert gap <= PERIOD_S + 1  # within the stats period (last-update is whole seconds)
        assert stats.available_kib == mi["MemTotal"]
        assert abs(stats.used_pct - own_pct) <= GMEM_POINTS
        assert abs(stats.unused_kib - mi["MemFree"]) <= FIGURE_KIB
        assert abs(stats.disk_caches_kib - caches(mi)) <= FIGURE_KIB
    (_, idle, *_), (_, filled, *_), (_, freed, *_) = rows
    expected = 100.0 * FILL_MIB * 1024 / rows[0][4].available_kib
    print(f"the fill moved GMEM by {filled - idle:.2f} points (its {FILL_MIB} MiB: {expected:.2f}), "
          f"the free by {freed - filled:.2f}")
    assert abs((filled - idle) - expected) <= 3.0  # the tmpfs fill cannot be dropped: it counts as used
    assert abs(freed - idle) <= 3.0


def test_gmem_column_and_json(linux, source):
    first = source.collect()
    shot = build_snapshot(first, source.collect())
    assert "gmem_pct" in frame.conditional(shot)
    out = subprocess.run([sys.executable, "-m", "xentui", "-c", URI, "-b", "-i", "2", "-d", "1", "--format",
                          "json"], capture_output=True, text=True, timeout=120, check=True).stdout
    record = next(d for d in json.loads(out.splitlines()[-1])["domains"] if d["name"] == linux.name())
    assert 0 < record["guest_mem_used_pct"] < 100
    assert record["guest_mem_total_kib"] == agent.meminfo(linux)["MemTotal"]
    assert record["guest_mem_stats_age_s"] is not None and record["guest_mem_stats_age_s"] <= 3 * PERIOD_S


def wait_memtotal(dom: libvirt.virDomain, want_kib: int, slack_kib: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        total = agent.meminfo(dom)["MemTotal"]
        if abs(total - want_kib) <= slack_kib or time.monotonic() > deadline:
            return total
        time.sleep(0.2)


def test_the_balloon_action_moves_the_guest_s_memtotal(linux, writer):
    before = agent.meminfo(linux)["MemTotal"]
    sample, host = sample_of(writer, linux.name())
    assert perform(writer, sample, Action.BALLOON, host=host, memory="96M") < 5
    shrunk = wait_memtotal(linux, before - 32 * 1024, 256)
    wait_for(lambda: (balloon(writer, linux.name()) or BalloonStats()).available_kib == shrunk,
             "xentui's figure of the guest's MemTotal following the balloon", timeout=30)
    sample, host = sample_of(writer, linux.name())
    assert perform(writer, sample, Action.BALLOON, host=host, memory="128M") < 5
    grown = wait_memtotal(linux, before, 256)
    print(f"MemTotal {before} KiB; balloon 128M -> 96M: {shrunk} KiB ({shrunk - before:+d}, target -32768); "
          f"back to 128M: {grown} KiB ({grown - before:+d})")
    assert abs((before - shrunk) - 32 * 1024) <= 256
    assert abs(grown - before) <= 256
