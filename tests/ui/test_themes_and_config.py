"""Themes (built-in, user files, bad files) and settings precedence (CLI > env > file > defaults)."""

from pathlib import Path

import pytest

from tests.ui.harness import messages, running_app
from xentui import config
from xentui.ui.theming import SEMANTIC, ThemeError, builtin_themes, parse_theme, user_themes

from .harness import snapshots
from .waiting import until

GOOD = """
name = "mine"
[colors]
primary = "#112233"
[variables]
""" + "\n".join(f'{v} = "#445566"' for v in SEMANTIC)


def test_builtin_themes_ship_with_every_meaning():
    themes = {t.name: t for t in builtin_themes()}
    assert {"xentui-dark", "xentui-light", "classic", "high-contrast"} <= set(themes)
    for theme in themes.values():
        assert set(SEMANTIC) <= set(theme.variables)
    assert themes["xentui-light"].dark is False and themes["classic"].ansi is True


@pytest.mark.parametrize(
    ("text", "needle"),
    [("name = ", "not valid TOML"), ("[colors]\nprimary='#fff'", "needs name"),
     ('name="[b]x\\u001b"', "may hold only letters"),
     ('name="x"\n[colors]\nprimary="#fff"\nnope="#000"', "unknown colour 'nope'"),
     ('name="x"\n[colors]\nprimary="#fff"\n[variables]', "lacks dom-running"),
     (GOOD.replace('"#445566"', '"bluish"', 1), "'bluish' is not a colour")],
)
def test_bad_theme_is_named_in_one_line(text, needle):
    with pytest.raises(ThemeError) as err:
        parse_theme(text, "/home/me/.config/xentui/themes/x.toml")
    assert needle in str(err.value) and "x.toml" in str(err.value) and "\n" not in str(err.value)


def test_user_themes_load_and_bad_ones_are_skipped(tmp_path):
    (tmp_path / "good.toml").write_text(GOOD)
    (tmp_path / "bad.toml").write_text("name = ")
    themes, errors = user_themes(tmp_path)
    assert [t.name for t in themes] == ["mine"]
    assert len(errors) == 1 and "bad.toml" in errors[0]


async def test_user_theme_selectable_and_theme_switch_persists(config_path, tmp_path):
    themes = tmp_path / "cfg" / "xentui" / "themes"
    themes.mkdir(parents=True)
    (themes / "good.toml").write_text(GOOD)
    (themes / "broken.toml").write_text("name = ")
    settings = config.Settings(theme="mine")
    async with running_app(size=(100, 30), settings=settings, config_path=config_path) as (app, pilot):
        app.snapshot = snapshots()[-1]
        await pilot.pause()
        assert app.theme == "mine"
        assert any("broken.toml" in m for m in messages(app))
        app.theme = "high-contrast"  # what the command palette's theme switcher does
        await pilot.pause()
        await until(pilot, lambda: config.load(app.config_path)[0].theme == "high-contrast", "the theme persisted")


async def test_unknown_theme_falls_back_with_a_line(config_path):
    settings = config.Settings(theme="nope")
    async with running_app(size=(100, 30), settings=settings, config_path=config_path) as (app, pilot):
        await pilot.pause()
        assert app.theme == "xentui-dark"
        assert any("theme 'nope' not found" in m for m in messages(app))


def test_precedence_cli_env_file_defaults(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('delay = 5.0\nsort = "mem"\ntheme = "classic"\ncolumns = ["name", "cpu_pct"]\n')
    settings, problems = config.load(path, env={"XENTUI_DELAY": "2", "XENTUI_SORT": "name"}, cli={"delay": 0.5})
    assert problems == []
    assert settings.delay == 0.5  # CLI
    assert settings.sort == "name"  # environment
    assert settings.theme == "classic" and settings.columns == ("name", "cpu_pct")  # file
    assert settings.cpu_mode == "pcpu"  # default


@pytest.mark.parametrize(
    ("text", "needle"),
    [("delay = ", "unreadable, defaults used"), ("delay = 0.01", "0.2 to 3600"), ("bogus = 1", "unknown setting"),
     ('cpu_mode = "all"', "must be one of pcpu, host"), ("columns = 3", "list of column names"),
     ('reverse = "maybe"', "true or false")],
)
def test_malformed_config_gives_one_line_and_defaults(tmp_path, text, needle):
    path = tmp_path / "config.toml"
    path.write_text(text)
    settings, problems = config.load(path, env={})
    assert len(problems) == 1 and needle in problems[0] and "\n" not in problems[0]
    assert settings == config.Settings()


def test_bad_environment_value_is_reported(tmp_path):
    settings, problems = config.load(tmp_path / "none.toml", env={"XENTUI_DELAY": "fast"})
    assert settings.delay == 3.0 and "environment" in problems[0]


def test_save_round_trips(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    wanted = config.Settings(delay=1.5, sort="name", reverse=False, columns=("name", "mem"), theme="classic",
                             cpu_mode="host")
    assert config.save(wanted, path) is None
    assert config.load(path, env={}) == (wanted, [])


async def test_a_failed_save_is_a_warning_and_the_ui_goes_on(config_path, tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "xentui").write_text("a file where the directory should be")
    async with running_app(size=(100, 30), config_path=config_path) as (app, pilot):
        app.snapshot = snapshots()[-1]
        await pilot.press("i")
        assert app.settings.reverse is False  # applied at once; the save runs in its own thread
        await until(pilot, lambda: any("cannot save settings" in m for m in messages(app)),
                    "a warning that the settings were not saved")
