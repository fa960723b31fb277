"""The one place where counters become rates: two raw samples in, a Snapshot out."""

from __future__ import annotations

from xentui.model._fast_record import evolve
from xentui.model.guest_memory import GuestMemView
from xentui.model.latency import DiskRates, block_latencies, domain_ms, steal_sum
from xentui.model.pressure import numa_view, pressure_view
from xentui.model.samples import NS_PER_S, DomainSample, HostSample, HostState, RawSample, VcpuSample, sum_parts
from xentui.model.views import CacheBankView, CacheView, DomainRates, DomainView, HostView, Snapshot, VcpuRates

# The rates of the QEMU monitor's figures: kept from the snapshot before while those figures are not read again.
MONITOR_RATES = ("blk_rd_bytes_s", "blk_wr_bytes_s", "blk_rd_reqs_s", "blk_wr_reqs_s", "blk_rd_ms", "blk_wr_ms",
                 "blk_latency")
NO_DISK_RATES: DiskRates = (None, None, None, None, None, None, ())
NO_RATES = DomainRates()


def counter_rate(prev: int | None, cur: int | None, seconds: float) -> float | None:
    """Per-second rate of a monotonic counter, or None when it cannot be true.

    A counter that went backwards was reset (device re-plugged, domain restarted):
    no rate is better than a negative or giant one.
    """
    if prev is None or cur is None or seconds <= 0 or cur < prev:
        return None
    return (cur - prev) / seconds


def _pct_of_ns(prev: int | None, cur: int | None, seconds: float) -> float | None:
    rate = counter_rate(prev, cur, seconds)
    return None if rate is None else 100.0 * rate / NS_PER_S


def same_incarnation(prev: DomainSample, cur: DomainSample) -> bool:
    """True when both samples come from one run of one domain.

    Same UUID is required by the caller; a changed domain id (destroyed and started
    again between ticks) or an inactive side means the counters restarted.
    """
    return prev.active and cur.active and prev.domid == cur.domid


def _vcpu_rates(prev: DomainSample, cur: DomainSample, seconds: float) -> tuple[VcpuRates, ...]:
    olds, news = prev.vcpus, cur.vcpus
    if len(olds) == len(news):  # the same vCPUs in the same order (every tick but a hot-plug's): paired as they stand
        rates = []
        for old, v in zip(olds, news, strict=True):
            if old.number != v.number:
                break
            rates.append(_vcpu_rate(old, v, seconds))
        else:
            return tuple(rates)
    by_number = {v.number: v for v in olds}
    return tuple(_vcpu_rate(by_number.get(v.number), v, seconds) for v in news)


def _vcpu_rate(old: VcpuSample | None, v: VcpuSample, seconds: float) -> VcpuRates:
    if old is None:  # (hot-plugged since)
        return VcpuRates(v.number, None, None)
    return VcpuRates(v.number, _pct_of_ns(old.time_ns, v.time_ns, seconds), _pct_of_ns(old.delay_ns, v.delay_ns,
                                                                                         seconds))


def read_window(prev_at: float | None, cur_at: float | None, prev_t: float, cur_t: float) -> float:
    """Seconds between two reads of a counter in samples taken at ``prev_t`` and ``cur_t``: each read's own time
    where the source stamped it, else its sample's (the middle of its stats call)."""
    return (cur_t if cur_at is None else cur_at) - (prev_t if prev_at is None else prev_at)


def monitor_window(prev: DomainSample, cur: DomainSample, prev_t: float, cur_t: float) -> float:
    """Seconds between the reads of the QEMU monitor's figures of two samples (0: not read again: in turns)."""
    return read_window(prev.monitor_at, cur.monitor_at, prev_t, cur_t)


