"""CPU lists as Xen and Linux write them: ``0-3,6``, ``all``, ``none``, ``0-7,^2``."""

from __future__ import annotations


class CpuListError(ValueError):
    """A CPU list that cannot be read; the message says what would be right."""


def parse_cpulist(text: str, ncpus: int) -> frozenset[int]:
    """``'0-3,^2'`` -> {0, 1, 3}.  ``all`` is every pCPU; ``none`` is empty.

    Exclusions (``^N`` or ``^N-M``) apply after the inclusions, as in ``xl vcpu-pin``.
    """
    spec = text.strip()
    if spec == "all":
        return frozenset(range(ncpus))
    if spec == "none":
        return frozenset()
    include: set[int] = set()
    exclude: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        negate = part.startswith("^")
        cpus = _range(part[1:] if negate else part, text, ncpus)
        (exclude if negate else include).update(cpus)
    if not include and exclude:
        include = set(range(ncpus))
    return frozenset(include - exclude)


def _range(part: str, text: str, ncpus: int) -> range:
    lo, sep, hi = part.partition("-")
    try:
        first, last = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        raise CpuListError(f"cpu list {text!r}: {part!r} is not a CPU number or range; "
                           f"write e.g. 0-3,6 or ^2 or all") from None
    if first < 0 or last < first:
        raise CpuListError(f"cpu list {text!r}: range {part!r} is backwards or negative; write low-high, e.g. 0-3")
    if last >= ncpus:
        raise CpuListError(f"cpu list {text!r}: pCPU {last} does not exist; this host has pCPUs 0-{ncpus - 1}")
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
