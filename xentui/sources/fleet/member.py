"""One host of a fleet: its source, opened and collected in a thread of its own, its last two samples, its health.

Only the fleet's collecting thread calls :meth:`Member.start`, :meth:`Member.harvest` and :meth:`Member.parts`;
the member's own thread runs the blocking work (open, reconnect, collect), one call at a time, under the
member source's own deadlines.  A failed member is retried with back-off (1 s doubling to 30 s), in its thread.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import fields, replace

from xentui.model import DomainSample, HostPart, HostState, RawSample
from xentui.poller import BACKOFF_S
from xentui.sources.base import Source, SourceError
from xentui.sources.fleet.config import HostSpec
from xentui.sources.fleet.scheduling import StampedScheduling
from xentui.text import one_line
from xentui.threads import Worker

Opener = Callable[[HostSpec], Source]


# DomainSample's slots but ``host``, read and written through their descriptors: ``dataclasses.replace`` would
# run __init__ and __post_init__ again (3-4x slower: ~20 ms against ~5 ms for 1000 domains, see docs/fleet.md).
_COPIED = tuple((vars(DomainSample)[f.name].__get__, vars(DomainSample)[f.name].__set__)
                for f in fields(DomainSample) if f.name != "host")
_SET_HOST = vars(DomainSample)["host"].__set__


def with_host(domain: DomainSample, host: str) -> DomainSample:
    """``replace(domain, host=host)``, without recomputing what the sample already holds (its I/O totals)."""
    copy = object.__new__(DomainSample)
    for get, put in _COPIED:
        put(copy, get(domain))
    _SET_HOST(copy, host)
    return copy


def stamped(raw: RawSample, host: str) -> RawSample:
    """``raw`` with every domain's ``host`` set (a part of a source that has parts: its own name)."""
    if raw.parts:
        return replace(raw, parts=tuple(stamped_part(p) for p in raw.parts))
    if all(d.host == host for d in raw.domains):
        return raw
    return replace(raw, domains=tuple(with_host(d, host) for d in raw.domains))


def stamped_part(part: HostPart) -> HostPart:
    """``part`` with its samples' domains named after it."""
    return replace(part, prev=None if part.prev is None else stamped(part.prev, part.name),
                   cur=None if part.cur is None else stamped(part.cur, part.name))


