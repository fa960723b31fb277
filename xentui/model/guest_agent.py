"""What a guest says of itself through its QEMU guest agent (issue 18): read in the background, carried whole.

Every count and length is bounded by the source (xentui/limits.py); names are outside text, shown literally.
"""

from __future__ import annotations

import enum
import ipaddress

from xentui.model._fast_record import frozen_record


class AgentStatus(enum.Enum):
    """How the last read of a domain's agent went; ``word`` is what the detail pane and AGENT show."""

    OK = "ok"
    NO_AGENT = "no agent"  # no channel, or nothing listening on it
    NOT_ANSWERING = "agent not answering"  # a call past its deadline (or libvirt's own guest-sync timeout)
    READ_ONLY = "agent needs a read-write connection"  # libvirt refuses agent calls on read-only connections
    FAILED = "agent error"  # any other refusal (its message: GuestAgent.error)


MAX_ADDRESS_TEXT = 64  # characters of an address as given (IPv6 with an IPv4 tail and a scope: under 64)
PREFIX_BITS = {"ipv4": 32, "ipv6": 128}


def parse_address(text: object) -> tuple[str, str] | None:
    """(the address rebuilt from its parsed value, its family) of an outside text; None: not one.  A scope
    ("fe80::1%eth0") is refused: its text is the guest's own, and the rebuilt address would carry it."""
    if type(text) is not str or len(text) > MAX_ADDRESS_TEXT or "%" in text:
        return None
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    return str(parsed), "ipv4" if parsed.version == 4 else "ipv6"


@frozen_record
class GuestAddress:
    """One address of a guest interface, rebuilt from its parsed value: ``10.0.2.15/24``."""

    address: str
    prefix: int | None = None
    family: str = "ipv4"  # "ipv4" | "ipv6"

    @property
    def link_local(self) -> bool:
        return ipaddress.ip_address(self.address).is_link_local

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.address).is_loopback

    def __str__(self) -> str:
        return self.address if self.prefix is None else f"{self.address}/{self.prefix}"


@frozen_record
class GuestInterface:
    name: str
    hwaddr: str | None = None
    addresses: tuple[GuestAddress, ...] = ()


@frozen_record
class GuestFilesystem:
    mountpoint: str
    fstype: str = ""
    device: str = ""  # the guest's own name for it ("vda1", "dm-0")
    used_bytes: int | None = None
    total_bytes: int | None = None


@frozen_record
class GuestUser:
    name: str
    domain: str = ""  # Windows' logon domain
    login_wall: float | None = None  # epoch seconds


@frozen_record
class GuestAgent:
    """A domain's guest facts as last read (``read_wall``); on a failed read ``status`` says why, and the facts
    of the last good read (if any) are kept, dated by ``read_wall`` of that read."""

    status: AgentStatus
    read_wall: float  # when the facts below were read (the failure's time when there are none)
    error: str = ""  # the agent's or libvirt's own words for a failure, one line
    hostname: str | None = None
    os_name: str | None = None  # "Debian GNU/Linux"
    os_version: str | None = None  # "12 (bookworm)"
    os_id: str | None = None  # "debian"
    kernel: str | None = None  # kernel release, "6.1.0-27-amd64"
    machine: str | None = None  # "x86_64"
    timezone: str | None = None
    timezone_offset_s: int | None = None
    users: tuple[GuestUser, ...] = ()
    interfaces: tuple[GuestInterface, ...] = ()
    filesystems: tuple[GuestFilesystem, ...] = ()
    time_offset_s: float | None = None  # guest clock minus the host's, around the call
    checked_wall: float | None = None  # when the status was last learnt (None: with the facts)
    ip: str | None = None  # first_ip(interfaces), worked out once when read (the IP column shows it every frame)

    @property
    def has_facts(self) -> bool:
        return self.hostname is not None or bool(self.interfaces) or self.os_name is not None


def first_ip(interfaces: tuple[GuestInterface, ...]) -> str | None:
    """The first address neither link-local nor loopback: IPv4 before IPv6, interfaces in the guest's order."""
    found = [a for i in interfaces for a in i.addresses if not a.link_local and not a.loopback]
    for family in ("ipv4", "ipv6"):
        for a in found:
            if a.family == family:
                return a.address
    return None
