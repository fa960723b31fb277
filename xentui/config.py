"""Settings that persist: columns, sort, delay, theme, CPU mode.

Precedence: command line > ``XENTUI_*`` environment > ``~/.config/xentui/config.toml``
(XDG) > defaults.  A malformed file or value is reported in one line and the default
is used; nothing here ever stops xentui from starting.
"""

from __future__ import annotations

import concurrent.futures
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["CPU_MODES", "Saver", "Settings", "config_dir", "load", "replace", "save"]
from pathlib import Path

from xentui import guest_config, safefile
from xentui.guest_config import DEFAULTS, GuestOptions
from xentui.threads import Worker

MIN_DELAY = 0.2
MAX_DELAY = 3600.0
CPU_MODES = ("pcpu", "host")  # % of one pCPU (xentop) or % of the whole host (virt-top)


def check_delay(value: float | str) -> float:
    """Seconds between ticks, or ValueError with a line fit for the user."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not MIN_DELAY <= seconds <= MAX_DELAY:  # also rejects nan and inf
        raise ValueError(f"delay {value!r} is not a number of seconds from {MIN_DELAY:g} to {MAX_DELAY:g}, e.g. 1.5")
    return seconds


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "xentui"


@dataclass(frozen=True)
class Settings:
    delay: float = 3.0
    sort: str = "cpu_pct"
    reverse: bool = True  # largest first
    columns: tuple[str, ...] = ()  # empty: the default set
    theme: str = "xentui-dark"
    cpu_mode: str = "pcpu"
    keys: tuple[tuple[str, str], ...] = ()  # [keys]: binding id -> keys, e.g. quit = "ctrl+q" (checked by the UI)
    alert: tuple[dict[str, Any], ...] = ()  # [[alert]] tables, as read (checked by xentui.alerts)
    alerts: tuple[tuple[str, Any], ...] = ()  # the [alerts] table's items (checked by xentui.alerts)
    # Where a local QEMU guest's PSI and NUMA placement are read (xentui.sources.hostside; tests: their own trees)
    proc_root: str = "/proc"
    cgroup_root: str = "/sys/fs/cgroup"
    numa_root: str = "/sys/devices/system/node"
    qemu_run: str = "/run/libvirt/qemu"
    guest: GuestOptions = DEFAULTS  # [guest]: the balloon's stats period, guest memory levels
    # STEAL(%)'s colours: its share of the domain's online vCPUs' time, in %, from which it is warn and crit.
    steal_warn_pct: float = 10.0
    steal_crit_pct: float = 25.0
    # RD ms and WR ms's colours: ms per request from which a domain's disks are warn and crit (any medium's slow).
    disk_warn_ms: float = 50.0
    disk_crit_ms: float = 200.0

    @property
    def steal_levels(self) -> tuple[float, float]:
        return self.steal_warn_pct, self.steal_crit_pct

    @property
    def disk_ms_levels(self) -> tuple[float, float]:
        return self.disk_warn_ms, self.disk_crit_ms


PATH_SETTINGS = ("proc_root", "cgroup_root", "numa_root", "qemu_run")


MAX_KEY_ENTRIES = 100  # [keys] entries read; the UI says which ids and keys it cannot use


def _keys(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ValueError("keys must be a [keys] table of binding id = \"key\", e.g. quit = \"ctrl+q\"")
    pairs = []
    for key_id, keys in list(value.items())[:MAX_KEY_ENTRIES]:
        if not isinstance(keys, str) or not keys.strip():
            raise ValueError(f"[keys] {str(key_id)[:40]!r} must be a string of keys, e.g. \"ctrl+q\" or \"x,f9\"")
        pairs.append((str(key_id)[:64], keys.strip()[:200]))
    return tuple(pairs)


MAX_ALERT_TABLES = 1000  # [[alert]] tables kept (xentui.alerts reads at most 100 rules and says so)


def _alert_tables(name: str, value: object) -> object:
    if name == "alerts":
        if not isinstance(value, dict):
            raise ValueError("alerts must be an [alerts] table, e.g. [alerts] defaults = true")
        return tuple(value.items())
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ValueError("alert must be [[alert]] tables of name, when, for, severity, match, exec")
    return tuple(value[:MAX_ALERT_TABLES])


def _alert_toml(settings: Settings) -> str:
    """The [alerts] and [[alert]] tables as read, so that a save from the UI keeps them."""
    def table(header: str, items: object) -> str:
        return f"\n{header}\n" + "".join(f"{_toml_value(str(k))} = {_toml_value(v)}\n" for k, v in items)  # type: ignore[attr-defined]

    return (table("[alerts]", settings.alerts) if settings.alerts else "") + "".join(
        table("[[alert]]", rule.items()) for rule in settings.alert)


LEVELS = ("steal_warn_pct", "steal_crit_pct")
MS_LEVELS = ("disk_warn_ms", "disk_crit_ms")
MAX_LEVEL_MS = 60_000.0


def _level(name: str, value: object, top: float = 100.0, unit: str = "a percentage", example: str = "10") -> float:
    """A level from 0 to ``top`` (% by default); ValueError says what would be right."""
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 <= number <= top:  # also rejects nan and inf
        raise ValueError(f"{name} {str(value)[:40]!r} must be {unit} from 0 to {top:.0f}, e.g. {example}")
    return number


def _coerce(name: str, value: object) -> object:
    """One setting, checked; ValueError says what would be right."""
    if name == "delay":
        return check_delay(value)  # type: ignore[arg-type]
    if name == "reverse":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"reverse {value!r} must be true or false")
    if name == "columns":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ValueError("columns must be a list of column names, e.g. [\"name\", \"cpu_pct\"]")
        return tuple(i.strip() for i in items if i.strip())
    if name == "keys":
        return _keys(value)
    if name in ("alert", "alerts"):
        return _alert_tables(name, value)
    if name == "guest":
        return guest_config.parse(value)
    if name in LEVELS:
        return _level(name, value)
    if name in MS_LEVELS:
        return _level(name, value, MAX_LEVEL_MS, "milliseconds", "50")
    if name == "cpu_mode":
        if value not in CPU_MODES:
            raise ValueError(f"cpu_mode {value!r} must be one of {', '.join(CPU_MODES)}")
        return value
    if name in PATH_SETTINGS and (not isinstance(value, str) or not value.startswith("/") or "\0" in value):
        raise ValueError(f"{name} {str(value)[:80]!r} must be an absolute directory path, e.g. "
                         f"{getattr(Settings, name)!r}")
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} {value!r} must be a non-empty string")
    return value


def _apply(settings: Settings, values: Mapping[str, object], origin: str, problems: list[str]) -> Settings:
    known = {f.name for f in fields(Settings)}
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            problems.append(f"{origin}: unknown setting {name!r} (known: {', '.join(sorted(known))})")
            continue
        try:
            changes[name] = _coerce(name, value)
        except ValueError as err:
            problems.append(f"{origin}: {err}")
    return replace(settings, **changes)


def load(path: Path | None = None, env: Mapping[str, str] | None = None,
         cli: dict[str, object] | None = None) -> tuple[Settings, list[str]]:
    """Settings from every layer, and the one-line problems met on the way."""
    env = os.environ if env is None else env
    path = path or config_dir(env) / "config.toml"
    problems: list[str] = []
    settings = Settings()
    if path.exists():
        try:
            settings = _apply(settings, tomllib.loads(path.read_text()), str(path), problems)
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as err:
            problems.append(f"{path}: unreadable, defaults used ({err})")
    from_env = {f.name: env[f"XENTUI_{f.name.upper()}"] for f in fields(Settings) if f"XENTUI_{f.name.upper()}" in env}
    settings = _apply(settings, from_env, "environment", problems)
    settings = _apply(settings, {k: v for k, v in (cli or {}).items() if v is not None}, "command line", problems)
    return settings, problems


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


TABLES = ("keys", "alert", "alerts", "guest")  # written as TOML tables, after the plain settings


def save(settings: Settings, path: Path | None = None) -> str | None:
    """Write the settings atomically (xentui/safefile.py: a symlink there is replaced, never followed);
    the error line when that is impossible."""
    path = path or config_dir() / "config.toml"
    text = "# xentui settings, rewritten when you change them in the UI\n" + "".join(
        f"{k} = {_toml_value(v)}\n" for k, v in asdict(settings).items() if k not in TABLES
    ) + "".join(f"{'[keys]' if n == 0 else ''}\n{_toml_value(k)} = {_toml_value(v)}" for n, (k, v) in
                enumerate(settings.keys)) + ("\n" if settings.keys else "") + _alert_toml(settings) + (
        guest_config.toml(settings.guest))
    try:
        safefile.write_atomically(path, text.encode())
    except OSError as err:
        return f"cannot save settings to {path}: {err.strerror}"
    return None


class Saver:
    """``save`` off the caller's thread (the UI's loop: the fsync may take a while), one at a time, in order.

    Its thread is a daemon: a save stuck on a hung file system never keeps xentui from exiting."""

    def __init__(self, path: Path):
        self.path = path
        self._worker = Worker("xentui-config")

    def submit(self, settings: Settings, on_problem: Callable[[str], None]) -> concurrent.futures.Future[None]:
        def run() -> None:
            problem = save(settings, self.path)
            if problem:
                on_problem(problem)

        return self._worker.submit(run)

    def close(self, wait_s: float = 1.0) -> None:
        """Let the saves under way finish, waiting ``wait_s`` at most (the thread is a daemon)."""
        self._worker.shutdown()
        self._worker.join(wait_s)
