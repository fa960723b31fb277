"""A fleet's schedulers and cpupools: each host's own, named after its host, merged into one state.

Each host's source reads its own in the background; the fleet only renames (once per new state of a host) and
merges (once per new set of states): a tick whose hosts read nothing new costs a dictionary lookup.  Each host's
state also stays in its part (``HostPart.cur.scheduling``).  A host that reads none adds nothing; the merged
``error`` names the hosts whose read failed.
"""

from __future__ import annotations

from dataclasses import replace

from xentui.model import HostPart, SchedulingState

MAX_ERRORS = 3


class StampedScheduling:
    """One host's state with its host set on every pool and domain, made again only when the state changes."""

    def __init__(self) -> None:
        self._last: tuple[SchedulingState | None, SchedulingState | None] = (None, None)

    def __call__(self, state: SchedulingState | None, host: str) -> SchedulingState | None:
        if state is None or state is self._last[0]:
            return self._last[1] if state is not None else None
        stamped = replace(state, pools=tuple(replace(p, host=host) for p in state.pools),
                          domains=tuple(replace(d, host=host) for d in state.domains))
        self._last = (state, stamped)
        return stamped


class MergedScheduling:
    """The fleet's state from its parts' (already stamped), merged again only when one of them changes."""

    def __init__(self) -> None:
        self._key: tuple[int, ...] = ()
        self._merged: SchedulingState | None = None
        self._held: tuple[SchedulingState, ...] = ()  # the states keyed by id(): alive while they are the key

    def __call__(self, parts: tuple[HostPart, ...]) -> SchedulingState | None:
        named = [(p.name, p.cur.scheduling) for p in parts if p.cur is not None and p.cur.scheduling is not None]
        states = tuple(s for _name, s in named)
        key = tuple(id(s) for s in states)
        if key == self._key:
            return self._merged
        self._key, self._held = key, states
        if not states:
            self._merged = None
            return None
        errors = [f"{name}: {s.error}" for name, s in named if s.error]
        more = f"; and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        self._merged = SchedulingState(wall=max(s.wall for s in states),
                                       pools=tuple(p for s in states for p in s.pools),
                                       domains=tuple(d for s in states for d in s.domains),
                                       error="; ".join(errors[:MAX_ERRORS]) + more)
        return self._merged
