"""libvirt's event loop on the UI's asyncio loop, and a connection's lifecycle events.

libvirt calls its event-loop hooks from whichever thread is talking to it; xentui talks to
libvirt from the poller's worker thread.  libvirtaio assumes the loop's own thread, so
each hook called from another thread is handed to the loop with ``call_soon_threadsafe``
(an ``add`` waits for its id; updates and removals are queued in order).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
from collections.abc import Callable
from typing import Any

import libvirt

from xentui.sources import deadlines
from xentui.sources.libvirt.errors import error_line

_impl: Any = None


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return not loop.is_running()  # before the loop runs, its future thread may touch it


def _make_impl(loop: asyncio.AbstractEventLoop) -> Any:
    import libvirtaio  # type: ignore[import-untyped]

    class ThreadSafeAsyncIOImpl(libvirtaio.virEventAsyncIOImpl):  # type: ignore[misc]
        def _safe(self, hook: Callable[..., Any], *, wait: bool) -> Callable[..., Any]:
            @functools.wraps(hook)
            def call(*args: Any) -> Any:
                if self.loop.is_closed():  # xentui is exiting; a call left hanging just returned
                    return -1
                if _on_loop_thread(self.loop):
                    return hook(*args)
                if not wait:
                    with contextlib.suppress(RuntimeError):  # closed meanwhile
                        self.loop.call_soon_threadsafe(hook, *args)
                    return 0
                done: concurrent.futures.Future[Any] = concurrent.futures.Future()

                def run() -> None:
                    try:
                        done.set_result(hook(*args))
                    except Exception as err:  # handed back to the caller's thread
                        done.set_exception(err)

                self.loop.call_soon_threadsafe(run)
                return done.result(timeout=10)

            return call

        def register(self) -> ThreadSafeAsyncIOImpl:
            libvirt.virEventRegisterImpl(
                self._safe(self._add_handle, wait=True), self._safe(self._update_handle, wait=False),
                self._safe(self._remove_handle, wait=False), self._safe(self._add_timeout, wait=True),
                self._safe(self._update_timeout, wait=False), self._safe(self._remove_timeout, wait=False))
            return self

    return ThreadSafeAsyncIOImpl(loop=loop).register()


def use_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Run libvirt's events on ``loop``; call once, before any connection opens.  False: unavailable."""
    global _impl
    if _impl is None:
        try:
            _impl = _make_impl(loop)
        except (ImportError, libvirt.libvirtError):
            return False
    return True


def registered() -> bool:
    """Whether libvirt's events run on an asyncio loop (else no events, no keepalive)."""
    return _impl is not None


class Lifecycle:
    """One connection's lifecycle-event registration, made again on a new connection."""

    def __init__(self) -> None:
        self.on_change: Callable[[str], None] | None = None  # kept for a reconnect
        self.also: list[tuple[int, Callable[..., None]]] = []  # more (event id, callback) pairs: jobs.py's
        self._ids: list[int] = []

    def subscribe(self, conn: libvirt.virConnect, on_change: Callable[[str], None]) -> str | None:
        """Call ``on_change(uuid)`` (on the event loop's thread) when a domain starts, stops, pauses, ...;
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
