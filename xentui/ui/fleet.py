"""What the fleet view computes from a fleet's Snapshot: its sums, its sick hosts, one host's own snapshot.

Pure (no Textual): the fleet header, the host list and the drill-down read these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from xentui.model import DomainState, DomainView, HostState, HostView, Snapshot

PAUSED, SHUTOFF = DomainState.PAUSED, DomainState.SHUTOFF  # bound once: an Enum member's lookup is slow per row
SICK_ORDER = {HostState.DOWN: 0, HostState.STALE: 1, HostState.CONNECTING: 2, HostState.UP: 3}


@dataclass(frozen=True)
class FleetSums:
    """The fleet's totals; committed and available over the live (UP) hosts only."""

    hosts: int
    by_state: dict[HostState, int]
    live: int  # hosts up
    vcpus: int  # vCPUs of the active domains on live hosts whose pCPUs are known
    pcpus: int  # pCPUs of the live hosts
    busy_pcpus: float | None  # pCPUs' worth of CPU the sized live hosts' domains use now (None: no rates yet)
    mem_kib: int  # memory of the active domains on live hosts whose memory is known
    mem_total_kib: int  # memory of the live hosts
    unsized: int = 0  # live hosts of unknown size (Prometheus without node_exporter): left out of the sums
    cpu_sized: int = 0  # live hosts whose pCPUs are known (none: the CPU sums are unknown, not 0)
    mem_sized: int = 0  # live hosts whose memory is known (none: the memory sums are unknown, not 0)


def one_per_domain(views: Sequence[DomainView]) -> list[DomainView]:
    """A migrating domain is on two hosts for a while (running on one, paused incoming on the other): the paused
    copy is left out while a copy elsewhere is not paused.  Two copies not paused are two machines (a cloned
    definition): both count."""
    paused = {s.uuid for v in views if (s := v.sample).state is PAUSED}
    if not paused:
        return list(views)
    unpaused = {s.uuid for v in views if (s := v.sample).state is not PAUSED and s.uuid in paused}
    return [v for v in views if (s := v.sample).state is not PAUSED or s.uuid not in unpaused]


def live_hosts(snapshot: Snapshot) -> dict[str, HostView]:
    return {h.name: h for h in snapshot.hosts if h.state.live and h.host is not None}


def fleet_sums(snapshot: Snapshot) -> FleetSums:
    return fleet_figures(snapshot).sums


@dataclass(frozen=True)
class FleetFigures:
    """What the fleet header counts over the domains: its sums, the rows of hosts not up, the live hosts' domains
    by state (one per domain)."""

    sums: FleetSums
    old_rows: int
    by_state: dict[DomainState, int]
    domains: int  # the live hosts' domains, one per domain


def fleet_figures(snapshot: Snapshot) -> FleetFigures:
    """Every figure in one walk over the domains (10,000 in a big fleet); :func:`one_per_domain` only when some
    domain on a live host is paused (a migration's incoming copy, or a domain paused by hand)."""
    by_host = {state: 0 for state in HostState}
    for h in snapshot.hosts:
        by_host[h.state] += 1
    live = live_hosts(snapshot)  # the rows of hosts not up are from before: not summed
    on_live = [v for v in snapshot.domains if v.sample.host in live]
    samples = [v.sample for v in on_live]
    if any(s.state is PAUSED for s in samples):
        shown = one_per_domain(on_live)
        active = one_per_domain([v for v in on_live if v.sample.active])
    else:
        shown = on_live
        active = [v for v, s in zip(on_live, samples, strict=True) if s.state is not SHUTOFF]
    with_cpus = {n for n, h in live.items() if h.host is not None and h.host.pcpus > 0}
    # busy against the pCPUs it is shown with: a host of unknown size adds to neither
    rates = [r for v in active if v.sample.host in with_cpus and (r := v.rates.cpu_pct) is not None]
    with_mem = {n for n, h in live.items() if h.host is not None and h.host.mem_total_kib > 0}
    active_samples = [v.sample for v in active]
    sums = FleetSums(
        hosts=len(snapshot.hosts),
        by_state=by_host,
        live=len(live),
        vcpus=sum(s.vcpus_current or 0 for s in active_samples if s.host in with_cpus),
        pcpus=sum(h.host.pcpus for h in live.values() if h.host is not None),
        busy_pcpus=sum(rates) / 100.0 if rates else None,
        mem_kib=sum(s.mem_kib or 0 for s in active_samples if s.host in with_mem),
        mem_total_kib=sum(h.host.mem_total_kib for h in live.values() if h.host is not None),
        unsized=len(set(live) - (with_cpus & with_mem)),
        cpu_sized=len(with_cpus),
        mem_sized=len(with_mem),
    )
    return FleetFigures(sums, len(snapshot.domains) - len(on_live), state_counts(shown), len(shown))


def state_counts(domains: Sequence[DomainView]) -> dict[DomainState, int]:
    return Counter(v.sample.state for v in domains)


def sick_hosts(snapshot: Snapshot) -> list[HostView]:
    """The hosts not up, worst first (down, stale, connecting), then by name."""
    return sorted((h for h in snapshot.hosts if not h.state.live), key=lambda h: (SICK_ORDER[h.state], h.name))


def host_order(snapshot: Snapshot) -> list[HostView]:
    """Every host, the sick first (as :func:`sick_hosts`), then the live ones by name."""
    return sorted(snapshot.hosts, key=lambda h: (SICK_ORDER[h.state], h.name))


def host_snapshot(whole: Snapshot, name: str) -> Snapshot | None:
    """One host of the fleet as if it were watched alone: its own facts, rates window, pCPUs and domains;
    None when it is not in the fleet or has never answered (no facts to show)."""
    view = next((h for h in whole.hosts if h.name == name), None)
    if view is None or view.host is None:
        return None
    why = () if view.state.live else (f"host {name} {view.state.value}" + (f": {view.reason}" if view.reason
                                                                           else "") + " (its rows are from before)",)
    names = [h.name for h in whole.hosts]
    return Snapshot(seq=whole.seq, wall=whole.wall, interval_s=view.interval_s, host=view.host,
                    domains=tuple(d for d in whole.domains if d.host == name),
                    errors=why + own_messages(whole.errors, name, names),
                    notices=own_messages(whole.notices, name, names), pcpu_pct=view.pcpu_pct,
                    scheduling=whole.scheduling)  # every host's: the scheduler view shows this one's


def own_messages(messages: Sequence[str], name: str, names: Sequence[str]) -> tuple[str, ...]:
    """A fleet's messages that are host ``name``'s (``name: text``, as the fleet source prefixes them), unprefixed,
    and those of no host (the fleet's own)."""
    mine = f"{name}: "
    prefixes = tuple(f"{n}: " for n in names)
    return tuple(m.removeprefix(mine) for m in messages if m.startswith(mine) or not m.startswith(prefixes))


def spanning(targets: Sequence[DomainView], shown: int = 5) -> str:
    """``on 3 hosts: h2, h3, h4`` when ``targets`` span several hosts, else ""."""
    hosts = sorted({v.host for v in targets})
    if len(hosts) < 2:
        return ""
    return f"on {len(hosts)} hosts: " + ", ".join(hosts[:shown]) + (" …" if len(hosts) > shown else "")
