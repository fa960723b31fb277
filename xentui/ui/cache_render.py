"""Cache QoS as text: the domain detail's per-socket lines and the host header's line.

Both are :class:`~xentui.text.Visible`: statuses and sources are outside text (xl, resctrl, recordings).
"""

from __future__ import annotations

from xentui.model import DomainView, HostSample, Snapshot
from xentui.sources.cache_qos.status import CacheStatus
from xentui.text import Visible, one_line, visible
from xentui.units import human_bytes, pct

NOT_ATTACHED_WORDS = "domain not attached: press {key} to attach"  # the key hint the status code leaves to the UI


def _not_attached(status: str) -> bool:
    return CacheStatus.of(status) is CacheStatus.NOT_ATTACHED


def status_words(status: str, attach_key: str = "A") -> str:
    """A domain's Cache QoS status as the admin reads it: the key hint for the stable code, else the reason."""
    return NOT_ATTACHED_WORDS.format(key=attach_key) if _not_attached(status) else one_line(status)


def cache_lines(view: DomainView, host: HostSample | None, attach_key: str = "A") -> list[Visible]:
    """One line per L3 (socket): occupancy, its share of that L3, MBM total / local (``attach_key``: the
    cache_monitor key, as shown)."""
    c = view.cache
    if c is None:
        why = host.cache_monitoring if host is not None and host.cache_monitoring else "no Cache QoS source"
        return [Visible(f"Cache QoS: {one_line(why)}")]
    source = visible(c.source)
    if c.status:
        return [Visible(f"Cache QoS ({source}): {status_words(c.status, attach_key)}")]
    lines = [f"Cache QoS ({source}): LLC {human_bytes(c.occupancy_bytes)}, "
             f"MBM total {human_bytes(c.mbm_total_bytes_s, '/s')}, local {human_bytes(c.mbm_local_bytes_s, '/s')}"]
    for b in c.banks:
        where = "all L3" if b.cache_id is None else f"L3 {b.cache_id}"
        size = None if host is None else host.l3_bytes(b.cache_id)
        of = f" of {human_bytes(size)}" if size else ""
        lines.append(f"  {where:<6} LLC {human_bytes(b.occupancy_bytes):>9} ({pct(b.occupancy_pct, '%')}{of})  "
                     f"MBM total {human_bytes(b.mbm_total_bytes_s, '/s'):>11}  "
                     f"local {human_bytes(b.mbm_local_bytes_s, '/s'):>11}")
    return list(map(Visible, lines))


def host_cache_line(snapshot: Snapshot, attach_key: str = "A") -> Visible | None:
    """Total L3 and how much the monitored domains hold; or why there is no Cache QoS; None: nothing to say."""
    h = snapshot.host
    if h.cache_monitoring:
        return Visible(f"Cache QoS: {one_line(h.cache_monitoring)}")
    caches = [v.cache for v in snapshot.domains if v.cache is not None]
    if not caches:
        return None
    monitored = [c for c in caches if not c.status]
    held = sum(c.occupancy_bytes or 0 for c in monitored)
    source = visible("/".join(sorted({c.source for c in caches})))
    total = h.l3_bytes(None)
    parts = [f"Cache QoS ({source}):"]
    if total:
        sizes = ", ".join(human_bytes(c.size_bytes) for c in h.l3_caches)
        parts.append(f"L3 {human_bytes(total)} ({len(h.l3_caches)}: {sizes}),")
    share = f" ({100 * held / total:.1f} %)" if total else ""
    parts.append(f"{len(monitored)} monitored domains hold {human_bytes(held)}{share}")
    unattached = sum(1 for c in caches if _not_attached(c.status))
    if unattached:
        parts.append(f"- {unattached} not attached: press {attach_key} to attach")
    other = sorted({c.status for c in caches if c.status and not _not_attached(c.status)})
    if other:
        parts.append(f"- {one_line(other[0])}" + (f" (+{len(other) - 1} more reasons)" if len(other) > 1 else ""))
    if h.cache_rmids:
        parts.append(f"- {h.cache_rmids} RMIDs")
    return Visible(" ".join(parts))
