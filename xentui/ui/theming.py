"""Theme files (TOML) turned into Textual themes with xentui's semantic variables.

A theme file has ``name``, ``dark``, optional ``ansi``, a ``[colors]`` table of Textual's
base colours and a ``[variables]`` table with the meanings xentui colours by:
``dom-running``, ``dom-blocked``, ``dom-paused``, ``dom-crashed``, ``dom-shutdown``,
``level-warn``, ``level-crit``.  Built-in themes ship in the package (``xentui.themes``);
user themes are read from ``~/.config/xentui/themes/*.toml``.  :func:`install_themes` registers
them all on the App and picks the one the settings name (NO_COLOR first).
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import Theme

from xentui import config
from xentui.ui import textual_workarounds

SEMANTIC = ("dom-running", "dom-blocked", "dom-paused", "dom-crashed", "dom-shutdown", "level-warn", "level-crit")
BASE = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel", "success", "warning",
        "error", "boost")
DEFAULT_THEME = "xentui-dark"


class ThemeError(ValueError):
    """A theme file that cannot be used: one line naming the file and the fault."""


def _colour(value: object, where: str) -> str:
    text = str(value)
    if text.startswith("ansi_") or where.endswith("text-style"):
        return text
    try:
        Color.parse(text)
    except ColorParseError:
        raise ThemeError(f"{where}: {text!r} is not a colour (write e.g. \"#5fafd7\" or ansi_red)") from None
    return text


THEME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # shown in menus and messages: a plain word


def parse_theme(text: str, origin: str) -> Theme:
    """A Theme from TOML text; ThemeError names ``origin`` and what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ThemeError(f"{origin}: not valid TOML ({err})") from None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{origin}: needs name = \"...\"")
    if not THEME_NAME.fullmatch(name.strip()):
        raise ThemeError(f"{origin}: name {name!r} may hold only letters, digits, '.', '_' and '-' (e.g. \"my-dark\")")
    colors = data.get("colors", {})
    variables = data.get("variables", {})
    if not isinstance(colors, dict) or not isinstance(variables, dict):
        raise ThemeError(f"{origin}: [colors] and [variables] must be tables")
    unknown = set(colors) - set(BASE)
    if unknown:
        raise ThemeError(f"{origin}: unknown colour {sorted(unknown)[0]!r} in [colors] (known: {', '.join(BASE)})")
    if "primary" not in colors:
        raise ThemeError(f"{origin}: [colors] needs at least primary = \"#rrggbb\"")
    missing = [v for v in SEMANTIC if v not in variables]
    if missing:
        raise ThemeError(f"{origin}: [variables] lacks {', '.join(missing)}")
    return Theme(
        name=name.strip(),
        dark=bool(data.get("dark", True)),
        ansi=bool(data.get("ansi", False)),
        variables={k: _colour(v, f"{origin} [variables] {k}") for k, v in variables.items()},
        **{k: _colour(v, f"{origin} [colors] {k}") for k, v in colors.items()},  # type: ignore[arg-type]
    )


def builtin_themes() -> list[Theme]:
    files = sorted((f for f in resources.files("xentui.themes").iterdir() if f.name.endswith(".toml")),
                   key=lambda f: f.name)
    return [parse_theme(f.read_text(), f.name) for f in files]


def user_themes(directory: Path) -> tuple[list[Theme], list[str]]:
    """Themes from ``directory``, and one error line per file that could not be used (it is skipped)."""
    themes: list[Theme] = []
    errors: list[str] = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.toml")):
            try:
                themes.append(parse_theme(path.read_text(), str(path)))
            except (ThemeError, OSError, UnicodeDecodeError) as err:
                errors.append(str(err))
    return themes, errors


def install_themes(app: App[object], settings: config.Settings) -> list[str]:
    """Register the built-in and user themes and choose the settings' one; the problems met, one line each."""
    for theme in builtin_themes():
        app.register_theme(theme)
    themes, problems = user_themes(config.config_dir() / "themes")
    for theme in themes:
        app.register_theme(theme)
    if app.no_color:  # https://no-color.org (Textual read and removed NO_COLOR)
        app.theme = "no-color"
        textual_workarounds.no_color(app)
    elif settings.theme in app.available_themes:
        app.theme = settings.theme
    else:
        known = ", ".join(sorted(app.available_themes))
        problems.append(f"theme {settings.theme!r} not found (known: {known}); using {DEFAULT_THEME}")
        app.theme = DEFAULT_THEME
    return problems
