"""FleetSource: a source made of sources, one per host, each in a thread of its own.

Public surface (all a caller needs, besides the :class:`Source` contract):

- ``FleetSource(specs, *, name="fleet", readonly=True, wait_s=2.0, opener=None)``: ``specs`` are
  :class:`~xentui.sources.fleet.config.HostSpec`; ``opener(spec) -> Source`` opens one host (default: the URI
  factory :func:`xentui.sources.open_source`, with the spec's credentials).
- ``collect()`` hands a collection to every host whose previous one has returned, waits until all have answered
  or ``wait_s`` has passed, and returns a RawSample with one :class:`~xentui.model.HostPart` per host: UP (its
  last two samples), STALE ("no answer within N s", its last samples kept), CONNECTING (never answered yet) or
  DOWN (its SourceError, one line; it is reopened in its own thread with back-off: 1 s doubling to 30 s).  A hung
  host never holds up the others' tick.  Every domain carries ``host=<the part's name>``; the sample's ``host`` is
  a summary (hostname = the fleet's name, hypervisor "fleet", pCPUs and memory summed over the hosts UP).
  It raises SourceError only when no host has ever answered and every one has failed.
- ``act``, ``current_uuid`` route to the host named by ``domain.host``; a migration (``destination``: a host's
  name) gets that host's URI, when it is a connected libvirt host (``migration_hosts()``); ``set_interest``
  takes a domain's ``key`` (``host/uuid``) or a bare UUID; ``subscribe`` subscribes every host that has events.
- ``set_delay(d)`` (the poller's, at start and on ``d``): a tick then waits ``min(d, 2 s)``; each host's source is told.
- ``close()`` closes every host in its own thread without waiting on a hung one.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from xentui import guest_config
from xentui.actions import Action, ActionError, ActionParams
from xentui.model import DomainSample, HostPart, HostSample, HostState, RawSample
from xentui.sources import deadlines, open_source, source_class
from xentui.sources.base import HistoryPoint, Source, SourceError
from xentui.sources.fleet.config import HostSpec
from xentui.sources.fleet.member import Member, Opener, stamped_part
from xentui.sources.fleet.scheduling import MergedScheduling
from xentui.text import one_line

DEFAULT_WAIT_S = 2.0  # a tick waits this long for slow hosts (the CLI uses min(delay, this))
MAX_MESSAGES = 50  # hosts' errors and notices carried per tick


def open_member(spec: HostSpec, readonly: bool) -> Source:
    """One host of the fleet through the URI factory, with its credentials from the fleet file."""
    auth = None if spec.basic_auth is None else (spec.basic_auth.user, spec.basic_auth.password)
    return open_source(spec.uri, readonly=readonly, basic_auth=auth, bearer_token=spec.bearer_token)


def _kind(uri: str) -> type[Source]:
    try:
        return source_class(uri)
    except SourceError:  # not available: the member says so when it opens
        return Source


class FleetSource(Source):
    """Several hosts as one source (see the module's docstring)."""

    CAN_ACT = True  # per instance below: true when any host's kind of source can
    HAS_EVENTS = True
    HAS_PLACEMENT = True

    def __init__(self, specs: Sequence[HostSpec], *, name: str = "fleet", readonly: bool = True,
                 wait_s: float = DEFAULT_WAIT_S, opener: Opener | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if not specs:
            raise SourceError("a fleet needs at least one host")
        self.name = name
        self.uri = f"fleet:{name}"
        self.readonly = readonly
        self.wait_s = wait_s
        self._clock = clock
        open_one = opener or (lambda spec: open_member(spec, readonly))
        self.members = tuple(Member(spec, open_one) for spec in specs)
        self._by_host = {m.name: m for m in self.members}  # part name -> its member (parts of a Prometheus too)
        self._own_name: dict[str, str] = {}  # a renamed part (``p2@prom``) -> the name its member knows it by
        kinds = [_kind(spec.uri) for spec in specs]
        deadlines.allow_hosts(len(specs))  # every host's calls share the process-wide cap
        # Class-level flags describe the kind of source; a fleet's kind is the set of its hosts' kinds.
        self.CAN_ACT = any(k.CAN_ACT for k in kinds)  # type: ignore[misc]
        self.HAS_EVENTS = any(k.HAS_EVENTS for k in kinds)  # type: ignore[misc]
        self.HAS_PLACEMENT = any(k.HAS_PLACEMENT for k in kinds)  # type: ignore[misc]
        self.KEEPS_HISTORY = any(k.KEEPS_HISTORY for k in kinds)  # type: ignore[misc]
        self._ever_answered = False
        self._scheduling = MergedScheduling()  # each host's own, named after it (DomainScheduling.host)

    def collect(self) -> RawSample:
        now = self._clock()
        for member in self.members:
            member.fresh = False
            member.harvest(now)  # a late answer of the last tick
        waiting = [f for m in self.members if (f := m.start(now)) is not None]
        if waiting:
            concurrent.futures.wait(waiting, timeout=self.wait_s)
        now = self._clock()
        for member in self.members:
            member.harvest(now)
        parts = self._parts()
        self._ever_answered = self._ever_answered or any(p.cur is not None for p in parts)
        if not self._ever_answered and all(m.failure and not m.in_flight for m in self.members):
            raise SourceError(self._all_down())
        return RawSample(monotonic=self._clock(), wall=time.time(), host=self._summary(parts),
                         domains=tuple(d for p in parts if p.cur is not None for d in p.cur.domains),
                         errors=_messages(parts, "errors"), notices=_messages(parts, "notices"), parts=parts,
                         scheduling=self._scheduling(parts))

    def _parts(self) -> tuple[HostPart, ...]:
        parts: list[HostPart] = []
        by_host: dict[str, Member] = {}
        own_name: dict[str, str] = {}
        for member in self.members:
            for part in member.parts(self.wait_s):
                if part.name in by_host:  # a Prometheus target named like another host: renamed (rare: named again)
                    own = part.name
                    part = stamped_part(replace(part, name=f"{part.name}@{member.name}"))
                    if part.name in by_host:
                        continue
                    own_name[part.name] = own
                by_host[part.name] = member
                parts.append(part)
        self._by_host, self._own_name = by_host, own_name
        return tuple(parts)

    def _all_down(self) -> str:
        said = [f"{m.name}: {m.failure}" for m in self.members[:3]]
        more = len(self.members) - len(said)
        return "no host of the fleet answers: " + "; ".join(said) + (f"; and {more} more" if more else "")

    def _summary(self, parts: tuple[HostPart, ...]) -> HostSample:
        """The live hosts' sums; a size is unknown (0) when one live host's is: a partial sum is not the fleet's."""
        up = [p.cur.host for p in parts if p.state is HostState.UP and p.cur is not None]
        sized = all(h.mem_total_kib for h in up)
        return HostSample(hostname=self.name, hypervisor="fleet", hypervisor_version="", uri=self.uri,
                          pcpus=sum(h.pcpus for h in up) if all(h.pcpus for h in up) else 0, mhz=0,
                          mem_total_kib=sum(h.mem_total_kib for h in up) if sized else 0,
                          mem_free_kib=sum(h.mem_free_kib for h in up) if sized else 0)

    def history(self, domain_key: str, seconds: float) -> list[HistoryPoint] | None:
        """The domain's host's own store (Prometheus), asked through that host's source, under the host's name
        as that source knows it (a renamed part's own)."""
        host, _, uuid = domain_key.rpartition("/")
        member = self._by_host.get(host)
        source = member.source if member is not None else None
        own = f"{self._own_name.get(host, host)}/{uuid}"
        return source.history(own, seconds) if source is not None else None

    def set_delay(self, delay_s: float) -> None:
        """A tick waits for slow hosts ``min(delay, 2 s)``: never longer than the delay (``d`` changes it); each
        host's source is told too (a Prometheus host's tick deadline follows it)."""
        self.wait_s = min(delay_s, DEFAULT_WAIT_S)
        for member in self.members:
            member.set_delay(delay_s)

    def reconnect(self) -> None:
        """After the fleet's SourceError (every host down): retry each host at the next collect."""
        for member in self.members:
            member.retry_now()

    def _source_of(self, domain: DomainSample, action: str) -> tuple[Member, Source]:
        member = self._by_host.get(domain.host)
        if member is None:
            raise ActionError(f"{action}: no host {one_line(domain.host)!r} in this fleet: nothing done")
        if member.source is None or member.failure:
            raise ActionError(f"{action}: host {member.name} is not connected: nothing done")
        return member, member.source

    def current_uuid(self, domain: DomainSample) -> str | None:
        return self._source_of(domain, "check")[1].current_uuid(domain)

    def act(self, domain: DomainSample, action: Action, params: ActionParams) -> None:
        member, source = self._source_of(domain, action.value)
        if action is Action.MIGRATE:
            params = {**params, "dest_uri": self._migration_uri(member, source, params["destination"])}
        try:
            source.act(domain, action, params)
        except ActionError as err:
            raise ActionError(f"host {member.name}: {err}") from None

    def migration_hosts(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.members if m.source is not None and m.source.MIGRATES and not m.failure)

    def _migration_uri(self, member: Member, source: Source, destination: str) -> str:
        """The destination's URI, for the source host's libvirtd to reach it (ActionError when it cannot be one)."""
        dest = self._by_host.get(destination)
        if not source.MIGRATES:
            raise ActionError(f"migrate: host {member.name} is not a libvirt host: nothing done")
        if dest is None or dest.name != destination:
            raise ActionError(f"migrate: no host {one_line(destination)!r} in this fleet: nothing done")
        if dest.source is None or dest.failure or not dest.source.MIGRATES:
            raise ActionError(f"migrate: host {dest.name} is not a connected libvirt host: nothing done")
        return dest.spec.uri

    def set_interest(self, uuid: str | None, all_pcpus: bool = False) -> None:
        host, _, bare = (uuid or "").rpartition("/")
        owner = self._by_host.get(host)
        for member in self.members:
            mine = not host or member is owner
            member.interest((bare or None) if mine else None, all_pcpus)

    def set_shown(self, keys: Collection[str]) -> None:
        mine: dict[str, list[str]] = {member.name: [] for member in self.members}
        for key in keys:
            host, _, bare = key.rpartition("/")
            mine.setdefault(host, []).append(bare)
        for member in self.members:
            member.shown(mine[member.name])

    def watch_guest(self, key: str | None) -> None:
        host, _, bare = (key or "").rpartition("/")
        owner = self._by_host.get(host)
        if owner is not None and (source := owner.source) is not None:
            source.watch_guest(bare or None)

    def set_balloon_stats_period(self, seconds: int) -> str | None:
        """Each host's source sets it on its domains (libvirt's; the others have none and stay silent)."""
        if self.readonly:
            return guest_config.READ_ONLY
        for member in self.members:
            member.set_balloon_stats_period(seconds)
        return None

    def watch_scheduling(self, on: bool) -> None:
        for member in self.members:
            member.watch_scheduling(on)

    def subscribe(self, on_change: Callable[[str], None]) -> str | None:
        if not self.HAS_EVENTS:
            return "no host of this fleet has lifecycle events"
        for member in self.members:
            member.subscribe(on_change)
        return None

    def close(self) -> None:
        for member in self.members:
            member.close()


def _messages(parts: tuple[HostPart, ...], kind: str) -> tuple[str, ...]:
    """The hosts' own errors or notices this tick, each prefixed by its host."""
    out: list[str] = []
    for part in parts:
        if part.state is HostState.UP and part.cur is not None:
            out.extend(f"{part.name}: {text}" for text in getattr(part.cur, kind))
    return tuple(out[:MAX_MESSAGES])
