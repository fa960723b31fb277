"""Bounded history of what the model computed: per domain and for the host, the last N ticks.

Each series is a ring of 32-bit floats (NaN: unknown that tick) that grows to ``capacity``
and then overwrites its oldest value, so memory is bounded by
``capacity * 4 bytes * (series per domain * domains + host series)`` plus small per-series
overheads (measured: bench/history_memory.py, bench/RESULTS.md).  The domains' series together hold at
most DOMAIN_VALUES values: past that (a fleet of thousands of domains) each domain keeps fewer ticks, its
newest, the host's series keeping theirs.  A domain that leaves the snapshot takes its history with it.
Pure standard library: no textual.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

from xentui.model import DomainView, HostSample, Snapshot, sum_parts

NAN = math.nan
DEFAULT_CAPACITY = 3600  # one hour at 1 s; 3 h at xentop's default 3 s
DOMAIN_SERIES = ("cpu_pct", "mem_kib", "net_rx_bytes_s", "net_tx_bytes_s", "blk_rd_bytes_s", "blk_wr_bytes_s")
HOST_SERIES = ("cpu_pct", "mem_used_kib", "net_rx_bytes_s", "net_tx_bytes_s", "blk_rd_bytes_s", "blk_wr_bytes_s",
               "llc_bytes", "mbm_total_bytes_s", "mbm_local_bytes_s")  # Cache QoS: the monitored domains together
CACHE_SERIES = ("llc_bytes", "mbm_total_bytes_s", "mbm_local_bytes_s")  # per domain, made once it has Cache QoS
DOMAIN_VALUES = 24 << 20  # every domain's series together: 96 MiB of float32 (one hour of 1000 domains at 1 s fits)
# ... and where the source keeps its own store (Prometheus: the charts' CPU and memory come from query_range, the
# table's sparklines need a few ticks): 16 MiB, an hour of ~1000 domains at 5 s, ~70 ticks each of 10,000 domains
STORED_DOMAIN_VALUES = 4 << 20
MIN_DOMAIN_TICKS = 60  # however many domains, each keeps at least this many ticks


def capacity_for(delay_s: float, span_s: float = 3600.0) -> int:
    """Ticks for ``span_s`` of history at ``delay_s`` between ticks, at most DEFAULT_CAPACITY."""
    return max(1, min(DEFAULT_CAPACITY, math.ceil(span_s / max(delay_s, 0.001))))


class Ring:
    """The last ``capacity`` floats, oldest first."""

    __slots__ = ("capacity", "data", "head")

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.data = array("f")
        self.head = 0  # index of the oldest value once full

    def append(self, value: float | None) -> None:
        v = NAN if value is None else value
        if len(self.data) < self.capacity:
            self.data.append(v)
        else:
            self.data[self.head] = v
            self.head = (self.head + 1) % self.capacity

    def values(self) -> list[float]:
        return (self.data[self.head:] + self.data[:self.head]).tolist()

    def last(self, n: int) -> list[float]:
        """The newest ``n`` values, oldest first: only those are copied (the sparkline asks every tick)."""
        data, size = self.data, len(self.data)
        if n >= size:
            return self.values()
        end = self.head if size == self.capacity else size  # one past the newest value
        start = end - n
        if start >= 0:
            return data[start:end].tolist()
        return (data[start:] + data[:end]).tolist()

    def resize(self, capacity: int) -> None:
        """Keep at most ``capacity`` values from now on, the newest of those held."""
        self.data = array("f", self.last(capacity))
        self.head = 0
        self.capacity = capacity

    def __len__(self) -> int:
        return len(self.data)


class DomainHistory:
    __slots__ = ("cache", "series", "vcpus")

    def __init__(self, capacity: int):
        self.series = {name: Ring(capacity) for name in DOMAIN_SERIES}
        self.vcpus: dict[int, Ring] = {}  # vCPU number -> its CPU% (of one pCPU)
        self.cache: dict[str, Ring] | None = None  # CACHE_SERIES, from the first tick with Cache QoS figures

    def rings(self) -> list[Ring]:
        return [*self.series.values(), *self.vcpus.values(), *(self.cache.values() if self.cache else ())]

    def add(self, view: DomainView, capacity: int) -> None:
        r, s = view.rates, self.series
        s["cpu_pct"].append(r.cpu_pct)
        s["mem_kib"].append(view.sample.mem_kib)
        s["net_rx_bytes_s"].append(r.net_rx_bytes_s)
        s["net_tx_bytes_s"].append(r.net_tx_bytes_s)
        s["blk_rd_bytes_s"].append(r.blk_rd_bytes_s)
        s["blk_wr_bytes_s"].append(r.blk_wr_bytes_s)
        cache = view.cache
        if cache is not None and (self.cache is not None or cache.occupancy_bytes is not None
                                  or cache.mbm_total_bytes_s is not None):
            if self.cache is None:
                self.cache = {name: Ring(capacity) for name in CACHE_SERIES}
            self.cache["llc_bytes"].append(cache.occupancy_bytes)
            self.cache["mbm_total_bytes_s"].append(cache.mbm_total_bytes_s)
            self.cache["mbm_local_bytes_s"].append(cache.mbm_local_bytes_s)
        elif self.cache is not None:
            for ring in self.cache.values():
                ring.append(None)
        numbers = {v.number for v in r.vcpus}
        for gone in self.vcpus.keys() - numbers:
            del self.vcpus[gone]
        for v in r.vcpus:
            vcpu_ring = self.vcpus.get(v.number)
            if vcpu_ring is None:
                vcpu_ring = self.vcpus[v.number] = Ring(capacity)
            vcpu_ring.append(v.cpu_pct)


def _host_rings(capacity: int) -> dict[str, Ring]:
    return {name: Ring(capacity) for name in HOST_SERIES}


SUMMED = ("net_rx_bytes_s", "net_tx_bytes_s", "blk_rd_bytes_s", "blk_wr_bytes_s", *CACHE_SERIES)  # :func:`_sums`


def _sums(domains: Iterable[DomainView]) -> dict[str, float | None]:
    """A host's summed series.  Its figure is the sum of its parts (model.sum_parts): unknown when one part is;
    a series with no parts at all is left out (unknown too, and a fleet's sum skips it).  The parts: the running
    domains (a shut-off one moves nothing); the monitored caches."""
    rates, caches = [], []
    for v in domains:
        if v.sample.active:
            rates.append(v.rates)
        if v.cache is not None and v.cache.banks:
            caches.append(v.cache)
    out: dict[str, float | None] = {}
    if rates:
        out["net_rx_bytes_s"] = sum_parts([r.net_rx_bytes_s for r in rates])
        out["net_tx_bytes_s"] = sum_parts([r.net_tx_bytes_s for r in rates])
        out["blk_rd_bytes_s"] = sum_parts([r.blk_rd_bytes_s for r in rates])
        out["blk_wr_bytes_s"] = sum_parts([r.blk_wr_bytes_s for r in rates])
    if caches:
        out["llc_bytes"] = sum_parts([c.occupancy_bytes for c in caches])
        out["mbm_total_bytes_s"] = sum_parts([c.mbm_total_bytes_s for c in caches])
        out["mbm_local_bytes_s"] = sum_parts([c.mbm_local_bytes_s for c in caches])
    return out


def _fleet_sums(hosts: Iterable[dict[str, float | None]]) -> dict[str, float | None]:
    """The hosts' sums summed: the sum of every part of theirs, each part added once."""
    parts: dict[str, list[float | None]] = {}
    for sums in hosts:
        for name, value in sums.items():
            parts.setdefault(name, []).append(value)
    return {name: sum_parts(values) for name, values in parts.items()}


def _append_host(h: dict[str, Ring], sums: dict[str, float | None], pcpu: tuple[float | None, ...] | None,
                 host: HostSample | None) -> None:
    """One tick of a host's series: ``sums`` (:func:`_sums`), its pCPUs' mean and its memory used."""
    known = [p for p in pcpu if p is not None] if pcpu else []
    h["cpu_pct"].append(sum(known) / len(known) if known else None)  # % of the whole host
    h["mem_used_kib"].append(host.mem_used_kib if host is not None else None)  # unknown size: a gap, not "0 used"
    for name in SUMMED:
        h[name].append(sums.get(name))


class History:
    """Fed one Snapshot per tick (by the UI, live or replayed); read by sparklines and charts."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, domain_values: int = DOMAIN_VALUES):
        if capacity < 1:
            raise ValueError("history capacity must be 1 or more")
        self.capacity = capacity
        self.domain_values = domain_values  # every domain's series together hold at most this many values
        self.domain_capacity = capacity  # ticks each domain keeps: fewer once the domains pass DOMAIN_VALUES
        self.domains: dict[str, DomainHistory] = {}
        self.host = _host_rings(capacity)
        self.hosts: dict[str, dict[str, Ring]] = {}  # a fleet's hosts by name, each its own series
        self.wall = array("d")  # tick times, for the charts' axis (ring with the host series)
        self._wall_head = 0
        self.last_seq: int | None = None

    def add(self, snapshot: Snapshot) -> None:
        if snapshot.seq == self.last_seq:
            return  # the same snapshot shown again (a repaint): not a new tick
        self.last_seq = snapshot.seq
        present = set()
        series = 0
        for view in snapshot.domains:
            present.add(view.key)  # the UUID; host/UUID in a fleet
            dom = self.domains.get(view.key)
            if dom is None:
                dom = self.domains[view.key] = DomainHistory(self.domain_capacity)
            dom.add(view, self.domain_capacity)
            series += len(dom.series) + len(dom.vcpus) + (len(dom.cache) if dom.cache else 0)
        for gone in self.domains.keys() - present:
            del self.domains[gone]
        self._fit(series)
        self._add_host(snapshot)

    def _fit(self, series: int) -> None:
        """Each domain's ticks, so that ``series`` rings hold at most ``domain_values`` values: cut at once when
        they would hold more, to 7/8 of what fits (so a few more rings do not cut again); lengthened to 7/8 of
        what fits (the same margin) once that is a quarter more, or the whole capacity."""
        fits = self.domain_values // series if series else 2 * self.capacity
        ticks = min(self.capacity, max(MIN_DOMAIN_TICKS, fits * 7 // 8))
        now = self.domain_capacity
        if ticks == now or (ticks < now <= fits) or now < ticks < min(self.capacity, now * 5 // 4):
            return  # it still fits; or there is room for a few more ticks only: not worth copying every ring
        self.domain_capacity = ticks
        for dom in self.domains.values():
            for ring in dom.rings():
                ring.resize(ticks)

    def _add_host(self, snapshot: Snapshot) -> None:
        if snapshot.fleet:
            self._add_hosts(snapshot)
        else:
            _append_host(self.host, _sums(snapshot.domains), snapshot.pcpu_pct, snapshot.host)
        if len(self.wall) < self.capacity:
            self.wall.append(snapshot.wall)
        else:
            self.wall[self._wall_head] = snapshot.wall
            self._wall_head = (self._wall_head + 1) % self.capacity

    def _add_hosts(self, snapshot: Snapshot) -> None:
        """A fleet: its sums, and each host its own series (the host charts of a host opened alone).  A host not
        up: its rows are from before, a gap in its charts, and left out of the fleet's (as the fleet header
        leaves them out)."""
        live = {h.name for h in snapshot.hosts if h.state.live}
        on: dict[str, list[DomainView]] = {h.name: [] for h in snapshot.hosts}
        for v in snapshot.domains:
            if v.sample.host in live:
                on[v.sample.host].append(v)
        sums = {name: _sums(on[name]) for name in live}  # each domain's figures summed once, by its host
        _append_host(self.host, _fleet_sums(sums.values()), snapshot.pcpu_pct, snapshot.host)
        for h in snapshot.hosts:
            rings = self.hosts.get(h.name)
            if rings is None:
                rings = self.hosts[h.name] = _host_rings(self.capacity)
            up = h.name in live
            _append_host(rings, sums.get(h.name, {}), h.pcpu_pct if up else None, h.host if up else None)
        for gone in self.hosts.keys() - on.keys():
            del self.hosts[gone]

    def host_series(self, name: str | None = None) -> dict[str, Ring]:
        """The host charts' series: the host's (a fleet's sums) for None, else the fleet's host ``name``'s, empty
        while it has none (it joined this tick): never another's under its name."""
        return self.host if name is None else self.hosts.get(name) or _host_rings(1)

    def times(self) -> list[float]:
        return (self.wall[self._wall_head:] + self.wall[:self._wall_head]).tolist()

    def clear(self) -> None:
        self.domains.clear()
        self.host = _host_rings(self.capacity)
        self.hosts = {}
        self.wall = array("d")
        self._wall_head = 0
        self.last_seq = None
