"""The guest's own memory figures (balloon statistics) as batch JSON and CSV fields: null/empty where unknown."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from xentui.model import DomainRates, DomainSample, DomainState, DomainView
from xentui.model.guest_memory import BalloonStats, GuestMemView
from xentui.output.numbers import rounded as _round


def guest_mem_record(view: DomainView) -> Mapping[str, Any]:
    """GMEM(%) and the figures it comes from (libvirt's balloon names in the comments), their rates."""
    g = view.guest_mem
    if g is None:
        return _NO_GUEST_MEM
    s = g.stats
    return {
        "guest_mem_used_pct": _round(g.used_pct, 2),  # MemTotal - MemAvailable, % of MemTotal
        "guest_mem_used_kib": s.used_kib,
        "guest_mem_total_kib": s.available_kib,  # balloon.available: the guest's MemTotal
        "guest_mem_available_kib": s.usable_kib,  # balloon.usable: MemAvailable
        "guest_mem_free_kib": s.unused_kib,  # balloon.unused: MemFree
        "guest_mem_caches_kib": s.disk_caches_kib,  # balloon.disk_caches
        "guest_swap_in_kib": s.swap_in_kib,
        "guest_swap_out_kib": s.swap_out_kib,
        "guest_major_faults": s.major_faults,
        "guest_minor_faults": s.minor_faults,
        "guest_swap_in_kib_per_s": _round(g.swap_in_kib_s),
        "guest_swap_out_kib_per_s": _round(g.swap_out_kib_s),
        "guest_major_faults_per_s": _round(g.major_faults_s),
        "guest_minor_faults_per_s": _round(g.minor_faults_s),
        "guest_mem_stats_age_s": _round(g.age_s, 1),  # since the guest last sent them
    }


# No guest figures: every field null, the keys taken from a record of empty figures (read-only: one for all)
_EMPTY = GuestMemView(BalloonStats())
_NO_GUEST_MEM = MappingProxyType(dict.fromkeys(guest_mem_record(DomainView(
    DomainSample("", "", None, DomainState.RUNNING), DomainRates(), None, None, guest_mem=_EMPTY))))
