"""The guest's own memory figures (balloon statistics) as batch JSON and CSV fields: null/empty where unknown."""

from __future__ import annotations

from typing import Any

from xentui.model import DomainView
from xentui.output.numbers import rounded as _round


def guest_mem_record(view: DomainView) -> dict[str, Any]:
    """GMEM(%) and the figures it comes from (libvirt's balloon names in the comments), their rates."""
    g = view.guest_mem
    s = g.stats if g is not None else None
    return {
        "guest_mem_used_pct": None if g is None else _round(g.used_pct, 2),  # MemTotal - MemAvailable, % of MemTotal
        "guest_mem_used_kib": None if s is None else s.used_kib,
        "guest_mem_total_kib": None if s is None else s.available_kib,  # balloon.available: the guest's MemTotal
        "guest_mem_available_kib": None if s is None else s.usable_kib,  # balloon.usable: MemAvailable
        "guest_mem_free_kib": None if s is None else s.unused_kib,  # balloon.unused: MemFree
        "guest_mem_caches_kib": None if s is None else s.disk_caches_kib,  # balloon.disk_caches
        "guest_swap_in_kib": None if s is None else s.swap_in_kib,
        "guest_swap_out_kib": None if s is None else s.swap_out_kib,
        "guest_major_faults": None if s is None else s.major_faults,
        "guest_minor_faults": None if s is None else s.minor_faults,
        "guest_swap_in_kib_per_s": None if g is None else _round(g.swap_in_kib_s),
        "guest_swap_out_kib_per_s": None if g is None else _round(g.swap_out_kib_s),
        "guest_major_faults_per_s": None if g is None else _round(g.major_faults_s),
        "guest_minor_faults_per_s": None if g is None else _round(g.minor_faults_s),
        "guest_mem_stats_age_s": None if g is None else _round(g.age_s, 1),  # since the guest last sent them
    }
