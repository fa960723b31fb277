"""Opening and closing a libvirt connection, each within a deadline (a dead link never hangs xentui)."""

from __future__ import annotations

import concurrent.futures
import contextlib

import libvirt

from xentui.sources import deadlines
from xentui.sources.base import SourceError
from xentui.sources.libvirt import events
from xentui.sources.libvirt.errors import error_line
from xentui.sources.libvirt.host import HostFacts, read_host_facts

CONNECT_DEADLINE_S = 10.0  # to open a connection and read the host's facts
MIN_DEADLINE_S = 2.0  # a tick's call taking longer is left running in the background
KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 4, 3  # libvirt closes a connection after ~4 * (3 + 1) s of silence


def close_quietly(conn: libvirt.virConnect) -> None:
    with contextlib.suppress(libvirt.libvirtError):
        conn.close()


def open_connection(uri: str, readonly: bool) -> libvirt.virConnect:
    """A connection (blocking: call it under a deadline); keepalive when an event loop runs."""
    try:
        conn = libvirt.openReadOnly(uri) if readonly else libvirt.open(uri)
    except libvirt.libvirtError as err:
        raise SourceError(f"cannot connect to {uri!r}: {error_line(err)} "
                          "(is libvirtd running? choose another hypervisor with -c URI)") from None
    if events.registered():  # keepalive needs an event loop: a dead link is noticed within ~20 s
        with contextlib.suppress(libvirt.libvirtError):
            conn.setKeepAlive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT)
    return conn


def open_within_deadline(uri: str, readonly: bool) -> tuple[libvirt.virConnect, HostFacts]:
    """A new connection and the host's facts, or SourceError after CONNECT_DEADLINE_S."""
    def close_late(answer: concurrent.futures.Future[tuple[libvirt.virConnect, HostFacts]]) -> None:
        if answer.exception() is None:
            close_quietly(answer.result()[0])

    def connect() -> tuple[libvirt.virConnect, HostFacts]:
        conn = open_connection(uri, readonly)
        return conn, read_host_facts(conn, uri)

    try:
        call = deadlines.start(connect, f"connect to {uri!r}")
        return call.wait(CONNECT_DEADLINE_S)
    except deadlines.AtCap as err:
        raise SourceError(f"cannot connect: {err}") from None
    except deadlines.NoAnswer:
        # A late answer must not leave an open connection behind.
        call.future.add_done_callback(close_late)
        raise SourceError(f"cannot connect to {uri!r}: no answer within {CONNECT_DEADLINE_S:.0f} s "
                          "(is the link to the host down?)") from None


def close_in_background(conn: libvirt.virConnect) -> None:
    """Close a dead connection without waiting (over a dead link the goodbye waits for an answer)."""
    with contextlib.suppress(deadlines.NoAnswer):  # at the cap, left open: the process is refusing calls anyway
        deadlines.start(lambda: close_quietly(conn), "close a dead connection")