def domain_rates(prev: DomainSample | None, cur: DomainSample, seconds: float, pcpus: int,
                 at: tuple[float, float] | None = None, kept: DomainRates | None = None) -> DomainRates:
    """``at``: when the two samples were taken, for the spans of the figures each read was stamped with (the
    monitor's, the kernel's: read_window); the samples' ``seconds`` apart where not.  ``kept``: the rates whose
    monitor figures (MONITOR_RATES) stand, those figures not read again since (in turns)."""
    if prev is None or not same_incarnation(prev, cur) or seconds <= 0:
        return _disks_only(kept)
    if at is not None:
        seconds = read_window(prev.kernel_at, cur.kernel_at, *at)
        if seconds <= 0:
            return _disks_only(kept)
    cpu_pct = _pct_of_ns(prev.cpu_ns, cur.cpu_ns, seconds)
    blk_s = seconds if at is None else monitor_window(prev, cur, *at)
    a, b = prev.io, cur.io
    # Devices must match one to one, else a hot-plug would make totals jump.
    net = [n.name for n in prev.nets] == [n.name for n in cur.nets]
    # Kept figures of a domain that does not answer give no rate, neither while kept nor once fresh again.
    blk = not (prev.stale or cur.stale) and blk_s > 0 and [d.name for d in prev.blocks] == [d.name for d in cur.blocks]
    vcpus = _vcpu_rates(prev, cur, seconds)
    disks: DiskRates
    if kept is not None:  # (MONITOR_RATES)
        disks = (kept.blk_rd_bytes_s, kept.blk_wr_bytes_s, kept.blk_rd_reqs_s, kept.blk_wr_reqs_s, kept.blk_rd_ms,
                 kept.blk_wr_ms, kept.blk_latency)
    elif blk:
        latency = block_latencies(prev.blocks, cur.blocks)
        disks = (counter_rate(a.blk_rd_bytes, b.blk_rd_bytes, blk_s),
                 counter_rate(a.blk_wr_bytes, b.blk_wr_bytes, blk_s),
                 counter_rate(a.blk_rd_reqs, b.blk_rd_reqs, blk_s),
                 counter_rate(a.blk_wr_reqs, b.blk_wr_reqs, blk_s),
                 domain_ms(prev.blocks, cur.blocks, "rd") if latency else None,
                 domain_ms(prev.blocks, cur.blocks, "wr") if latency else None, latency)
    else:
        disks = NO_DISK_RATES
    rd_bytes, wr_bytes, rd_reqs, wr_reqs, rd_ms, wr_ms, latency = disks
    return DomainRates(
        cpu_pct=cpu_pct,
        cpu_host_pct=None if cpu_pct is None or pcpus <= 0 else cpu_pct / pcpus,
        vcpus=vcpus,
        net_rx_bytes_s=counter_rate(a.net_rx_bytes, b.net_rx_bytes, seconds) if net else None,
        net_tx_bytes_s=counter_rate(a.net_tx_bytes, b.net_tx_bytes, seconds) if net else None,
        net_rx_packets_s=counter_rate(a.net_rx_packets, b.net_rx_packets, seconds) if net else None,
        net_tx_packets_s=counter_rate(a.net_tx_packets, b.net_tx_packets, seconds) if net else None,
        blk_rd_bytes_s=rd_bytes, blk_wr_bytes_s=wr_bytes, blk_rd_reqs_s=rd_reqs, blk_wr_reqs_s=wr_reqs,
        overhead_pct=_overhead_pct(prev, cur, seconds),
        steal_pct=steal_sum(cur.vcpus, vcpus),
        blk_rd_ms=rd_ms, blk_wr_ms=wr_ms, blk_latency=latency,
    )


def _disks_only(kept: DomainRates | None) -> DomainRates:
    """No rate over this window but the kept disk rates (MONITOR_RATES), when there are."""
    if kept is None:
        return NO_RATES
    return evolve(NO_RATES, **{name: getattr(kept, name) for name in MONITOR_RATES})  # (rare: a window of 0 s)


def _same_online(prev: DomainSample, cur: DomainSample) -> bool:
    """Whether the same vCPUs are online in both (compared in order first: the sources list them by number)."""
    olds, news = prev.vcpus, cur.vcpus
    if len(olds) == len(news):
        for a, b in zip(olds, news, strict=True):
            if a.number != b.number or a.online != b.online:
                break
        else:
            return True
    return {v.number for v in olds if v.online} == {v.number for v in news if v.online}


def _overhead_pct(prev: DomainSample, cur: DomainSample, seconds: float) -> float | None:
    """OVH(%): the growth of cpu.time - sum(vcpu.N.time) per second, as % of one pCPU.  A step back of up to
    the vCPUs' clock-tick granularity is 0, not a reset (the incarnation check already caught restarts).  None
    across a change of online vCPUs (one gone offline takes its time out of the sum: the difference would jump
    by it); their sets are compared only where both samples have the figure (not per domain of every tick)."""
    a, b = prev.overhead_ns, cur.overhead_ns
    if a is None or b is None or seconds <= 0 or not _same_online(prev, cur):
        return None
    return 100.0 * max(0, b - a) / seconds / NS_PER_S


# MBM: a counter that went backwards wrapped only if the difference modulo its width is a
# bandwidth memory can carry; else the group was re-created (RMID reused) and there is no rate.
MAX_MBM_BYTES_S = 2**40  # 1 TiB/s: no socket's memory moves more


