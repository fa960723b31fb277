"""Memory of the bounded history (issue 9) and bytes per tick of a recording.

    .venv/bin/python bench/history_memory.py [--domains 1000] [--ticks 3600]

History: tracemalloc measures what History holds after ``--ticks`` ticks of a synthetic host of
``--domains`` domains (1-4 vCPUs each, 2.5 on average); the snapshots fed to it are made before
tracing starts, so only the history is counted.  Recording: bytes per tick of ``xentui record``'s
gzip'd file (and uncompressed) at 50 and ``--domains`` domains.  Replay: time to open, memory held
and time to make each snapshot (60 ticks).  Prints Markdown for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import itertools
import tempfile
import time
import tracemalloc
from pathlib import Path

from xentui.history import DOMAIN_VALUES, STORED_DOMAIN_VALUES, History
from xentui.model import build_snapshot
from xentui.recording.reader import ReplaySource, load
from xentui.recording.writer import Recorder
from xentui.sources.synthetic import SyntheticSource

MIB = 1 << 20


def history_bytes(domains: int, ticks: int, cache: bool = False,
                  domain_values: int = DOMAIN_VALUES) -> tuple[int, int, int]:
    """(bytes held, vCPU series, ticks each domain kept) after ``ticks`` ticks; ``cache``: domains with Cache QoS
    figures too.  Past the history's budget (``domain_values``) a domain keeps fewer than ``ticks``."""
    source = SyntheticSource(count=domains, cache=cache)
    raws = [source.collect() for _ in range(11)]
    shots = [build_snapshot(a, b, i) for i, (a, b) in enumerate(itertools.pairwise(raws))]
    gc.collect()
    tracemalloc.start()
    history = History(capacity=ticks, domain_values=domain_values)
    for seq in range(ticks):
        history.add(dataclasses.replace(shots[seq % len(shots)], seq=seq))
    gc.collect()
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    kept = {len(d.series["cpu_pct"]) for d in history.domains.values()}
    assert len(kept) == 1 and kept.pop() == history.domain_capacity <= ticks
    return held, sum(len(d.vcpus) for d in history.domains.values()), history.domain_capacity


def _record(path: Path, domains: int, ticks: int) -> Recorder:
    """``ticks`` ticks of a synthetic host of ``domains`` domains recorded into ``path``."""
    source = SyntheticSource(count=domains)
    rec = Recorder(path, source.uri, 1.0)
    for _ in range(ticks):
        rec.write(source.collect())
    rec.close()
    return rec


def record_bytes(domains: int, ticks: int = 60) -> tuple[float, float]:
    """(gzip'd, uncompressed) bytes per tick over ``ticks`` ticks, the header and first host included."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.xtrec.gz"
        rec = _record(path, domains, ticks)
        return path.stat().st_size / ticks, rec.bytes_raw / ticks


def replay_cost(domains: int, ticks: int = 60) -> tuple[float, float, float, bool]:
    """(ms to open per tick, KiB held per tick, ms per shown snapshot, decoded whole at open)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.xtrec.gz"
        _record(path, domains, ticks)
        gc.collect()
        tracemalloc.start()
        recording = load(path)
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        start = time.perf_counter()
        recording = load(path)
        opened = time.perf_counter() - start
        replay = ReplaySource(recording)
        start = time.perf_counter()
        for i in range(1, ticks):
            replay.snapshot(i)
        shown = (time.perf_counter() - start) / (ticks - 1)
        return 1000 * opened / ticks, held / ticks / 1024, 1000 * shown, recording.eager


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--domains", type=int, default=1000)
    p.add_argument("--ticks", type=int, default=3600)
    p.add_argument("--stored", action="store_true", help="the budget of a source with its own store (Prometheus)")
    args = p.parse_args()
    budget = STORED_DOMAIN_VALUES if args.stored else DOMAIN_VALUES
    print("| domains | ticks fed | ticks kept a domain | vCPU series | history MiB | bytes per domain-tick kept |")
    print("|---|---|---|---|---|---|")
    for domains, cache in ((50, False), (args.domains, False), (args.domains, True)):
        held, vcpus, kept = history_bytes(domains, args.ticks, cache, budget)
        label = f"{domains}" + (" with Cache QoS" if cache else "")
        print(f"| {label} | {args.ticks} | {kept} | {vcpus} | {held / MIB:.1f} | {held / domains / kept:.1f} |",
              flush=True)
    print()
    print("| domains | recording bytes/tick (gzip) | uncompressed bytes/tick | MiB per hour at 1 s (gzip) |")
    print("|---|---|---|---|")
    for domains in (50, args.domains):
        packed, raw = record_bytes(domains)
        print(f"| {domains} | {packed:,.0f} | {raw:,.0f} | {packed * 3600 / MIB:.1f} |")
    print()
    print("| domains | replay: open ms/tick | KiB held/tick | decoded at open | ms per shown snapshot |")
    print("|---|---|---|---|---|")
    for domains in (50, args.domains):
        opened, held, shown, eager = replay_cost(domains)
        print(f"| {domains} | {opened:.1f} | {held:.1f} | {'yes' if eager else 'no (on demand)'} | {shown:.1f} |")


if __name__ == "__main__":
    main()
