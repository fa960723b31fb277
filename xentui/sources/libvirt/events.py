"""libvirt's event loop in a thread of its own, and a connection's lifecycle events.

libvirt's own poll loop (``virEventRegisterDefaultImpl``) runs in C in the thread ``libvirt-events``: keepalive,
the sockets' watches and the events' dispatch cost no Python and never wake the UI's loop.  (On the asyncio loop,
as before, every libvirt call from any thread posted two or three watch updates to it: at 300 guests ~390 Python
callbacks a second, measured in bench/RESULTS.md.)  Callbacks run in that thread: each one only flags and wakes
(``Poller.wake``, ``JobSweep.flag``, ``FastPath.changed``: all safe from any thread).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import libvirt

from xentui.sources import deadlines
from xentui.sources.libvirt.errors import error_line

_thread: threading.Thread | None = None


def _run() -> None:
    """libvirt's loop: each turn waits in poll() (the GIL released) for a socket, a timer or a wake-up."""
    while True:
        if libvirt.virEventRunDefaultImpl() < 0:  # (never seen: an iteration's poll failed) not a busy loop
            threading.Event().wait(0.1)


def start() -> bool:
    """Run libvirt's events (call once, before any connection opens).  False: unavailable."""
    global _thread
    if _thread is None:
        try:
            libvirt.virEventRegisterDefaultImpl()
        except libvirt.libvirtError:
            return False
        _thread = threading.Thread(target=_run, name="libvirt-events", daemon=True)
        _thread.start()
    return True


def registered() -> bool:
    """Whether libvirt's events run (else no events, no keepalive)."""
    return _thread is not None


class Lifecycle:
    """One connection's lifecycle-event registration, made again on a new connection."""

    def __init__(self) -> None:
        self.on_change: Callable[[str], None] | None = None  # kept for a reconnect
        self.also: list[tuple[int, Callable[..., None]]] = []  # more (event id, callback) pairs: jobs.py's
        self._ids: list[int] = []

    def subscribe(self, conn: libvirt.virConnect, on_change: Callable[[str], None]) -> str | None:
        """Call ``on_change(uuid)`` (in libvirt's events thread) when a domain starts, stops, pauses, ...;
        ``on_change("")`` when the connection closes.  None when subscribed, else why not."""
        if not registered():
            return "no libvirt event loop"
        self.on_change = on_change

        def lifecycle(_conn: object, dom: libvirt.virDomain, _event: int, _detail: int, _opaque: object) -> None:
            on_change(dom.UUIDString())

        def register() -> str | None:
            try:
                self._ids.append(conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                             lifecycle, None))
            except libvirt.libvirtError as err:
                return error_line(err)
            for event_id, callback in self.also:
                with contextlib.suppress(libvirt.libvirtError):  # a driver without it: the tick's sweep finds jobs
                    self._ids.append(conn.domainEventRegisterAny(None, event_id, callback, None))
            with contextlib.suppress(libvirt.libvirtError):  # closed by keepalive or EOF: look now, not next tick
                conn.registerCloseCallback(lambda _conn, _reason, _opaque: on_change(""), None)
            return None

        try:
            return deadlines.call(register, deadlines.QUICK_S, "register for lifecycle events")
        except deadlines.NoAnswer as err:
            return str(err)

    def renew(self, conn: libvirt.virConnect) -> None:
        """After a reconnect: the old registrations died with the old connection; register again."""
        self._ids.clear()
        if self.on_change is not None:
            self.subscribe(conn, self.on_change)

    def deregister(self, conn: libvirt.virConnect) -> None:
        """Drop the registrations (blocking: call it under a deadline)."""
        for event_id in self._ids:
            with contextlib.suppress(libvirt.libvirtError):
                conn.domainEventDeregisterAny(event_id)
        self._ids.clear()
