"""A domain's guest-agent facts in batch JSON (``guest``: an object, or null when never asked)."""

from __future__ import annotations

from typing import Any

from xentui.model.guest_agent import GuestAgent
from xentui.output.numbers import rounded as _round


def guest_record(agent: GuestAgent | None) -> dict[str, Any] | None:
    """Every fact, the guest's names as it gave them (bounded; JSON escapes them), addresses rebuilt."""
    if agent is None:
        return None
    return {
        "status": agent.status.value,  # ok, no agent, agent not answering, agent needs a read-write connection, ...
        "error": agent.error or None,
        "read_epoch_s": _round(agent.read_wall),  # when the facts were read
        "checked_epoch_s": _round(agent.checked_wall),  # when a later read failed (null: none did)
        "hostname": agent.hostname,
        "os_name": agent.os_name,
        "os_version": agent.os_version,
        "os_id": agent.os_id,
        "kernel": agent.kernel,
        "machine": agent.machine,
        "timezone": agent.timezone,
        "timezone_offset_s": agent.timezone_offset_s,
        "time_offset_s": _round(agent.time_offset_s),  # guest clock minus the host's
        "ip": agent.ip,
        "interfaces": [{"name": i.name, "hwaddr": i.hwaddr,
                        "addresses": [{"address": a.address, "prefix": a.prefix, "family": a.family}
                                      for a in i.addresses]} for i in agent.interfaces],
        "filesystems": [{"mountpoint": f.mountpoint, "fstype": f.fstype, "device": f.device,
                         "used_bytes": f.used_bytes, "total_bytes": f.total_bytes} for f in agent.filesystems],
        "users": [{"name": u.name, "domain": u.domain or None, "login_epoch_s": _round(u.login_wall)}
                  for u in agent.users],
    }
