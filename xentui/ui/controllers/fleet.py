"""The fleet in the live view: the whole fleet's snapshot, or one host of it opened on its own.

Every snapshot the feed sets passes through :meth:`FleetView.narrow` (the App's ``validate_snapshot``): the
fleet's is kept whole here and, while a host is open, the App is given that host's own snapshot (its header,
only its domains, its pCPUs), so every view, action and guard of the single-host view works on it unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from xentui.model import DomainView, HostSample, Snapshot
from xentui.ui import frame, keys
from xentui.ui.fleet import host_snapshot

if TYPE_CHECKING:
    from xentui.ui.app import XentuiApp


class FleetView:
    def __init__(self, app: XentuiApp):
        self.app = app
        self.focus: str | None = None  # the host opened on its own
        self.whole: Snapshot | None = None  # the last snapshot the feed gave, whole
        self.hidden_tags: set[str] = set()  # tags of other hosts' domains while a host is open: back on leave

    @property
    def active(self) -> bool:
        """The feed gives a fleet (the host keys and the host list are on)."""
        return self.whole is not None and self.whole.fleet

    def narrow(self, snapshot: Snapshot | None) -> Snapshot | None:
        if snapshot is None:
            return None
        self.whole = snapshot
        if self.focus is None or not snapshot.fleet:
            return snapshot
        own = host_snapshot(snapshot, self.focus)
        if own is None:  # it left the fleet
            self.app.notify(f"host {self.focus} is no longer in the fleet: back to the fleet", severity="warning")
            self.focus = None
            self.give_back_tags(snapshot)
            return snapshot
        back = keys.key_hint("escape", self.app.keymap)
        return replace(own, notices=(*own.notices, f"host {self.focus} of a fleet of {len(snapshot.hosts)} hosts "
                                                  f"({back}: back to the fleet)"))

    def enter(self, name: str) -> bool:
        """Open host ``name`` on its own (False, and one line why, when it has nothing to show)."""
        whole = self.whole
        if whole is None or not whole.fleet:
            return False
        part = next((h for h in whole.hosts if h.name == name), None)
        if part is None or part.host is None:
            why = f" ({part.reason})" if part is not None and part.reason else ""
            self.app.notify(f"host {name} has not answered yet{why}: nothing to show", severity="warning")
            return False
        table = self.app.table
        tags = table.tagged | self.hidden_tags  # all the user's (from one host straight to another too)
        here = {v.key for v in whole.domains if v.host == name}
        table.tagged, self.hidden_tags = tags & here, tags - here  # the others' are never acted on here
        self.focus = name
        self.show(whole)
        return True

    def opened_for(self, view: DomainView) -> bool:
        """In the whole fleet: open the domain's host alone (True when it opened); the placement views need
        that host's own facts, and Enter on a fleet's domain opens its host."""
        shown = self.app.snapshot
        return shown is not None and shown.fleet and self.enter(view.host)

    def leave(self) -> bool:
        """Back to the whole fleet (False when no host was open)."""
        if self.focus is None:
            return False
        self.focus = None
        if self.whole is not None:
            self.give_back_tags(self.whole)
            self.show(self.whole)
        self.hidden_tags = set()
        return True

    def give_back_tags(self, whole: Snapshot) -> None:
        """Back in the fleet: the tags hidden while a host was open, of the domains still there; none kept."""
        self.app.table.tagged |= self.hidden_tags & {v.key for v in whole.domains}
        self.hidden_tags = set()

    def show(self, whole: Snapshot) -> None:
        """The fleet or the host opened, at once: redrawn once even while updates are frozen (z)."""
        self.app.snapshot = whole  # narrowed on the way in
        if self.app.paused and self.app.snapshot is not None:
            self.app.present(self.app.snapshot)

    def host_of(self, view: DomainView) -> HostSample | None:
        """The facts of the domain's own host (its topology for pinning, its memory for ballooning)."""
        if self.whole is not None and view.host:
            for h in self.whole.hosts:
                if h.name == view.host:
                    return h.host
        return self.app.snapshot.host if self.app.snapshot is not None else None

    def groups(self) -> dict[str, str]:
        return frame.groups_of(self.whole) if self.whole is not None else {}
