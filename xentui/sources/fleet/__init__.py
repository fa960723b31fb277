"""Many hosts as one source: the fleet file (:mod:`.config`), each host in a thread of its own (:mod:`.member`),
and :class:`FleetSource` (:mod:`.source`).

How a command gets its source: ``specs = choose_hosts(uris, fleet, fleet_file)`` (FleetFileError: one line,
exit 2), then ``open_hosts(specs, readonly=..., delay=...)``: today's single-host source for one host (or none:
the default URI), a :class:`FleetSource` for several.
"""

from __future__ import annotations

from pathlib import Path

from xentui.sources import open_source
from xentui.sources.base import Source
from xentui.sources.fleet.config import ALL, FleetFileError, HostSpec, choose, default_path
from xentui.sources.fleet.source import DEFAULT_WAIT_S, FleetSource, open_member

__all__ = ["ALL", "FleetFileError", "FleetSource", "HostSpec", "choose_hosts", "default_path", "open_hosts"]


def choose_hosts(uris: list[str] | None, fleet: str | None, fleet_file: Path | None = None) -> list[HostSpec]:
    """The hosts ``-c URI`` (repeatable) and ``--fleet NAME`` name (the fleet file: ``fleet_file``, else
    ``fleet.toml`` in xentui's config directory); empty: neither was given (the default URI)."""
    if fleet_file is None:
        from xentui.config import config_dir

        fleet_file = default_path(config_dir())
    return choose(list(uris or ()), fleet, fleet_file)


def open_hosts(specs: list[HostSpec], *, readonly: bool = True, delay: float | None = None,
               name: str | None = None) -> Source:
    """One host (or none: the default) is today's source, as it always was; several are a FleetSource whose
    tick waits ``min(delay, 2 s)`` for slow hosts.  SourceError when the one host cannot be opened."""
    if not specs:
        return open_source(None, readonly=readonly)
    if len(specs) == 1:
        return open_member(specs[0], readonly)
    wait_s = DEFAULT_WAIT_S if delay is None else min(delay, DEFAULT_WAIT_S)
    return FleetSource(specs, name=name or "fleet", readonly=readonly, wait_s=wait_s)
