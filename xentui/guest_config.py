"""The ``[guest]`` table of the config file: the balloon's stats period xentui may set, and the levels at which a
guest's swap-in and major faults turn its memory cell warn or crit."""

from __future__ import annotations

from dataclasses import dataclass, fields

MAX_PERIOD_S = 3600
READ_ONLY = "[guest] balloon_stats_period_s: not set on a read-only connection (start xentui with --write)"


@dataclass(frozen=True)
class GuestOptions:
    balloon_stats_period_s: int = 0  # 0: never set; else set on running domains whose period is 0 (with --write)
    swap_in_warn_kib_s: float = 64.0  # the guest reads its swap back: it lacks memory now
    swap_in_crit_kib_s: float = 1024.0
    major_faults_warn_s: float = 100.0  # page faults that wait for the disk
    major_faults_crit_s: float = 1000.0

    def level(self, swap_in_kib_s: float | None, major_faults_s: float | None) -> str | None:
        """"crit", "warn" or None for a guest's swap-in and major-fault rates (None: unknown, no level)."""
        pairs = ((swap_in_kib_s, self.swap_in_warn_kib_s, self.swap_in_crit_kib_s),
                 (major_faults_s, self.major_faults_warn_s, self.major_faults_crit_s))
        if any(rate is not None and rate >= crit for rate, _warn, crit in pairs):
            return "crit"
        if any(rate is not None and rate >= warn for rate, warn, _crit in pairs):
            return "warn"
        return None


DEFAULTS = GuestOptions()
NAMES = tuple(f.name for f in fields(GuestOptions))


def parse(value: object) -> GuestOptions:
    """The ``[guest]`` table as options; ValueError (one line, what would be right) on anything else."""
    if not isinstance(value, dict):
        raise ValueError("guest must be a [guest] table, e.g. [guest] balloon_stats_period_s = 5")
    changes: dict[str, float | int] = {}
    for name, item in value.items():
        if name not in NAMES:
            raise ValueError(f"[guest] {str(name)[:40]!r} is not a setting (known: {', '.join(NAMES)})")
        if isinstance(item, bool) or not isinstance(item, int | float) or not 0 <= item <= 1e12:
            raise ValueError(f"[guest] {name} must be a number from 0, e.g. {name} = 5")
        if name == "balloon_stats_period_s" and (not isinstance(item, int) or item > MAX_PERIOD_S):
            raise ValueError(f"[guest] balloon_stats_period_s must be whole seconds from 0 (off) to {MAX_PERIOD_S}, "
                             "e.g. 2 (at most the delay, so every tick has new figures)")
        changes[name] = item
    options = GuestOptions(**changes)  # type: ignore[arg-type]  # names and types checked above
    if options.swap_in_warn_kib_s > options.swap_in_crit_kib_s or (
            options.major_faults_warn_s > options.major_faults_crit_s):
        raise ValueError("[guest] a warn level is above its crit level (swap_in_* or major_faults_*)")
    return options


def toml(options: GuestOptions) -> str:
    """The ``[guest]`` table of the settings that differ from the defaults ("" when none)."""
    items = [(n, getattr(options, n)) for n in NAMES if getattr(options, n) != getattr(DEFAULTS, n)]
    return "\n[guest]\n" + "".join(f"{n} = {v!r}\n" for n, v in items) if items else ""
