"""Guest facts from the QEMU guest agent, read off the tick in a thread of its own (issue 18).

Per running domain, every EVERY_S (and at once when its detail is opened: :meth:`AgentWatch.watch`):
``guestInfo()`` (hostname, OS, kernel, users, filesystems, time zone), ``interfaceAddresses(SRC_AGENT)``
(addresses per interface) and ``getTime()`` against this host's clock, each under CALL_S.  A round reads
BUDGET domains at most and stops after ROUND_S.  libvirt's "not configured"/"not connected" is "no agent";
a call past its deadline is "agent not answering", and that domain's agent is not asked again while the
call still runs (:class:`deadlines.OnePerKey`).  libvirt refuses agent calls on a read-only connection: a
read-only source gives this watch a read-write connection of its own, used for these three reads only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import libvirt

from xentui.model import DomainSample
from xentui.model.guest_agent import AgentStatus, GuestAgent
from xentui.sources import deadlines
from xentui.sources.background import Refresher
from xentui.sources.base import SourceError
from xentui.sources.libvirt import agent_parse as parse
from xentui.sources.libvirt import connection
from xentui.sources.libvirt.errors import error_line
from xentui.text import one_line

EVERY_S = 30.0  # a domain's facts are read again after this long
GAP_S = 2.0  # between rounds
BUDGET = 16  # domains per round at most
CALL_S = 3.0  # one agent call (libvirt's own guest-sync gives up after 5 s)
ROUND_S = 10.0  # a round starts no new domain after this long
MAX_ERROR = 300
_NO_AGENT_WORDS = ("not configured", "not connected")
_ALL_INFO = 0  # guestInfo(types=0): whatever this agent supports (asking for a type it lacks is an error)

Connect = Callable[[], libvirt.virConnect]


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


class OwnConnection:
    """A read-write connection for the agent calls alone (a read-only source's), opened when first needed and
    again once it died; blocking (the agent thread's), each open under connection.CONNECT_DEADLINE_S."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.conn: libvirt.virConnect | None = None

    def __call__(self) -> libvirt.virConnect:
        if self.conn is not None and self._alive(self.conn):
            return self.conn
        if self.conn is not None:
            connection.close_in_background(self.conn)
            self.conn = None
        try:
            self.conn = connection.open_within_deadline(self.uri, False)[0]
        except SourceError as err:
            raise SourceError(f"{AgentStatus.READ_ONLY.value}: {err}") from None
        return self.conn

    @staticmethod
    def _alive(conn: libvirt.virConnect) -> bool:
        try:
            return bool(conn.isAlive())  # the client's own view of the link: no call to libvirtd
        except libvirt.libvirtError:
            return False

    def close(self) -> None:
        if self.conn is not None:
            connection.close_in_background(self.conn)
            self.conn = None


class AgentWatch:
    """The last :class:`GuestAgent` of each running domain of one connection, refreshed a budget at a time."""

    def __init__(self, connect: Connect, name: str = "xentui-libvirt-agent", *,
                 wall: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect  # the connection the agent calls go through (blocking: opens one when needed)
        self._wall, self._clock = wall, clock
        self.facts: dict[str, GuestAgent] = {}  # uuid -> last read; replaced whole by the thread
        self._read_at: dict[str, float] = {}  # uuid -> when last asked (monotonic)
        self._urgent: str | None = None  # a domain whose detail was just opened
        self._unread: GuestAgent | None = None  # what every domain shows while there is no connection
        self._calls = deadlines.OnePerKey()
        self._refresher = Refresher(self._round, lambda: EVERY_S if self._unread is not None else GAP_S, name)
        self.error = ""  # why the last round read nothing (no connection), else ""
        self._unread: GuestAgent | None = None  # what every domain shows while that is so

    def watch(self, uuid: str | None) -> None:
        """The detail of ``uuid`` is open: read its agent now (never blocks)."""
        if uuid is not None:
            self._urgent = uuid
            self._read_at.pop(uuid, None)
            self.start()
            self._refresher.wake()

    def start(self) -> None:
        self._refresher.start()

    def close(self) -> None:
        self._refresher.close()

    def attach(self, samples: tuple[DomainSample, ...]) -> tuple[DomainSample, ...]:
        """The samples with their domain's last facts (the tick's only cost: a dict lookup per domain)."""
        self.start()
        facts, unread = self.facts, self._unread
        if unread is not None:
            return tuple(replace(s, agent=facts.get(s.uuid, unread)) if s.active else s for s in samples)
        if not facts:
            return samples
        return tuple(replace(s, agent=facts[s.uuid]) if s.uuid in facts and s.active else s for s in samples)

    # --- the thread ------------------------------------------------------------------

    def _round(self) -> None:
        try:
            conn = self._connect()
            doms = deadlines.call(lambda: conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE),
                                  deadlines.QUICK_S, "list domains")
            by_uuid = {dom.UUIDString(): dom for dom in doms}
        except (SourceError, deadlines.NoAnswer, libvirt.libvirtError) as err:  # no connection: try next round
            why = error_line(err) if isinstance(err, libvirt.libvirtError) else str(err)
            self.error = one_line(why)[:MAX_ERROR]
            status = AgentStatus.READ_ONLY if isinstance(err, SourceError) else AgentStatus.FAILED
            self._unread = GuestAgent(status, self._wall(), error=self.error)
            return
        self.error, self._unread = "", None
        if gone := [u for u in self.facts if u not in by_uuid]:
            self.facts = {u: g for u, g in self.facts.items() if u not in gone}
        for uuid in [u for u in self._read_at if u not in by_uuid]:
            del self._read_at[uuid]
        began = self._clock()
        for uuid in self._due(list(by_uuid)):
            if self._clock() - began >= ROUND_S:
                break
            self._read_at[uuid] = self._clock()
            try:
                found = self.read_one(by_uuid[uuid], self.facts.get(uuid))
            except Exception as err:  # a parser's bug must not end the thread silently
                found = GuestAgent(AgentStatus.FAILED, self._wall(), error=f"{type(err).__name__}: {err}"[:MAX_ERROR])
            self.facts = {**self.facts, uuid: found}

    def _due(self, uuids: list[str]) -> list[str]:
        now, urgent = self._clock(), self._urgent
        self._urgent = None
        first = [urgent] if urgent in uuids else []
        new = [u for u in uuids if u not in self._read_at and u != urgent]
        old = sorted((self._read_at[u], u) for u in uuids
                     if u in self._read_at and now - self._read_at[u] >= EVERY_S and u != urgent)
        return (first + new + [u for _at, u in old])[:BUDGET]

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
            status = refused.status or AgentStatus.NO_AGENT
            now = self._wall()
            if last is not None and last.has_facts:
                return replace(last, status=status, error=str(refused)[:MAX_ERROR], checked_wall=now)
            return GuestAgent(status, now, error=str(refused)[:MAX_ERROR])
        if info is None and ifaces is None and clock is None:  # a driver with none of the calls
            return GuestAgent(AgentStatus.NO_AGENT, self._wall(), error="this driver has no guest agent calls")
        return GuestAgent(AgentStatus.OK, after, interfaces=parse.interfaces(ifaces),
                          filesystems=parse.filesystems(info or {}), users=parse.users(info or {}),
                          time_offset_s=None if clock is None else parse.clock_offset(clock, before, after),
                          **parse.os_facts(info or {}))

    def _ask(self, key: str, call: Callable[[], object], what: str) -> object | None:
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
