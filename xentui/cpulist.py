"""CPU lists as Xen and Linux write them: ``0-3,6``, ``all``, ``none``, ``0-7,^2``, ``nodes:0``."""

from __future__ import annotations

from collections.abc import Mapping

HINT = "write e.g. 0-3,6 or 0-7,^2 or nodes:0 or all"


class CpuListError(ValueError):
    """A CPU list that cannot be read; the message says what would be right."""


def parse_cpulist(text: str, ncpus: int, nodes: Mapping[int, frozenset[int]] | None = None) -> frozenset[int]:
    """``'0-3,^2'`` -> {0, 1, 3}.  ``all`` is every pCPU; ``none`` is empty.

    ``nodes:N`` (or ``node:N``, ranges too) is every pCPU of NUMA node N, given ``nodes``.
    Exclusions (``^N``, ``^N-M``, ``^nodes:N``) apply after the inclusions, as in ``xl vcpu-pin``.
    """
    spec = text.strip()
    if spec == "all":
        return frozenset(range(ncpus))
    if spec == "none":
        return frozenset()
    if not spec:
        raise CpuListError(f"cpu list is empty; {HINT}")
    include: set[int] = set()
    exclude: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        negate = part.startswith("^")
        body = part[1:] if negate else part
        if body.startswith(("nodes:", "node:")):
            cpus = _node_cpus(body.partition(":")[2], text, nodes)
        else:
            cpus = set(_range(body, text, ncpus, "pCPU"))
        (exclude if negate else include).update(cpus)
    if not include and exclude:
        include = set(range(ncpus))
    return frozenset(include - exclude)


def _node_cpus(part: str, text: str, nodes: Mapping[int, frozenset[int]] | None) -> set[int]:
    known = dict(nodes or {})
    if not known:
        raise CpuListError(f"cpu list {text!r}: this host's NUMA nodes are unknown; list pCPUs instead, e.g. 0-3")
    cpus: set[int] = set()
    for node in _range(part, text, max(known) + 1, "NUMA node"):
        if node not in known:
            raise CpuListError(f"cpu list {text!r}: NUMA node {node} does not exist; this host has nodes "
                               f"{format_cpulist(frozenset(known))}")
        cpus |= known[node]
    return cpus


def _range(part: str, text: str, count: int, what: str) -> range:
    lo, sep, hi = part.partition("-")
    try:
        first, last = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        raise CpuListError(f"cpu list {text!r}: {part!r} is not a {what} number or range; {HINT}") from None
    if first < 0 or last < first:
        raise CpuListError(f"cpu list {text!r}: range {part!r} is backwards or negative; write low-high, e.g. 0-3")
    if last >= count:
        raise CpuListError(f"cpu list {text!r}: {what} {last} does not exist; this host has {what}s 0-{count - 1}")
    return range(first, last + 1)


def format_cpulist(cpus: frozenset[int] | set[int], ncpus: int | None = None) -> str:
    """{0, 1, 2, 3, 6} -> ``'0-3,6'``; every pCPU -> ``'all'``; empty -> ``'none'``."""
    if not cpus:
        return "none"
    if ncpus is not None and set(cpus) >= set(range(ncpus)):
        return "all"
    ordered = sorted(cpus)
    runs: list[str] = []
    start = prev = ordered[0]
    for cpu in [*ordered[1:], None]:
        if cpu is not None and cpu == prev + 1:
            prev = cpu
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if cpu is not None:
            start = prev = cpu
    return ",".join(runs)
