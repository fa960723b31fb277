"""What a guest's agent said, as the table's IP and AGENT cells and the detail pane's lines.

Names (hostname, OS, interfaces, mount points, users) are the guest's own text: they go out as plain
strings the caller shows through ``ui/literal.py`` (control characters made visible, never markup).
"""

from __future__ import annotations

import ipaddress
import time

from xentui.model import DomainView
from xentui.model.guest_agent import AgentStatus, GuestAgent
from xentui.text import Visible, visible
from xentui.units import human_bytes, number

AGENT_CELL = {AgentStatus.OK: "yes", AgentStatus.NO_AGENT: "no", AgentStatus.NOT_ANSWERING: "hung",
              AgentStatus.READ_ONLY: "ro", AgentStatus.FAILED: "err"}
MAX_LINES = 12  # interfaces, filesystems shown in the detail (the rest: "... N more")


def ip_text(v: DomainView, _c: object = None) -> str:
    agent = v.sample.agent
    return (agent.ip if agent is not None else None) or "-"


def ip_value(v: DomainView, _c: object = None) -> tuple[int, int] | None:
    """Sorts IPv4 before IPv6, each by number."""
    agent = v.sample.agent
    ip = agent.ip if agent is not None else None
    if ip is None:
        return None
    parsed = ipaddress.ip_address(ip)
    return parsed.version, int(parsed)


def agent_cell(v: DomainView, _c: object = None) -> str:
    agent = v.sample.agent
    return "-" if agent is None else AGENT_CELL[agent.status]


def agent_level(v: DomainView, _c: object = None) -> str | None:
    agent = v.sample.agent
    return "warn" if agent is not None and agent.status in (AgentStatus.NOT_ANSWERING, AgentStatus.FAILED) else None


def _age(wall: float, now: float) -> str:
    return f"{max(0.0, now - wall):.0f} s ago"


def agent_lines(agent: GuestAgent | None, now: float | None = None) -> list[Visible]:
    """The detail pane's lines: the status (one word when there are no facts), then the facts, dated; every
    outside name made visible here (the lines are Visible: not converted again)."""
    return [Visible(line) for line in _lines(agent, now)]


def _lines(agent: GuestAgent | None, now: float | None) -> list[str]:
    if agent is None:
        return []
    now = time.time() if now is None else now
    if agent.status is not AgentStatus.OK and not agent.has_facts:
        return [f"guest: {agent.status.value}" + (f" ({visible(agent.error)})" if agent.error else "")]
    head = f"guest: {visible(agent.hostname or '-')}"
    os_name = " ".join(visible(p) for p in (agent.os_name, agent.os_version) if p)
    if os_name:
        head += f", {os_name}"
    if agent.kernel:
        head += f", kernel {visible(agent.kernel)}"
    head += f" (agent, read {_age(agent.read_wall, now)})"
    out = [head]
    if agent.status is not AgentStatus.OK:
        out.append(f"  now: {agent.status.value}" + (f" ({visible(agent.error)})" if agent.error else ""))
    for i in agent.interfaces[:MAX_LINES]:
        addrs = ", ".join(str(a) for a in i.addresses) or "no address"
        out.append(f"  if {visible(i.name)} {i.hwaddr or '-'}: {addrs}")  # rebuilt addresses: ASCII
    for fs in agent.filesystems[:MAX_LINES]:
        out.append(f"  fs {visible(fs.mountpoint)} ({visible(fs.fstype or '-')}): {human_bytes(fs.used_bytes)} of "
                   f"{human_bytes(fs.total_bytes)}")
    rest = max(0, len(agent.interfaces) - MAX_LINES) + max(0, len(agent.filesystems) - MAX_LINES)
    if rest:
        out.append(f"  ... {rest} more interfaces and filesystems (JSON: guest)")
    users = ", ".join(visible(u.name) for u in agent.users[:MAX_LINES]) or "none"
    offset = "-" if agent.time_offset_s is None else f"{number(agent.time_offset_s)} s"
    zone = f", zone {visible(agent.timezone)}" if agent.timezone else ""
    out.append(f"  users: {users}; clock offset {offset}{zone}")
    return out