def wrapping_rate(prev: int | None, cur: int | None, seconds: float, bits: int = 64) -> float | None:
    """Per-second rate of a ``bits``-wide counter that may have wrapped once; None when implausible."""
    if prev is None or cur is None or seconds <= 0:
        return None
    rate = ((cur - prev) % (1 << bits)) / seconds
    return rate if rate <= MAX_MBM_BYTES_S else None


def cache_view(prev: DomainSample | None, cur: DomainSample, seconds: float, host: HostSample) -> CacheView | None:
    """Occupancy as % of each L3, MBM counters as bytes/s (wrap-safe), summed over the L3s."""
    cache = cur.cache
    if cache is None:
        return None
    old_cache = prev.cache if prev is not None and same_incarnation(prev, cur) else None
    comparable = (old_cache is not None and old_cache.source == cache.source and old_cache.group == cache.group
                  and seconds > 0)
    old = {b.cache_id: b for b in old_cache.banks} if comparable and old_cache is not None else {}
    banks: list[CacheBankView] = []
    for b in cache.banks:
        a = old.get(b.cache_id)
        total, local = b.mbm_total_bytes_s, b.mbm_local_bytes_s
        if a is not None:
            if total is None:
                total = wrapping_rate(a.mbm_total_bytes, b.mbm_total_bytes, seconds, cache.counter_bits)
            if local is None:
                local = wrapping_rate(a.mbm_local_bytes, b.mbm_local_bytes, seconds, cache.counter_bits)
        size = host.l3_bytes(b.cache_id)
        banks.append(CacheBankView(b.cache_id, b.occupancy_bytes, _pct_of(b.occupancy_bytes, size or 0), total, local))
    return CacheView(
        source=cache.source,
        banks=tuple(banks),
        status=cache.status,
        occupancy_bytes=sum_parts((v.occupancy_bytes for v in banks), empty=None),
        occupancy_pct=max((v.occupancy_pct for v in banks if v.occupancy_pct is not None), default=None),
        mbm_total_bytes_s=sum_parts((v.mbm_total_bytes_s for v in banks), empty=None),
        mbm_local_bytes_s=sum_parts((v.mbm_local_bytes_s for v in banks), empty=None),
    )


GUEST_STATS_STALE_S = 60.0  # guest figures older than this (and than 3 ticks) are not shown as now


def guest_memory_view(prev: DomainSample | None, cur: DomainSample, seconds: float, wall: float) -> GuestMemView | None:
    """GMEM(%) and the swap and fault rates of the guest's balloon figures.  The guest sends new figures once per
    stats period, stamped by the host (``last_update``, whole seconds): rates span two such updates, so a tick
    without a new update has none; figures older than a minute (the stats period is off) show no GMEM(%)."""
    stats = cur.balloon
    if stats is None:
        return None
    age = None if not stats.last_update else max(0.0, wall - stats.last_update)
    if age is not None and age > max(GUEST_STATS_STALE_S, 3 * seconds):
        return GuestMemView(stats, age_s=age)
    old = prev.balloon if prev is not None and same_incarnation(prev, cur) else None
    span = seconds
    if old is not None and old.last_update and stats.last_update:
        span = stats.last_update - old.last_update  # 0: no new figures since the last tick
    if old is None or span <= 0:
        return GuestMemView(stats, stats.used_pct, age_s=age)
    return GuestMemView(
        stats, stats.used_pct,
        swap_in_kib_s=counter_rate(old.swap_in_kib, stats.swap_in_kib, span),
        swap_out_kib_s=counter_rate(old.swap_out_kib, stats.swap_out_kib, span),
        major_faults_s=counter_rate(old.major_faults, stats.major_faults, span),
        minor_faults_s=counter_rate(old.minor_faults, stats.minor_faults, span),
        age_s=age,
    )


def _pct_of(part: int | None, whole: int) -> float | None:
    if part is None or whole <= 0:
        return None
    return 100.0 * part / whole


