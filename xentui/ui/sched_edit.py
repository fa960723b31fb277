"""What the scheduler view's edit prompt takes: ``name=value`` pairs of the domain's scheduler parameters.

Typed text is read here into numbers and flags (one line when it is not: what was typed, what would be right);
the ranges are :func:`xentui.actions.validate`'s to check.
"""

from __future__ import annotations

import re

from xentui.actions import ActionError
from xentui.model import DomainScheduling
from xentui.model.scheduling import ParamValue
from xentui.ui.sched_render import editable, value_text

FLAGS = {"yes": True, "y": True, "on": True, "true": True, "1": True,
         "no": False, "n": False, "off": False, "false": False, "0": False}
_PAIR = re.compile(r"^([a-z_0-9]+)=(.*)$")
RTDS_PAIR = ("period_us", "budget_us")  # xl sched-rtds sets both: budget <= period is checked on the two


def current(domain: DomainScheduling, vcpu: int | None) -> dict[str, ParamValue]:
    """The editable parameters' values now (RTDS: of ``vcpu``, or of the first vCPU for all of them)."""
    if domain.vcpus:
        b = next((b for b in domain.vcpus if b.vcpu == vcpu), domain.vcpus[0])
        now: dict[str, ParamValue] = {"period_us": b.period_us, "budget_us": b.budget_us}
        if b.extratime is not None:
            now["extratime"] = b.extratime
        return now
    values = dict(domain.params)
    return {name: values[name] for name in editable(domain) if name in values}


def prefill(domain: DomainScheduling, vcpu: int | None) -> str:
    return " ".join(f"{name}={value_text(value)}" for name, value in current(domain, vcpu).items())


def parse(text: str, domain: DomainScheduling, vcpu: int | None) -> dict[str, ParamValue]:
    """The parameters ``text`` changes (RTDS: period and budget always, together); ActionError: one line."""
    names = editable(domain)
    now = current(domain, vcpu)
    example = " ".join(f"{n}={value_text(v)}" for n, v in now.items()) or "weight=512"
    wanted: dict[str, ParamValue] = {}
    for token in text.replace(",", " ").split():
        match = _PAIR.match(token.lower())
        if match is None:
            raise ActionError(f"{token[:40]!r} is not name=value; write e.g. {example}")
        name, value = match.groups()
        if name not in names:
            raise ActionError(f"{name[:40]!r} is not a {domain.scheduler} parameter that can be set here; "
                              f"these can: {', '.join(names) or 'none'}")
        if isinstance(now.get(name), bool) or name == "extratime":
            if value not in FLAGS:
                raise ActionError(f"{name} {value[:40]!r} is not yes or no")
            wanted[name] = FLAGS[value]
        elif re.fullmatch(r"-?\d{1,20}", value):
            wanted[name] = int(value)
        else:
            raise ActionError(f"{name} {value[:40]!r} is not a whole number")
    every = [current(domain, b.vcpu) for b in domain.vcpus] if domain.vcpus and vcpu is None else [now]
    changed = {n: v for n, v in wanted.items() if any(c.get(n) != v for c in every)}  # "all": any vCPU's
    if changed and domain.vcpus:  # RTDS: the pair goes together, so budget <= period can be checked
        differ = [n for n in RTDS_PAIR if n not in wanted and len({c.get(n) for c in every}) > 1]
        if differ:  # vCPU 0's value would be copied onto every vCPU
            raise ActionError(f"the vCPUs differ in {' and '.join(differ)}: give it for all of them, or edit one vCPU")
        changed = {**{n: wanted.get(n, now[n]) for n in RTDS_PAIR}, **changed}
    return changed


def describe(changes: dict[str, ParamValue], before: dict[str, ParamValue]) -> str:
    """``weight 512 (was 256), cap 50 (was 0)``."""
    return ", ".join(f"{n} {value_text(v)}" + (f" (was {value_text(before[n])})" if n in before and before[n] != v
                                                 else "") for n, v in changes.items())
