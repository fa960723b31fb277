"""The Source contract: what every place data comes from offers, and what it may offer.

Required: :meth:`Source.collect` and :meth:`Source.close`.  Everything else is optional and has a
default that means "this source does not offer it", so callers never probe a source with
``getattr``/``hasattr``/``isinstance``: they call the method and get the neutral answer.
Capability flags say what the UI must know before it offers a key (actions, events, placement).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import ClassVar

from xentui.actions import Action, ActionError, ActionParams
from xentui.model import DomainSample, RawSample


@dataclass(frozen=True)
class HistoryPoint:
    """One point of a domain's history kept by the source: CPU% of one pCPU over the interval before it."""

    wall: float
    cpu_pct: float | None
    mem_kib: int | None


class SourceError(Exception):
    """A failure the user must read: one line saying what is wrong and what to do."""


class Source(ABC):
    """A place that yields one :class:`RawSample` per :meth:`collect` (blocking, bounded by deadlines)."""

    uri: str
    readonly: bool = True  # False only when the admin asked for --write and the source can act

    # Capability flags (class-level facts about the kind of source, not about this host).
    CAN_ACT: ClassVar[bool] = False  # act()/current_uuid() do something
    HAS_EVENTS: ClassVar[bool] = False  # subscribe() can deliver lifecycle events
    HAS_PLACEMENT: ClassVar[bool] = False  # set_interest() changes what collect() reads
    MIGRATES: ClassVar[bool] = False  # a host that can send and take live migrations (libvirt)
    KEEPS_HISTORY: ClassVar[bool] = False  # history() reads the source's own store (Prometheus's query_range)

    @abstractmethod
    def collect(self) -> RawSample:
        """One sample now; SourceError (one line) when the source cannot answer."""

    @abstractmethod
    def close(self) -> None:
        """Let go of connections and threads; never raises, never blocks long."""

    def reconnect(self) -> None:
        """Open the connection again after a SourceError (nothing to do for a source without one)."""
        return None

    def reachable(self) -> bool | None:
        """A cheap probe while the connection is lost: True/False, or None when it cannot tell."""
        return None

    def subscribe(self, on_change: Callable[[str], None]) -> str | None:
        """Call ``on_change(uuid)`` on lifecycle events; returns None when subscribed, else why not."""
        return "this source has no lifecycle events"

    def set_delay(self, delay_s: float) -> None:
        """The poller's delay between ticks, when it is set or changed (the ``d`` key): a source that waits within a
        tick (a fleet for its slow hosts) follows it.  Called from any thread: it must not block."""
        return None

    def set_balloon_stats_period(self, seconds: int) -> str | None:
        """Turn on the guests' balloon statistics (``[guest] balloon_stats_period_s``) where their period is 0;
        None when it will be, else why not (one line).  Must not block: the source applies it in its ticks."""
        return "this source has no balloon stats period to set (libvirt's KVM/QEMU, one host)"

    def set_interest(self, uuid: str | None, all_pcpus: bool = False) -> None:
        """Hint: the domain whose vCPU placement is shown, and whether every domain's pCPU is shown."""
        return None

    def set_shown(self, keys: Collection[str]) -> None:
        """Hint: the domains whose rows are on screen (their keys), whose slow figures are read every tick where
        a source reads the others' in turns (libvirt's local fast path).  Must not block."""
        return None

    def watch_scheduling(self, on: bool) -> None:
        """A view (or batch JSON) shows schedulers and cpupools: read them every tick while ``on``, else every
        10 s (``RawSample.scheduling``; None from a source that does not read them).  Must not block."""
        return None

    def watch_guest(self, key: str | None) -> None:
        """The detail of domain ``key`` (DomainSample.key) is open: read its guest agent now rather than at its
        next turn (DomainSample.agent; sources without agents ignore it).  Must not block."""
        return None

    def current_uuid(self, domain: DomainSample) -> str | None:
        """The UUID the domain's name stands for now (None: gone), checked before every action."""
        return domain.uuid

    def act(self, domain: DomainSample, action: Action, params: ActionParams) -> None:
        """Carry out a checked action; ActionError (one line) when refused or failed."""
        raise ActionError(f"{action.value}: this source takes no actions")

    def migration_hosts(self) -> tuple[str, ...]:
        """The hosts a domain may be live-migrated to (a fleet's connected libvirt hosts); () for one host."""
        return ()

    def history(self, domain_key: str, seconds: float) -> list[HistoryPoint] | None:
        """The domain's last ``seconds`` from the source's own store (Prometheus), oldest first; blocking (a
        worker thread's call); None when the source keeps none (the UI's own memory is all there is)."""
        return None
