"""Theme files, hundreds of bad ones (hypothesis): each is named in one line and skipped, never a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xentui.ui.theming import ThemeError, parse_theme, user_themes

GOOD = '''name = "mine"
[colors]
primary = "#5fafd7"
[variables]
dom-running = "#87d787"
dom-blocked = "#8a8a8a"
dom-paused = "#d7af5f"
dom-crashed = "#ff5f5f"
dom-shutdown = "#af87d7"
level-warn = "#d7af5f"
level-crit = "#ff5f5f"
'''

mutations = st.one_of(
    st.text(max_size=60),
    st.tuples(st.integers(0, len(GOOD)), st.integers(0, 20), st.text(max_size=8)).map(
        lambda m: GOOD[:m[0]] + m[2] + GOOD[m[0] + m[1]:]),
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations)
def test_bad_theme_files_give_one_line(tmp_path_factory, text):
    try:
        theme = parse_theme(text, "mine.toml")
    except ThemeError as err:
        assert str(err).startswith("mine.toml") and "\n" not in str(err)
    else:
        assert theme.name
    directory = tmp_path_factory.mktemp("themes")
    (directory / "mine.toml").write_text(text)
    themes, errors = user_themes(directory)
    assert len(themes) + len(errors) == 1
    assert all("\n" not in e and "mine.toml" in e for e in errors)
