"""The scrape's collector: a fresh sample when the source answers within the deadline, else the newest one.

Collections run in a thread of their own (one at a time, under the source's own deadlines); a scrape starts
one when none is running and waits for it up to its deadline.  Scrapes that arrive together share the
collection in flight.  A scrape never waits longer: it serves the newest sample it has, with ``xentui_up 0``
and every domain marked stale, so a hung domain or host never blocks Prometheus.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from xentui.export.families import domain_families, host_families
from xentui.model import RawSample
from xentui.sources import Source, SourceError
from xentui.text import one_line
from xentui.threads import Worker

DEFAULT_DEADLINE_S = 5.0
RENDER_S = 0.25  # of a scrape's deadline, kept for rendering (1000 domains: well under 1 s, bench/RESULTS.md)


@dataclass(frozen=True, slots=True)
class Collected:
    raw: RawSample
    took_s: float  # how long the source took


@dataclass(frozen=True, slots=True)
class Served:
    """What one scrape shows: the sample (None: never one), whether it was taken for this scrape, and why not."""

    raw: RawSample | None
    fresh: bool
    collect_s: float  # the collection's time, or how long the scrape waited for one that did not land
    reason: str = ""


class SampleKeeper:
    """Collections of ``source`` in a worker thread; :meth:`serve` gives a scrape what it may show."""

    def __init__(self, source: Source, deadline: float = DEFAULT_DEADLINE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.deadline = deadline
        self._clock = clock
        self._worker = Worker("xentui-export")
        self._lock = threading.Lock()
        self._inflight: concurrent.futures.Future[Collected] | None = None
        self._newest: Collected | None = None
        self._lost = False  # the last collection failed: reconnect before the next

    def _collect(self) -> Collected:
        """In the worker: one collection, then (under the lock, so after :meth:`serve` has noted it as in
        flight) it is the newest, and the next scrape starts another."""
        start = self._clock()
        try:
            if self._lost:
                self.source.reconnect()
            got = Collected(self.source.collect(), self._clock() - start)
        except BaseException:
            with self._lock:
                self._lost, self._inflight = True, None
            raise
        with self._lock:
            self._newest, self._lost, self._inflight = got, False, None
        return got

    def wait_s(self) -> float:
        """How long a scrape waits for the collection: the deadline less the time kept for rendering."""
        return self.deadline * (1 - RENDER_S)

    def serve(self) -> Served:
        start = self._clock()
        with self._lock:
            if self._inflight is None:
                self._inflight = self._worker.submit(self._collect)
            inflight = self._inflight
        try:
            got = inflight.result(timeout=self.wait_s())
            return Served(got.raw, True, got.took_s)
        except concurrent.futures.TimeoutError:
            reason = f"the source did not answer within {self.wait_s():g} s"
        except SourceError as err:
            reason = one_line(str(err))
        except Exception as err:  # a bug must not turn a scrape into a traceback page
            reason = one_line(f"collection failed: {type(err).__name__}: {err}")
        with self._lock:
            newest = self._newest
        return Served(newest.raw if newest else None, False, self._clock() - start, reason)

    def close(self) -> None:
        self._worker.shutdown()


class ExportCollector(Collector):
    """prometheus_client's collector over a :class:`SampleKeeper`: every family of the sample served."""

    def __init__(self, keeper: SampleKeeper) -> None:
        self.keeper = keeper

    def collect(self) -> Iterator[Metric]:
        return families_of(self.keeper.serve())


def families_of(served: Served) -> Iterator[Metric]:
    """A scrape's families: whether it is fresh and how long collecting took, then the sample's (if any)."""
    up = 1 if served.fresh else 0
    yield GaugeMetricFamily("xentui_up", "1 when this scrape's sample was taken for it within the deadline; "
                            "0 when the figures are the newest older ones (or none).", value=up)
    yield GaugeMetricFamily("libvirt_up", "Whether scraping libvirt's metrics was successful.", value=up)
    yield GaugeMetricFamily("xentui_scrape_collect_seconds", "How long the source took to answer for this "
                            "scrape (or how long the scrape waited, when it did not).", value=served.collect_s)
    if served.reason:
        yield InfoMetricFamily("xentui_scrape_error", "Why this scrape's sample is not fresh (one line).",
                               value={"reason": served.reason})
    raw = served.raw
    if raw is None:
        return
    yield GaugeMetricFamily("xentui_sample_age_seconds", "Age of the sample served, in seconds.",
                            value=max(0.0, time.monotonic() - raw.monotonic))
    yield from host_families(raw)
    yield from domain_families(raw.domains, raw.host.cpumap_size, all_stale=not served.fresh)
