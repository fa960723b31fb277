"""Disk latency (ms per request) and a domain's steal, from two samples: part of the rate model (rates.py)."""

from __future__ import annotations

from xentui.model.samples import BlockSample, VcpuSample
from xentui.model.views import BlockLatency, VcpuRates

NS_PER_MS = 1_000_000
Pair = tuple[int | None, int | None]  # a counter at the window's two ends
# A domain's disk rates as rates.domain_rates makes them: read and write bytes/s, read and write requests/s, ms per
# read and per write request, and each disk's latencies.
DiskRates = tuple[float | None, float | None, float | None, float | None, float | None, float | None,
                  tuple[BlockLatency, ...]]


def ms_per_request(reqs: Pair, times: Pair) -> float | None:
    """The requests' time over the window divided by their number: ((t1 - t0) / (r1 - r0)) in ms.

    None when a counter is unknown or went back (reset), and when no request completed (0/0 is no latency)."""
    (r0, r1), (t0, t1) = reqs, times
    if r0 is None or r1 is None or t0 is None or t1 is None or r1 <= r0 or t1 < t0:
        return None
    return (t1 - t0) / (r1 - r0) / NS_PER_MS


_FIELDS = {kind: (f"{kind}_reqs", f"{kind}_times_ns") for kind in ("rd", "wr", "fl")}


def has_block_times(blocks: tuple[BlockSample, ...]) -> bool:
    """Whether some disk reports request times (libvirt's QEMU: RD ms, WR ms)."""
    return any(b.rd_times_ns is not None or b.wr_times_ns is not None for b in blocks)


def block_latencies(prev: tuple[BlockSample, ...], cur: tuple[BlockSample, ...]) -> tuple[BlockLatency, ...]:
    """Each disk's ms per read, write and flush request; empty when no disk has request times (most sources) or
    the disks changed (the caller compares their names)."""
    if not has_block_times(cur):
        return ()
    return tuple(BlockLatency(b.name, ms_per_request((a.rd_reqs, b.rd_reqs), (a.rd_times_ns, b.rd_times_ns)),
                              ms_per_request((a.wr_reqs, b.wr_reqs), (a.wr_times_ns, b.wr_times_ns)),
                              ms_per_request((a.fl_reqs, b.fl_reqs), (a.fl_times_ns, b.fl_times_ns)))
                 for a, b in zip(prev, cur, strict=True))


def domain_ms(prev: tuple[BlockSample, ...], cur: tuple[BlockSample, ...], kind: str) -> float | None:
    """ms per request over all the domain's disks' requests together (a busy disk weighs by its requests);
    None when some disk's counters are unknown (a partial sum would lie) or no request completed."""
    reqs, times = _FIELDS[kind]
    r0 = r1 = t0 = t1 = 0
    for a, b in zip(prev, cur, strict=True):
        ra, rb, ta, tb = getattr(a, reqs), getattr(b, reqs), getattr(a, times), getattr(b, times)
        if ra is None or rb is None or ta is None or tb is None or rb < ra or tb < ta:
            return None
        r0, r1, t0, t1 = r0 + ra, r1 + rb, t0 + ta, t1 + tb
    return ms_per_request((r0, r1), (t0, t1))


def steal_sum(vcpus: tuple[VcpuSample, ...], rates: tuple[VcpuRates, ...]) -> float | None:
    """STEAL(%): the online vCPUs' steal rates summed, % of one pCPU; None when one of them is unknown."""
    total = 0.0
    seen = False
    for v, r in zip(vcpus, rates, strict=True):
        if not v.online:
            continue
        if r.steal_pct is None:
            return None
        total += r.steal_pct
        seen = True
    return total if seen else None
