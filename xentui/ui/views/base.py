"""The base of the full-screen views that cover the table (vCPU, pCPU, charts).

The App shows each new snapshot on the view on top (``show``); a view that wants placement read for a
domain, or for every domain, says so with ``interest`` and the App passes it on to the poller.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from xentui.model import Snapshot

if TYPE_CHECKING:
    from xentui.ui.app import XentuiApp

Interest = tuple[str | None, bool]  # (the domain's key: UUID, host/UUID in a fleet; every domain's placement)


class LiveView(Screen[None]):
    """A full-screen view of the live data: a title line, ``show(snapshot)``, Esc or q closes it."""

    BINDINGS = [Binding("escape,q", "close", "Back")]
    TITLE_ID: ClassVar[str] = "view-title"

    @property
    def interest(self) -> Interest | None:
        """What placement the view needs read while it is open; None: nothing."""
        return None

    @property
    def xentui(self) -> XentuiApp:
        return self.app  # type: ignore[return-value]

    def title_bar(self) -> Static:
        return Static(id=self.TITLE_ID, classes="view-title")

    def set_title(self, text: Content) -> None:
        self.query_one(f"#{self.TITLE_ID}", Static).update(text)

    def on_mount(self) -> None:
        if self.interest is not None:
            self.xentui.set_interest(self.interest)
        if self.xentui.snapshot is not None:
            self.show(self.xentui.snapshot)

    def on_unmount(self) -> None:
        if self.interest is not None:  # the view underneath, if any, wants its own placement read again
            below = [s for s in self.app.screen_stack if isinstance(s, LiveView) and s is not self]
            self.xentui.set_interest(below[-1].interest if below else None)

    @abstractmethod
    def show(self, snapshot: Snapshot) -> None:
        """Draw ``snapshot`` (called on the view on top only)."""

    def action_close(self) -> None:
        self.dismiss(None)
