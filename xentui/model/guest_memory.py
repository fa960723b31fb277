"""Memory as the guest sees it: its balloon driver's statistics (libvirt's ``balloon.*``), and what they show.

The guest's virtio-balloon driver reports its own /proc/meminfo figures to QEMU every stats period (Linux:
``available`` is MemTotal, ``usable`` MemAvailable, ``unused`` MemFree, ``disk_caches`` the page cache); swap and
fault counts are cumulative since the guest booted.
"""

from __future__ import annotations

from xentui.model._fast_record import frozen_record


@frozen_record
class BalloonStats:
    """One domain's balloon statistics at one tick (KiB; counts cumulative); None: not reported."""

    available_kib: int | None = None  # the guest's MemTotal
    usable_kib: int | None = None  # the guest's MemAvailable (Linux 4.6+)
    unused_kib: int | None = None  # the guest's MemFree
    disk_caches_kib: int | None = None  # page cache (Buffers + Cached + SwapCached)
    swap_in_kib: int | None = None  # read from swap since boot
    swap_out_kib: int | None = None  # written to swap since boot
    major_faults: int | None = None  # page faults that read from disk, since boot
    minor_faults: int | None = None
    last_update: int | None = None  # host epoch seconds QEMU last received the figures (0 or None: never)

    @property
    def used_kib(self) -> int | None:
        """Memory the guest uses, its caches not counted: MemTotal - MemAvailable (``free``'s "used" since procps
        4); without MemAvailable (older guests) MemTotal - MemFree - page cache; None when neither is known."""
        total = self.available_kib
        if not total:
            return None
        if self.usable_kib is not None:
            return max(0, total - self.usable_kib)
        if self.unused_kib is not None and self.disk_caches_kib is not None:
            return max(0, total - self.unused_kib - self.disk_caches_kib)
        return None

    @property
    def used_pct(self) -> float | None:
        """GMEM(%): ``used_kib`` as % of the guest's MemTotal."""
        used = self.used_kib
        return None if used is None or not self.available_kib else min(100.0, 100.0 * used / self.available_kib)


@frozen_record
class GuestMemView:
    """A domain's guest memory as shown: its balloon figures, GMEM(%), and the rates of its swap and faults."""

    stats: BalloonStats
    used_pct: float | None = None  # GMEM(%)
    swap_in_kib_s: float | None = None
    swap_out_kib_s: float | None = None
    major_faults_s: float | None = None
    minor_faults_s: float | None = None
    age_s: float | None = None  # how old the guest's figures are at this tick (host clock), None: unknown
