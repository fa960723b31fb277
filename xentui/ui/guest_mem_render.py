"""The detail pane's memory lines: the host's view of a domain's memory beside the guest's own (balloon stats)."""

from __future__ import annotations

from xentui.model import DomainView
from xentui.units import human_bytes, human_kib, number


def guest_mem_lines(view: DomainView) -> list[str]:
    """Two lines where the guest reports its memory (none where it does not): numbers and fixed words only."""
    g, d = view.guest_mem, view.sample
    if g is None:
        return []
    s = g.stats
    age = "" if g.age_s is None else f", figures {g.age_s:.0f} s old"
    if g.used_pct is None and g.age_s is not None:
        age += " (the balloon's stats period is off? [guest] balloon_stats_period_s)"
    return [
        f"memory, host: balloon {human_kib(d.mem_kib)}, RSS {human_kib(d.rss_kib)} ({number(view.mem_pct)} % of host)"
        f"  guest: used {human_kib(s.used_kib)} of {human_kib(s.available_kib)} (GMEM {number(g.used_pct)} %), "
        f"available {human_kib(s.usable_kib)}, free {human_kib(s.unused_kib)}, caches {human_kib(s.disk_caches_kib)}",
        f"guest swap in {_kib_s(g.swap_in_kib_s)}, out {_kib_s(g.swap_out_kib_s)}, major faults "
        f"{number(g.major_faults_s)}/s, minor {number(g.minor_faults_s, '{:.0f}')}/s{age}",
    ]


def _kib_s(rate: float | None) -> str:
    return human_bytes(None if rate is None else rate * 1024, "/s")
