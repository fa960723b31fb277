"""libvirt's guest-agent replies as the model holds them: ``guestInfo()``'s typed parameters,
``interfaceAddresses(SRC_AGENT)``'s dict and ``getTime()``'s clock.

Everything here comes from inside the guest, so everything is hostile: every count is bounded
(:data:`xentui.limits.MAX_AGENT_ITEMS`), every text cut to :data:`xentui.limits.MAX_AGENT_TEXT` (shown
literally, control characters made visible, by the UI), addresses are rebuilt from their parsed value
and MAC addresses kept only when they are one.  Pure functions: the tests feed them recorded replies.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from xentui.limits import MAX_AGENT_ITEMS, MAX_AGENT_TEXT, MAX_COUNTER, count
from xentui.model.guest_agent import (
    MAX_ADDRESS_TEXT,
    PREFIX_BITS,
    GuestAddress,
    GuestFilesystem,
    GuestInterface,
    GuestUser,
    parse_address,
)

_MAC = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")
MAX_OFFSET_S = 1e10  # a guest clock further off than ~300 years is not a clock


def text(value: object) -> str | None:
    """An outside string, cut to MAX_AGENT_TEXT (None: not a string, or empty)."""
    return value[:MAX_AGENT_TEXT] if type(value) is str and value else None


def _size(value: object) -> int | None:
    return value if type(value) is int and 0 <= value < MAX_COUNTER else None


def address(value: object, prefix: object, kind: object) -> GuestAddress | None:
    """One address rebuilt from its parsed value (None: not an address)."""
    if type(value) is not str or len(value) > MAX_ADDRESS_TEXT:
        return None
    parsed = parse_address(value.split("%", 1)[0])  # a scope ("fe80::1%eth0") is dropped
    if parsed is None:
        return None
    shown, family = parsed
    if type(kind) is int and kind != (0 if family == "ipv4" else 1):  # libvirt: 0 = IPv4, 1 = IPv6
        return None
    bits = PREFIX_BITS[family]
    return GuestAddress(shown, prefix if type(prefix) is int and 0 <= prefix <= bits else None, family)


def interfaces(reply: object) -> tuple[GuestInterface, ...]:
    """``{name: {"hwaddr": ..., "addrs": [{"addr", "prefix", "type"}]}}``, in the guest's order, bounded."""
    if not isinstance(reply, Mapping):
        return ()
    out = []
    for name, info in itertools.islice(reply.items(), MAX_AGENT_ITEMS):  # a hostile guest's thousands: not copied
        if (shown := text(name)) is None or not isinstance(info, Mapping):
            continue
        hwaddr = info.get("hwaddr")
        addrs = info.get("addrs")
        found = []
        for entry in (addrs if type(addrs) is list else [])[:MAX_AGENT_ITEMS]:
            if isinstance(entry, Mapping) and (a := address(entry.get("addr"), entry.get("prefix"),
                                                            entry.get("type"))) is not None:
                found.append(a)
        mac = hwaddr.lower() if type(hwaddr) is str and _MAC.fullmatch(hwaddr) else None
        out.append(GuestInterface(shown, mac, tuple(found)))
    return tuple(out)


def _items(info: Mapping[str, Any], prefix: str) -> range:
    return range(count(info.get(f"{prefix}.count"), MAX_AGENT_ITEMS))


def filesystems(info: Mapping[str, Any]) -> tuple[GuestFilesystem, ...]:
    """``fs.N.mountpoint``, ``fs.N.name``, ``fs.N.fstype``, ``fs.N.used-bytes``, ``fs.N.total-bytes``."""
    out = []
    for n in _items(info, "fs"):
        if (mount := text(info.get(f"fs.{n}.mountpoint"))) is None:
            continue
        used, total = _size(info.get(f"fs.{n}.used-bytes")), _size(info.get(f"fs.{n}.total-bytes"))
        out.append(GuestFilesystem(mount, text(info.get(f"fs.{n}.fstype")) or "",
                                   text(info.get(f"fs.{n}.name")) or "", used, total))
    return tuple(out)


def users(info: Mapping[str, Any]) -> tuple[GuestUser, ...]:
    """``user.N.name``, ``user.N.domain``, ``user.N.login-time`` (ms since the epoch)."""
    out = []
    for n in _items(info, "user"):
        if (name := text(info.get(f"user.{n}.name"))) is None:
            continue
        login = info.get(f"user.{n}.login-time")
        wall = login / 1000 if type(login) is int and 0 <= login < 1e14 else None
        out.append(GuestUser(name, text(info.get(f"user.{n}.domain")) or "", wall))
    return tuple(out)


def os_facts(info: Mapping[str, Any]) -> dict[str, Any]:
    """Hostname, OS, kernel and time zone, as GuestAgent's keyword arguments."""
    offset = info.get("timezone.offset")
    return {
        "hostname": text(info.get("hostname")),
        "os_name": text(info.get("os.name")),
        "os_version": text(info.get("os.version")) or text(info.get("os.version-id")),
        "os_id": text(info.get("os.id")),
        "kernel": text(info.get("os.kernel-release")),
        "machine": text(info.get("os.machine")),
        "timezone": text(info.get("timezone.name")),
        "timezone_offset_s": offset if type(offset) is int and abs(offset) <= 86_400 else None,
    }


def clock_offset(reply: object, host_before: float, host_after: float) -> float | None:
    """The guest's clock minus the host's at the middle of the call (None: not a clock reading)."""
    if not isinstance(reply, Mapping):
        return None
    seconds, nanos = reply.get("seconds"), reply.get("nseconds", 0)
    if type(seconds) is not int or type(nanos) is not int or not 0 <= nanos < 1_000_000_000:
        return None
    offset = seconds + nanos / 1e9 - (host_before + host_after) / 2
    return offset if abs(offset) < MAX_OFFSET_S else None
