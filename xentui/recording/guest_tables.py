"""What a recording keeps of the guest's own view (issue 18; revision 6): the balloon statistics behind GMEM(%),
the block request times behind RD ms / WR ms, and the guest agent's facts (IP, AGENT, the detail's lines).

The agent's facts came from inside a guest and the file from anyone: every text is bounded as the agent's
parser bounds it (:data:`~xentui.limits.MAX_AGENT_TEXT` characters, :data:`~xentui.limits.MAX_AGENT_ITEMS`
entries of each list), addresses and MACs are rebuilt from their parsed value or refused, and the IP column's
address is worked out again from the interfaces, never read from the file.  Control characters are kept
literally, as in names, and made visible where shown (xentui/text.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from xentui import limits
from xentui.model.guest_agent import (
    PREFIX_BITS,
    AgentStatus,
    GuestAddress,
    GuestAgent,
    GuestFilesystem,
    GuestInterface,
    GuestUser,
    first_ip,
    parse_address,
)
from xentui.model.guest_memory import BalloonStats
from xentui.recording.fields import (
    INT,
    TIME_OR_NONE,
    Codec,
    Field,
    FormatError,
    Str,
    Table,
    _counters,
    _one_of,
    _seconds,
    record_or_none,
    rows,
)
from xentui.text import brief

SINCE = 6  # the revision that added everything here
MAX_TZ_OFFSET_S = 86_400  # what the agent's parser keeps of a time zone's offset
MAX_CLOCK_OFFSET_S = 1e10  # and of the guest clock's offset from the host's
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_STATUSES = {s.value: s for s in AgentStatus}

TEXT = Str(most=limits.MAX_AGENT_TEXT)
TEXT_OR_NONE = Str(optional=True, most=limits.MAX_AGENT_TEXT)


def _status(v: Any, what: str) -> AgentStatus:
    status = _STATUSES.get(v) if type(v) is str else None
    if status is None:
        raise FormatError(f"{what} {brief(v)} is not one of {', '.join(_STATUSES)}")
    return status


def _ip(v: Any, what: str) -> str:
    """An address rebuilt from its parsed value (a guest's own text, a scope's included, never passes through)."""
    if (parsed := parse_address(v)) is None:
        raise FormatError(f"{what} {brief(v)} is not an IP address")
    return parsed[0]


def _mac(v: Any, what: str) -> str | None:
    if v is None or (type(v) is str and _MAC.fullmatch(v)):
        return v
    raise FormatError(f"{what} {brief(v)} is not a MAC address such as 52:54:00:12:34:56")


def _bounded(v: Any, what: str, most: float, whole: bool) -> Any:
    """A signed offset within +-``most`` (whole seconds where ``whole``), or None."""
    if v is None:
        return None
    kinds = (int,) if whole else (int, float)
    if type(v) not in kinds or not -most <= v <= most or not math.isfinite(v):
        raise FormatError(f"{what} is not a {'whole ' if whole else ''}number of seconds within +-{most:g}")
    return v if whole else float(v)


ADDRESS = Table("guest address", GuestAddress, (
    Field("address", Codec(_ip), "guest address"), Field("prefix", INT, "address prefix"),
    Field("family", _one_of(("ipv4", "ipv6"), optional=False), "address family"),
))
_ADDRESS_ROWS = rows(ADDRESS, "guest addresses", limits.MAX_AGENT_ITEMS)


def _addresses(v: Any, what: str) -> tuple[GuestAddress, ...]:
    """An interface's addresses, each consistent: its family is its address's, its prefix fits it."""
    found: tuple[GuestAddress, ...] = _ADDRESS_ROWS.decode(v, what)
    for a in found:
        if parse_address(a.address) != (a.address, a.family) or (a.prefix is not None
                                                                  and a.prefix > PREFIX_BITS[a.family]):
            raise FormatError(f"guest address {a} ({a.family}) is not a consistent address, prefix and family")
    return found


INTERFACE = Table("guest interface", GuestInterface, (
    Field("name", TEXT, "interface name"), Field("hwaddr", Codec(_mac), "interface MAC"),
    Field("addresses", Codec(_addresses, _ADDRESS_ROWS.encode), "guest addresses"),
))
FILESYSTEM = Table("guest filesystem", GuestFilesystem, (
    Field("mountpoint", TEXT, "mount point"), Field("fstype", TEXT, "filesystem type"),
    Field("device", TEXT, "filesystem device"), *_counters(("used_bytes", "total_bytes"), "filesystem size"),
))
USER = Table("guest user", GuestUser, (
    Field("name", TEXT, "user name"), Field("domain", TEXT, "user domain"),
    Field("login_wall", TIME_OR_NONE, "login time"),
))
AGENT = Table("guest agent", GuestAgent, (
    Field("status", Codec(_status, lambda s: s.value), "agent status"),
    Field("read_wall", Codec(_seconds), "agent read time"),
    Field("error", Str(most=limits.MAX_MESSAGE), "agent error"),
    *(Field(name, TEXT_OR_NONE, f"guest {name}") for name in
      ("hostname", "os_name", "os_version", "os_id", "kernel", "machine", "timezone")),
    Field("timezone_offset_s", Codec(lambda v, what: _bounded(v, what, MAX_TZ_OFFSET_S, True)), "time zone offset"),
    Field("users", rows(USER, "guest users", limits.MAX_AGENT_ITEMS), "guest users"),
    Field("interfaces", rows(INTERFACE, "guest interfaces", limits.MAX_AGENT_ITEMS), "guest interfaces"),
    Field("filesystems", rows(FILESYSTEM, "guest filesystems", limits.MAX_AGENT_ITEMS), "guest filesystems"),
    Field("time_offset_s", Codec(lambda v, what: _bounded(v, what, MAX_CLOCK_OFFSET_S, False)), "clock offset"),
    Field("checked_wall", TIME_OR_NONE, "agent check time"),
))  # ``ip`` is not kept: first_ip(interfaces), worked out when read


def _agent(v: Any, what: str) -> GuestAgent | None:
    if v is None:
        return None
    agent: GuestAgent = AGENT.decode(v, what)
    return replace(agent, ip=first_ip(agent.interfaces))


AGENT_OR_NONE = Codec(_agent, lambda a: None if a is None else AGENT.encode(a))

BALLOON = Table("balloon", BalloonStats, _counters(
    ("available_kib", "usable_kib", "unused_kib", "disk_caches_kib", "swap_in_kib", "swap_out_kib", "major_faults",
     "minor_faults", "last_update"), "balloon figure"))
BALLOON_OR_NONE = record_or_none(BALLOON, "balloon")

# A block device's request times (libvirt's block.N.rd.times, wr.times, fl.reqs, fl.times), appended to its table.
BLOCK_TIMES = tuple(Field(name, INT, "block time", since=SINCE)
                    for name in ("rd_times_ns", "wr_times_ns", "fl_reqs", "fl_times_ns"))
GUEST_FIELDS = (Field("agent", AGENT_OR_NONE, "guest agent", since=SINCE),
                Field("balloon", BALLOON_OR_NONE, "balloon", since=SINCE))
TABLES = {"agent": AGENT, "interface": INTERFACE, "address": ADDRESS, "filesystem": FILESYSTEM, "user": USER,
          "balloon": BALLOON}
