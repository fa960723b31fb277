"""The feed: what every consumer (the UI, batch, ``xentui record``) reads, live or replayed.

A feed yields events: a :class:`Snapshot`, :class:`Lost` when the source stopped answering
(``retry_in``: seconds until the next try, None when the feed gives up), and :class:`Back` when
it answers again.  :class:`~xentui.poller.Poller` is the live feed (it owns reconnection and
back-off); :class:`~xentui.recording.player.ReplayPlayer` plays a recording.  See docs/feed.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from xentui.model import RawSample, Snapshot

__all__ = ["Back", "Event", "Feed", "Lost", "Snapshot", "Tap"]


@dataclass(frozen=True)
class Lost:
    """The source stopped answering: why (one line), and seconds until the next try (None: no retry; a replay's
    damaged tick, after which the player waits, paused, for the next move)."""

    reason: str
    retry_in: float | None


@dataclass(frozen=True)
class Back:
    """The source answers again, ``after_s`` seconds after it was lost."""

    after_s: float


Event = Snapshot | Lost | Back
Tap = Callable[[RawSample], None]  # called with each raw sample (in the feed's worker thread)


class Feed(Protocol):
    """A stream of events; closed once by its consumer."""

    def events(self) -> AsyncIterator[Event]:
        """The events, until the consumer stops reading (or a feed that does not retry is lost)."""
        ...

    def close(self) -> None:
        """Let go of the source (never raises, never blocks long)."""
        ...
