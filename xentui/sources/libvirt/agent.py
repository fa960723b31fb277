"""Guest facts from the QEMU guest agent, read off the tick in a thread of its own (issue 18).

Per running domain, every EVERY_S (and at once when its detail is opened: :meth:`AgentWatch.watch`):
``guestInfo()`` (hostname, OS, kernel, users, filesystems, time zone), ``interfaceAddresses(SRC_AGENT)``
(addresses per interface) and ``getTime()`` against this host's clock, each under CALL_S.  A round reads
BUDGET domains at most and stops after ROUND_S.  libvirt's "not configured"/"not connected" is "no agent"; a
domain with no agent channel configured is asked again only after NO_CHANNEL_S (a channel is added to a running
domain rarely), at once when it was started again (a new domain id: its configuration may have changed);
a call past its deadline is "agent not answering", and that domain's agent is not asked again while the
call still runs (:class:`deadlines.OnePerKey`).  libvirt refuses agent calls on a read-only connection: a
read-only source gives this watch a read-write connection of its own, used for these three reads only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import libvirt

from xentui.model.guest_agent import AgentStatus, GuestAgent, first_ip
from xentui.sources import deadlines
from xentui.sources.background import Refresher
from xentui.sources.base import SourceError
from xentui.sources.libvirt import agent_parse as parse
from xentui.sources.libvirt import connection
from xentui.sources.libvirt.errors import error_line
from xentui.text import one_line

EVERY_S = 30.0  # a domain's facts are read again after this long
NO_CHANNEL_S = 300.0  # ... this long when it has no agent channel
GAP_S = 2.0  # between rounds
BUDGET = 16  # domains per round at most
CALL_S = 3.0  # one agent call (libvirt 9.0 waited over 7 minutes on a SIGSTOPped qemu-ga here)
ROUND_S = 10.0  # a round starts no new domain after this long
MAX_HUNG = 4  # agent calls left running past their deadline, at most (of deadlines.CAP for the whole process)
MAX_ERROR = 300
_NO_AGENT_WORDS = ("not configured", "not connected")
_ALL_INFO = 0  # guestInfo(types=0): whatever this agent supports (asking for a type it lacks is an error)


class AgentRefused(Exception):
    """One agent call's refusal, classified: ``status`` for the domain, libvirt's words in ``why``."""

    def __init__(self, status: AgentStatus | None, why: str) -> None:
        super().__init__(why)
        self.status = status  # None: this driver lacks the call (the others may still answer)


def classify(err: libvirt.libvirtError) -> AgentRefused:
    code, why = err.get_error_code(), error_line(err)
    if code == libvirt.VIR_ERR_OPERATION_DENIED:
        return AgentRefused(AgentStatus.READ_ONLY, why)
    if code == libvirt.VIR_ERR_NO_SUPPORT:
        return AgentRefused(None, why)
    if code == libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED or (
            code == libvirt.VIR_ERR_AGENT_UNRESPONSIVE and any(w in why for w in _NO_AGENT_WORDS)):
        return AgentRefused(AgentStatus.NO_AGENT, why)
    if code == libvirt.VIR_ERR_AGENT_UNRESPONSIVE:
        return AgentRefused(AgentStatus.NOT_ANSWERING, why)
    return AgentRefused(AgentStatus.FAILED, why)


def _close_late(done: Future[libvirt.virConnect]) -> None:
    if done.exception() is None:
        connection.close_quietly(done.result())


class OwnConnection:
    """A read-write connection for the agent calls alone (a read-only source's), opened when first needed and
    again once it died; blocking (the agent thread's), each open under connection.CONNECT_DEADLINE_S."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.conn: libvirt.virConnect | None = None

    def __call__(self, running: Callable[[], list[deadlines.Call[Any]]] = list) -> libvirt.virConnect:
        """The connection, opened again when it died (the dead one closed once ``running()`` calls returned)."""
        if self.conn is not None and self._alive(self.conn):
            return self.conn
        if self.conn is not None:
            self.close(running())
        try:
            opening = deadlines.start(lambda: connection.open_connection(self.uri, False), "open a connection")
        except deadlines.AtCap as err:
            raise SourceError(f"{AgentStatus.READ_ONLY.value}: {err}") from None
        try:
            self.conn = opening.wait(connection.CONNECT_DEADLINE_S)
        except SourceError as err:  # refused (not root, polkit): libvirt's words
            raise SourceError(f"{AgentStatus.READ_ONLY.value}: {err}") from None
        except deadlines.NoAnswer as err:  # a late answer must not leave an open connection behind
            opening.future.add_done_callback(_close_late)
            raise SourceError(f"{AgentStatus.READ_ONLY.value}: {err}") from None
        return self.conn

    @staticmethod
    def _alive(conn: libvirt.virConnect) -> bool:
        try:
            return bool(conn.isAlive())  # the client's own view of the link: no call to libvirtd
        except libvirt.libvirtError:
            return False

    def close(self, running: list[deadlines.Call[Any]] | None = None) -> None:
        """Close the connection once the ``running`` calls (on it, past their deadline) have returned: libvirt
        frees a closed connection's client under a call still running on it (an abort, seen in a test run)."""
        if (conn := self.conn) is not None:
            self.conn = None
            deadlines.after_all(running or [], lambda: connection.close_in_background(conn))


class AgentWatch:
    """The last :class:`GuestAgent` of each running domain of one connection, refreshed a budget at a time.

    The tick hands over its running domains (:meth:`handed`): the thread lists nothing itself.  With ``own``
    (a read-only source's read-write connection) each domain is looked up there once (handles kept per
    connection)."""

    def __init__(self, own: OwnConnection | None = None, name: str = "xentui-libvirt-agent", *,
                 wall: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic) -> None:
        self._own = own
        self._wall, self._clock = wall, clock
        self.facts: dict[str, GuestAgent] = {}  # uuid -> last read; replaced whole by the thread
        self._running: Mapping[str, libvirt.virDomain] = {}  # the last tick's running domains; replaced whole
        self._handles: dict[str, libvirt.virDomain] = {}  # uuid -> handle on the own connection
        self._handles_of: libvirt.virConnect | None = None
        self._read_at: dict[str, float] = {}  # uuid -> when last asked (monotonic)
        self._no_channel: dict[str, int] = {}  # uuid -> its domain id when it had no agent channel
        self._urgent: str | None = None  # a domain whose detail was just opened
        self._unread: GuestAgent | None = None  # what every domain shows while there is no connection
        self._calls = deadlines.OnePerKey()
        self._refresher = Refresher(self._round, lambda: EVERY_S if self._unread is not None else GAP_S, name)

    def watch(self, uuid: str | None) -> None:
        """The detail of ``uuid`` is open: read its agent now (never blocks)."""
        if uuid is not None:
            self._urgent = uuid  # only the thread touches the rest
            self._refresher.wake()

    def close(self) -> None:
        """Stop reading; the own connection is closed once no round and no call of ours runs on it."""
        self._refresher.close(then=self._let_go)

    def _let_go(self) -> None:
        self._handles, self._handles_of = {}, None
        if self._own is not None:
            self._own.close(self._calls.running())

    def handed(self, running: Mapping[str, libvirt.virDomain]) -> Callable[[str], GuestAgent | None]:
        """``running`` (uuid -> handle) are read next; uuid -> a running domain's last facts (or why there are
        none; None: never read).  The tick's only cost: a lookup per domain, as it builds its samples."""
        self._running = running
        self._refresher.start()
        facts, unread = self.facts, self._unread
        return lambda uuid: facts.get(uuid, unread)

    # --- the thread ------------------------------------------------------------------

    def _round(self) -> None:
        running = self._running
        if gone := [u for u in self.facts if u not in running]:
            self.facts = {u: g for u, g in self.facts.items() if u not in gone}
        for uuid in [u for u in self._read_at if u not in running]:
            del self._read_at[uuid]
            self._no_channel.pop(uuid, None)
        conn = None
        if self._own is not None:
            try:
                conn = self._own(self._calls.running)
            except SourceError as err:  # refused or unreachable: every domain says so; tried again in EVERY_S
                self._unread = GuestAgent(AgentStatus.READ_ONLY, self._wall(), error=one_line(str(err))[:MAX_ERROR])
                return
            if conn is not self._handles_of:
                self._handles, self._handles_of = {}, conn
        self._unread = None
        began, hung = self._clock(), sum(self._calls.hung(u) is not None for u in running)
        for uuid in self._due(running):
            if self._clock() - began >= ROUND_S or hung >= MAX_HUNG:  # hung calls hold threads: leave room
                break
            self._read_at[uuid] = self._clock()
            last = self.facts.get(uuid)
            try:
                found = self.read_one(running[uuid] if conn is None else self._handle(conn, uuid), last)
            except AgentRefused as refused:  # the lookup on the own connection
                found = self._refused(refused, last)
            except Exception as err:  # a parser's bug must not end the thread silently
                why = one_line(f"{type(err).__name__}: {err}")[:MAX_ERROR]  # its text may carry the guest's
                found = GuestAgent(AgentStatus.FAILED, self._wall(), error=why)
            self.facts = {**self.facts, uuid: found}
            hung += self._calls.hung(uuid) is not None
            if found.status is AgentStatus.NO_AGENT and "not configured" in (found.error or ""):
                self._no_channel[uuid] = running[uuid].ID()
            else:
                self._no_channel.pop(uuid, None)

    def _handle(self, conn: libvirt.virConnect, uuid: str) -> libvirt.virDomain:
        if (dom := self._handles.get(uuid)) is None:
            dom = self._ask(uuid, lambda: conn.lookupByUUIDString(uuid), "look the domain up")
            self._handles = {u: d for u, d in self._handles.items() if u in self._running} | {uuid: dom}
        return dom

    def _due(self, running: Mapping[str, libvirt.virDomain]) -> list[str]:
        uuids = list(running)
        now, (urgent, self._urgent) = self._clock(), (self._urgent, None)
        first = [urgent] if urgent in uuids else []
        new = [u for u in uuids if u not in self._read_at and u != urgent]
        old = sorted((self._read_at[u], u) for u in uuids
                     if u in self._read_at and now - self._read_at[u] >= self._every(running[u]) and u != urgent)
        return (first + new + [u for _at, u in old])[:BUDGET]

    def _every(self, dom: libvirt.virDomain) -> float:
        """How long after its last read a domain is due: longer with no agent channel, unless started again."""
        domid = self._no_channel.get(dom.UUIDString())
        return NO_CHANNEL_S if domid is not None and domid == dom.ID() else EVERY_S

    def read_one(self, dom: libvirt.virDomain, last: GuestAgent | None) -> GuestAgent:
        """One domain's facts (its three calls), or why not (the last good facts kept, with the new status)."""
        key = dom.UUIDString()
        try:
            info = self._ask(key, lambda: dom.guestInfo(_ALL_INFO, 0), "guest info")
            ifaces = self._ask(key, lambda: dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0),
                               "guest addresses")
            before = self._wall()
            clock = self._ask(key, lambda: dom.getTime(0), "guest time")
            after = self._wall()
        except AgentRefused as refused:
            return self._refused(refused, last)
        if info is None and ifaces is None and clock is None:  # a driver with none of the calls
            return GuestAgent(AgentStatus.NO_AGENT, self._wall(), error="this driver has no guest agent calls")
        interfaces = parse.interfaces(ifaces)
        return GuestAgent(AgentStatus.OK, after, interfaces=interfaces, ip=first_ip(interfaces),
                          filesystems=parse.filesystems(info or {}), users=parse.users(info or {}),
                          time_offset_s=None if clock is None else parse.clock_offset(clock, before, after),
                          **parse.os_facts(info or {}))

    def _refused(self, refused: AgentRefused, last: GuestAgent | None) -> GuestAgent:
        """The refusal's status; the last good facts kept beside it."""
        status, now, why = refused.status or AgentStatus.NO_AGENT, self._wall(), str(refused)[:MAX_ERROR]
        if last is not None and last.has_facts:
            return replace(last, status=status, error=why, checked_wall=now)
        return GuestAgent(status, now, error=why)

    def _ask(self, key: str, call: Callable[[], Any], what: str) -> Any:
        """One agent call under CALL_S: its answer; None when this driver lacks it; AgentRefused otherwise."""
        try:
            return self._calls.call(key, call, CALL_S, what)
        except deadlines.NoAnswer as err:
            raise AgentRefused(AgentStatus.NOT_ANSWERING, str(err)) from None
        except libvirt.libvirtError as err:
            refused = classify(err)
            if refused.status is None:
                return None
            raise refused from None
