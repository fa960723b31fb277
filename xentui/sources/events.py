"""libvirt's event loop on the UI's asyncio loop: lifecycle events, keepalive.

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

import libvirt

_impl = None


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return not loop.is_running()  # before the loop runs, its future thread may touch it


def _make_impl(loop: asyncio.AbstractEventLoop):
    import libvirtaio

    class ThreadSafeAsyncIOImpl(libvirtaio.virEventAsyncIOImpl):
        def _safe(self, hook, *, wait: bool):
            @functools.wraps(hook)
            def call(*args):
                if self.loop.is_closed():  # xentui is exiting; a call left hanging just returned
                    return -1
                if _on_loop_thread(self.loop):
                    return hook(*args)
                if not wait:
                    with contextlib.suppress(RuntimeError):  # closed meanwhile
                        self.loop.call_soon_threadsafe(hook, *args)
                    return 0
                done: concurrent.futures.Future = concurrent.futures.Future()

                def run() -> None:
                    try:
                        done.set_result(hook(*args))
                    except Exception as err:  # handed back to the caller's thread
                        done.set_exception(err)

                self.loop.call_soon_threadsafe(run)
                return done.result(timeout=10)

            return call

        def register(self):
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
    return _impl is not None
