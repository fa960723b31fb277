"""Text for the scheduler view: cpupools with their scheduler and pCPUs, each domain's parameters under its pool,
an RTDS domain's budget per vCPU.  Returns lines of Content; names (hostile) go in only through ui/literal.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content

from xentui.cpulist import format_cpulist
from xentui.model import CpuPool, DomainScheduling, DomainView, SchedulingState
from xentui.model.scheduling import Params, ParamValue
from xentui.ui.literal import literal, markup
from xentui.units import pct

NAME_WIDTH = 24
HEADER = (f"[b]{'':2}{'POOL / DOMAIN':<{NAME_WIDTH}} {'SCHEDULER':<9} {'PCPUS':<9} {'CPU(%)':>7}  "
          f"PARAMETERS[/b]")
NO_POOL = "(no cpupool)"  # domains whose pool is not listed (or None beside several pools)
# What each scheduler lets xl set per domain; another scheduler (KVM's posix): every parameter the domain has.
EDITABLE = {"credit": ("weight", "cap"), "credit2": ("weight", "cap"), "rtds": ("period_us", "budget_us", "extratime")}


@dataclass(frozen=True)
class Row:
    """One line of the view: a pool (``key`` None), a domain, or one vCPU of an RTDS domain."""

    pool: str
    key: str | None = None
    vcpu: int | None = None

    @property
    def spot(self) -> tuple[str | None, int | None]:
        return self.key, self.vcpu


def value_text(value: ParamValue) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) \
        else str(value)


def params_text(params: Params) -> str:
    return "  ".join(f"{name} {value_text(value)}" for name, value in params)


def editable(domain: DomainScheduling) -> tuple[str, ...]:
    return EDITABLE.get(domain.scheduler, tuple(name for name, _value in domain.params))


def reservation_pct(domain: DomainScheduling) -> float:
    """The share of one pCPU an RTDS domain's budgets reserve, all vCPUs together."""
    return sum(100.0 * b.budget_us / b.period_us for b in domain.vcpus if b.period_us > 0)


def grouped(state: SchedulingState, host: str | None = None) -> list[tuple[CpuPool | None, str,
                                                                          list[DomainScheduling]]]:
    """(pool, its name, its domains) in the source's order; a KVM host's domains (pool None) under its one implicit
    pool; domains of an unlisted pool under that name.  ``host``: only that fleet host's domains."""
    pools = {p.name: p for p in state.pools if host is None or p.host == host}
    implicit = next(iter(pools)) if len(pools) == 1 else NO_POOL
    out: dict[str, list[DomainScheduling]] = {name: [] for name in pools}
    for d in state.domains:
        if host is None or d.host == host:
            out.setdefault(implicit if d.pool is None else d.pool, []).append(d)
    return [(pools.get(name), name, domains) for name, domains in out.items()]


def layout(state: SchedulingState, host: str | None = None) -> list[Row]:
    rows: list[Row] = []
    for _pool, name, domains in grouped(state, host):
        rows.append(Row(name))
        for d in domains:
            rows.append(Row(name, d.key))
            rows.extend(Row(name, d.key, b.vcpu) for b in d.vcpus)
    return rows


def lines(state: SchedulingState, views: dict[str, DomainView], cursor: tuple[str | None, int | None],
          host: str | None = None) -> list[Content]:
    """The header, then a line per pool, domain and RTDS vCPU; the cursor's line reversed and marked ``>``."""
    out = [markup(HEADER)]
    for pool, name, domains in grouped(state, host):
        if pool is None:
            text = f"{'':2}{name:<{NAME_WIDTH}} {'?':<9} {'?':<9} {'':>7}  not in the host's list of cpupools"
        else:
            text = (f"{'':2}{name:<{NAME_WIDTH}} {pool.scheduler:<9} {format_cpulist(pool.pcpus) or '-':<9} "
                    f"{'':>7}  {params_text(pool.params)}")
        out.append(markup("[b]$line[/b]", line=text.rstrip()))
        for d in domains:
            view = views.get(d.key)
            cpu = pct(view.rates.cpu_pct if view else None)
            if d.vcpus:
                shown = (f"{len(d.vcpus)} vCPU(s), budgets reserve {reservation_pct(d):.0f} % of one pCPU"
                         f"{'' if all(b.extratime is False for b in d.vcpus) else ' (+ extra time)'}")
            else:
                shown = params_text(d.params) or "-"
            out.append(_line(f"{'':4}{d.name:<{NAME_WIDTH - 2}} {d.scheduler:<9} {'':<9} {cpu:>7}  {shown}",
                             cursor == (d.key, None)))
            for b in d.vcpus:
                extra = "" if b.extratime is None else f"  extratime {value_text(b.extratime)}"
                share = f" ({100.0 * b.budget_us / b.period_us:.0f} %)" if b.period_us > 0 else ""
                vcpu_cpu = _vcpu_pct(view, b.vcpu)
                out.append(_line(f"{'':6}vCPU {b.vcpu:<{NAME_WIDTH - 9}} {'':<9} {'':<9} {vcpu_cpu:>7}  "
                                 f"period_us {b.period_us}  budget_us {b.budget_us}{share}{extra}",
                                 cursor == (d.key, b.vcpu)))
    return out


def _vcpu_pct(view: DomainView | None, number: int) -> str:
    rate = next((r for r in view.rates.vcpus if r.number == number), None) if view else None
    return pct(rate.cpu_pct if rate else None)


def _line(text: str, chosen: bool) -> Content:
    return markup("[reverse]>$line[/]", line=text[1:]) if chosen else literal(text)