def build_snapshot(prev: RawSample | None, cur: RawSample, seq: int = 0, before: Snapshot | None = None) -> Snapshot:
    """Combine two raw samples into what the outputs show (a fleet's: each host from its own two samples).
    ``before``: the snapshot built from ``prev``, whose monitor rates a domain keeps while its monitor's figures
    are not read again (libvirt's fast path reads them in turns)."""
    if cur.parts:
        return _fleet_snapshot(prev, cur, seq, before)
    seconds = cur.monotonic - prev.monotonic if prev is not None else 0.0
    at = (prev.monotonic, cur.monotonic) if prev is not None else None
    old = {d.uuid: d for d in prev.domains} if prev is not None else {}
    # (a fleet's hosts are built each with the whole fleet's snapshot before: looked up only where figures are kept)
    earlier = {v.key: v for v in before.domains} if before is not None and any(
        d.monitor_at is not None or d.pressure is not None for d in cur.domains) else {}
    views = tuple(_view(d, old.get(d.uuid), earlier.get(d.key), seconds, at, cur) for d in cur.domains)
    return Snapshot(
        seq=seq,
        wall=cur.wall,
        interval_s=seconds if prev is not None else None,
        host=cur.host,
        domains=views,
        errors=cur.errors,
        notices=cur.notices,
        pcpu_pct=_pcpu_pct(prev, cur, seconds),
        scheduling=cur.scheduling,
    )


def _view(d: DomainSample, prev: DomainSample | None, earlier: DomainView | None, seconds: float,
          at: tuple[float, float] | None, cur: RawSample) -> DomainView:
    """One domain as shown.  Where its monitor's figures were not read since ``prev``: their age, and their rates
    as last shown (``earlier``, the view before)."""
    age = kept = None
    read_at = d.monitor_at
    if read_at is not None and prev is not None and prev.monitor_at == read_at and same_incarnation(prev, d):
        age = max(0.0, cur.monotonic - read_at)
        if earlier is not None and earlier.sample.monitor_at == read_at and same_incarnation(earlier.sample, d):
            kept = earlier
    rates = domain_rates(prev, d, seconds, cur.host.pcpus, at, None if kept is None else kept.rates)
    if kept is not None and kept.guest_mem is not None:
        guest_mem: GuestMemView | None = kept.guest_mem
    else:
        guest_mem = None if d.balloon is None else guest_memory_view(prev, d, seconds, cur.wall)
    total = cur.host.mem_total_kib
    return DomainView(
        sample=d,
        rates=rates,
        mem_pct=_pct_of(d.mem_kib, total),
        maxmem_pct=_pct_of(d.maxmem_kib, total),
        cache=None if d.cache is None else cache_view(prev, d, seconds, cur.host),
        psi=None if d.pressure is None else pressure_view(
            d.pressure, cur.monotonic, (earlier.sample.pressure, earlier.psi) if earlier is not None else (None, None)),
        guest_mem=guest_mem,
        numa=None if d.numa is None else numa_view(d.numa),
        monitor_age_s=age,
    )


def _pcpu_pct(prev: RawSample | None, cur: RawSample, seconds: float) -> tuple[float | None, ...] | None:
    if prev is None or cur.pcpu_busy_ns is None or prev.pcpu_busy_ns is None:
        return None
    if len(prev.pcpu_busy_ns) != len(cur.pcpu_busy_ns):
        return None
    return tuple(_pct_of_ns(a, b, seconds) for a, b in zip(prev.pcpu_busy_ns, cur.pcpu_busy_ns, strict=True))


def _fleet_snapshot(prev: RawSample | None, cur: RawSample, seq: int, before: Snapshot | None) -> Snapshot:
    """Each host's domains with rates over its own window; a host not up keeps its last rows, marked stale."""
    hosts: list[HostView] = []
    domains: list[DomainView] = []
    for part in cur.parts:
        shot = build_snapshot(part.prev, part.cur, seq, before) if part.cur is not None else None
        if shot is not None:
            if part.state is HostState.UP:
                domains.extend(shot.domains)
            else:
                why = f"host {part.name} {part.state.value}" + (f": {part.reason}" if part.reason else "")
                domains.extend(evolve(d, sample=evolve(d.sample, stale=why)) for d in shot.domains)
        hosts.append(HostView(
            name=part.name, state=part.state, group=part.group, uri=part.uri, reason=part.reason,
            host=part.cur.host if part.cur is not None else None,
            interval_s=shot.interval_s if shot is not None else None, behind_s=part.behind_s,
            domains=len(shot.domains) if shot is not None else 0,
            pcpu_pct=shot.pcpu_pct if shot is not None else None, labels=part.labels,
        ))
    return Snapshot(
        seq=seq,
        wall=cur.wall,
        interval_s=cur.monotonic - prev.monotonic if prev is not None else None,
        host=cur.host,
        domains=tuple(domains),
        errors=cur.errors,
        notices=cur.notices,
        hosts=tuple(hosts),
    )
