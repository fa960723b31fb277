"""Disk latency (ms per request) and a domain's steal, from two samples: part of the rate model (rates.py)."""

from __future__ import annotations

from xentui.model.samples import BlockSample, VcpuSample
from xentui.model.views import BlockLatency, VcpuRates

NS_PER_MS = 1_000_000
Pair = tuple[int | None, int | None]  # a counter at the window's two ends


def ms_per_request(reqs: Pair, times: Pair) -> float | None:
    """The requests' time over the window divided by their number: ((t1 - t0) / (r1 - r0)) in ms.

    None when a counter is unknown or went back (reset), and when no request completed (0/0 is no latency)."""
    (r0, r1), (t0, t1) = reqs, times
    if r0 is None or r1 is None or t0 is None or t1 is None or r1 <= r0 or t1 < t0:
        return None
    return (t1 - t0) / (r1 - r0) / NS_PER_MS


def _kind(a: BlockSample, b: BlockSample, kind: str) -> tuple[Pair, Pair]:
    return ((getattr(a, f"{kind}_reqs"), getattr(b, f"{kind}_reqs")),
            (getattr(a, f"{kind}_times_ns"), getattr(b, f"{kind}_times_ns")))


def block_latencies(prev: tuple[BlockSample, ...], cur: tuple[BlockSample, ...]) -> tuple[BlockLatency, ...]:
    """Each disk's ms per read, write and flush request; empty when no disk has request times (most sources) or
    the disks changed (the caller compares their names)."""
    if not any(b.rd_times_ns is not None or b.wr_times_ns is not None for b in cur):
        return ()
    return tuple(BlockLatency(b.name, ms_per_request(*_kind(a, b, "rd")), ms_per_request(*_kind(a, b, "wr")),
                              ms_per_request(*_kind(a, b, "fl")))
                 for a, b in zip(prev, cur, strict=True))


def domain_ms(prev: tuple[BlockSample, ...], cur: tuple[BlockSample, ...], kind: str) -> float | None:
    """ms per request over all the domain's disks' requests together (a busy disk weighs by its requests);
    None when some disk's counters are unknown (a partial sum would lie) or no request completed."""
    reqs = [0, 0]
    times = [0, 0]
    for a, b in zip(prev, cur, strict=True):
        (r0, r1), (t0, t1) = _kind(a, b, kind)
        if r0 is None or r1 is None or t0 is None or t1 is None or r1 < r0 or t1 < t0:
            return None
        reqs[0] += r0
        reqs[1] += r1
        times[0] += t0
        times[1] += t1
    return ms_per_request((reqs[0], reqs[1]), (times[0], times[1]))


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