class Member:
    """A host of the fleet (or, for a source that has parts such as Prometheus, a set of them)."""

    def __init__(self, spec: HostSpec, opener: Opener):
        self.spec = spec
        self.name = spec.name
        self.source: Source | None = None  # set in the member's thread once opened
        self._opener = opener
        self._worker = Worker(f"xentui-host-{spec.name}"[:60])
        self._future: concurrent.futures.Future[RawSample] | None = None  # the call in flight
        self.prev: RawSample | None = None
        self.cur: RawSample | None = None
        self.fresh = False  # answered during the fleet's current tick
        self.failure = ""  # why the last call failed ("" when it answered)
        self.took_s = 0.0  # how long the last collection took in the member's thread (open or reconnect included)
        self._retry_at = 0.0
        self._attempt = 0
        self._broken = False  # the source failed: reconnect before the next collect
        # what the source is told, now and each time it is opened: its interest, the poller's delay once known,
        # whether a view watches its schedulers
        self._told: dict[str, Callable[[Source], None]] = {"interest": lambda s: s.set_interest(None, False)}
        self._stamp_scheduling = StampedScheduling()
        self._on_change: Callable[[str], None] | None = None
        self._closed = False
        self._lock = threading.Lock()  # the opened source against subscribe() and interest() from other threads

    # --- in the member's own thread ---------------------------------------------------------------------------

    def _work(self) -> RawSample:
        began = time.monotonic()
        try:
            return self._collect()
        finally:
            self.took_s = time.monotonic() - began

    def _collect(self) -> RawSample:
        source = self.source
        if source is None:
            source = self._opener(self.spec)
            if self._closed:
                source.close()
                raise SourceError("closed")
            with self._lock:  # subscribe() and interest() from other threads see it opened, or leave it to us
                self.source = source
                on_change, told = self._on_change, list(self._told.values())
            if on_change is not None:
                source.subscribe(on_change)
            for tell in told:
                tell(source)
        elif self._broken:
            source.reconnect()
        self._broken = False
        raw = stamped(source.collect(), self.name)
        if raw.scheduling is None or raw.parts:
            return raw
        return replace(raw, scheduling=self._stamp_scheduling(raw.scheduling, self.name))

    # --- in the fleet's collecting thread ---------------------------------------------------------------------

    def start(self, now: float) -> concurrent.futures.Future[RawSample] | None:
        """Hand a collection to the member's thread unless one is in flight or a retry is not due yet;
        the future to wait for (None: nothing to wait for: a call still in flight from an earlier tick was
        already waited for once, so a hung host holds one tick, never every tick)."""
        if self._closed or self._future is not None or (self.failure and now < self._retry_at):
            return None
        self._future = self._worker.submit(self._work)
        return self._future

    def harvest(self, now: float) -> None:
        """Take the answer of the call in flight, if it has come."""
        future = self._future
        if future is None or not future.done():
            return
        self._future = None
        try:
            raw = future.result()
        except SourceError as err:
            self._failed(one_line(str(err)) or "failed", now)
        except Exception as err:  # a member's bug is only its own: said, and retried like a failure
            self._failed(f"{type(err).__name__}: {one_line(str(err))}", now)
        else:
            self.prev, self.cur = self.cur, raw
            self.fresh, self.failure, self._attempt = True, "", 0

    def _failed(self, why: str, now: float) -> None:
        self.failure = why
        self._retry_at = now + BACKOFF_S[min(self._attempt, len(BACKOFF_S) - 1)]
        self._attempt += 1
        self._broken = self.source is not None

    def retry_now(self) -> None:
        self._retry_at = 0.0

    @property
    def in_flight(self) -> bool:
        return self._future is not None

    def state(self, wait_s: float) -> tuple[HostState, str]:
        """This tick's health and why it is not up."""
        if self.fresh:
            return HostState.UP, ""
        if self.failure:
            return HostState.DOWN, self.failure
        why = f"no answer within {wait_s:g} s"
        return (HostState.CONNECTING if self.cur is None else HostState.STALE), why

    def parts(self, wait_s: float) -> tuple[HostPart, ...]:
        """This member's hosts for the fleet's sample: itself, or the parts its source returned."""
        state, reason = self.state(wait_s)
        spec = self.spec
        cur = self.cur
        if cur is not None and cur.parts:  # a source of many hosts: its parts join the fleet's
            if state is HostState.UP:
                return tuple(replace(p, group=p.group or spec.group, labels=p.labels or spec.labels)
                             for p in cur.parts)
            return tuple(replace(p, state=state, reason=reason, group=p.group or spec.group,
                                 labels=p.labels or spec.labels) for p in cur.parts)
        return (HostPart(name=self.name, state=state, group=spec.group, uri=spec.uri, reason=reason,
                         prev=self.prev, cur=cur, labels=spec.labels),)

    # --- from any thread --------------------------------------------------------------------------------------

    def _tell(self, what: str, tell: Callable[[Source], None]) -> None:
        """``tell(source)`` now when the host's source is open, and each time it is opened (the last of ``what``)."""
        with self._lock:
            self._told[what] = tell
            source = self.source
        if source is not None:
            tell(source)

    def interest(self, uuid: str | None, all_pcpus: bool) -> None:
        self._tell("interest", lambda s: s.set_interest(uuid, all_pcpus))

    def shown(self, uuids: list[str]) -> None:
        self._tell("shown", lambda s: s.set_shown(uuids))

    def watch_scheduling(self, on: bool) -> None:
        self._tell("scheduling", lambda s: s.watch_scheduling(on))

    def set_balloon_stats_period(self, seconds: int) -> None:
        """[guest] balloon_stats_period_s, told to the host's source (a libvirt host sets it; others ignore it)."""
        def tell(source: Source) -> None:
            source.set_balloon_stats_period(seconds)  # a source without a period (Xen, Prometheus) says so: ignored

        self._tell("balloon", tell)

    def set_delay(self, delay_s: float) -> None:
        """The poller's delay, told to the host's source (a Prometheus tick's deadline follows it); never blocks."""
        self._tell("delay", lambda s: s.set_delay(delay_s))

    def subscribe(self, on_change: Callable[[str], None]) -> None:
        """Lifecycle events from this host: now, in its thread, when it is open; else once it opens."""
        with self._lock:
            self._on_change = on_change
            source = self.source
        if source is not None:
            self._worker.submit(lambda: source.subscribe(on_change))

    def close(self) -> None:
        """Close the source in the member's thread after the call in flight; never waits (it may hang)."""
        if self._closed:
            return
        self._closed = True

        def goodbye() -> None:
            if self.source is not None:
                with contextlib.suppress(Exception):
                    self.source.close()

        self._worker.submit(goodbye)
        self._worker.shutdown()
