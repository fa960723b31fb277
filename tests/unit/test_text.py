"""xentui.text: outside text made visible, one-to-one, and safe in CSV."""

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from xentui.text import csv_cell, one_line, visible

HIDDEN_IN_OUTPUT = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
# Names an attacker would pick to imitate "web01" or to steer a terminal.
HOSTILE = ["web01\x1b]0;pwned\x07", "web01\r", "\x1b[2Jweb01", "web\u202e10", "web01\u200b", "web\u009b31m01",
           "web01\u00a0", "web\u2028 01", "\u3164web01", "web01\ufe0f", "web\x00 01", "web01\x7f"]


@given(st.text())
def test_no_control_format_or_separator_char_survives(s):
    out = visible(s)
    assert not [c for c in out if unicodedata.category(c) in HIDDEN_IN_OUTPUT]
    assert all(c == " " or unicodedata.category(c) != "Zs" for c in out)


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_printable_ascii_is_unchanged(s):
    assert visible(s) == s


@given(st.text(), st.text())
def test_distinct_names_look_distinct(a, b):
    if a != b:
        assert visible(a) != visible(b)


TRICKY = st.text(alphabet=st.sampled_from("web01^[<U+>␛⟨⟩\x1b\u202e\u241b\u27e8 "))


@given(TRICKY, TRICKY)
def test_distinct_even_from_the_tokens_typed_as_text(a, b):
    if a != b:
        assert visible(a) != visible(b)


def test_hostile_names_never_look_like_the_name_they_imitate():
    shown = [visible(name) for name in HOSTILE]
    assert "web01" not in shown and "web 01" not in shown
    assert len(set(shown)) == len(HOSTILE)
    assert visible("web01\x1b]0;pwned\x07") == "web01␛]0;pwned␇"
    assert visible("web\u202e10") == "web⟨U+202E⟩10"
    assert visible("\u241b") == "⟨U+241B⟩" and visible("⟨") == "⟨U+27E8⟩"
    assert visible("日本語-vm") == "日本語-vm"  # ordinary non-ASCII names stay as they are


def test_a_long_name_is_converted_without_the_cache():
    name = "\x1b" * 10_000
    assert visible(name) == "␛" * 10_000


def test_messages_become_one_visible_line():
    shown = one_line("error: bad\n  thing\x1b[31m\r\n")
    assert shown == "error: bad␊  thing␛[31m"
    assert one_line(shown) is shown and visible(shown) is shown  # never converted twice


def test_csv_cell_neutralises_formulas_one_to_one():
    assert csv_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert [csv_cell(s) for s in ("+1", "-1", "@SUM(A1)", "\tx", "\rx")] == ["'+1", "'-1", "'@SUM(A1)", "'␉x", "'␍x"]
    assert csv_cell("'=1") == "''=1" != csv_cell("=1")  # a name that already starts with ' stays distinct
    assert csv_cell("web01") == "web01"


@given(st.text(), st.text())
def test_csv_cells_stay_distinct(a, b):
    if a != b:
        assert csv_cell(a) != csv_cell(b)


def test_brief_cuts_a_long_value_and_says_how_long_it_was():
    from xentui.text import brief

    assert brief("running") == "'running'"
    long = brief("r" * 100_000)
    assert long == "'" + "r" * 79 + "… (100002 characters)"


def test_first_line_of_an_error_or_its_type_when_it_has_no_words():
    from xentui.text import first_line

    assert first_line(OSError("disk full\nmore")) == "disk full"
    assert first_line(ValueError("  \n")) == "ValueError"


def test_a_uris_password_never_reaches_a_message():
    from xentui.text import hide_password

    assert hide_password("prometheus+http://me:hunter2@prom:99999/x") == "prometheus+http://me:***@prom:99999/x"
    assert hide_password("qemu+ssh://root@kvm1/system") == "qemu+ssh://root@kvm1/system"
    assert hide_password("prometheus+http://p:9090/q?a=b:c@d") == "prometheus+http://p:9090/q?a=b:c@d"
