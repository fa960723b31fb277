"""The keymap table (xentui/ui/keys.py): ids, help rows, key names, and the user's [keys] checked."""

from xentui.actions import Action
from xentui.ui import keys


def test_every_binding_has_a_unique_id_and_every_help_text_a_row():
    ids = [k.id for k in keys.KEYMAP]
    assert len(ids) == len(set(ids))
    assert {k.binding.tooltip for k in keys.KEYMAP if k.binding.tooltip} == set(keys.HELP_ORDER)
    assert set(keys.DOMAIN_KEY) == {a for a in Action if a is not Action.PIN}  # the menu's actions, each with a key


def test_what_a_dialog_or_a_replay_turns_off_comes_from_the_table():
    assert {"act", "menu", "tag", "untag", "vcpu_view", "pcpu_view", "cache_monitor"} == keys.GUARDED_ACTIONS
    assert {"act", "menu", "tag", "untag", "delay", "pause"} == keys.LIVE_ONLY_ACTIONS
    assert {"replay_toggle", "replay_step", "replay_seek", "replay_jump", "replay_speed"} == keys.REPLAY_ACTIONS


def test_keys_are_shown_as_people_read_them():
    shown = [keys.display(k) for k in ("escape", "question_mark", "f6", "pageup", "ctrl+l", "slash", "space", "A")]
    assert shown == ["Esc", "?", "F6", "PgUp", "Ctrl+L", "/", "Space", "A"]


def test_the_users_keymap_is_checked_one_line_per_bad_entry():
    keymap, problems = keys.check_keymap([("quit", "ctrl+q"), ("help", "?,f5"), ("menu", "x, f10"),
                                          ("nope", "x"), ("filter", "ctrl+"), ("delay", "hyperdrive"),
                                          ("tag", "\x1b"), ("header", ",".join("abcdefghij"))])
    assert keymap == {"quit": "ctrl+q", "help": "question_mark,f5", "menu": "x,f10"}
    assert len(problems) == 5 and all("\n" not in p for p in problems)
    assert "'nope': no such key binding" in problems[0]
    assert all("is not a key" in p for p in problems[1:])
    assert keys.keys_of("quit", keymap) == ["ctrl+q"] and keys.keys_of("quit") == ["q", "Q"]


def test_a_huge_keymap_is_cut_with_one_line():
    keymap, problems = keys.check_keymap([("quit", "q")] * (keys.MAX_ENTRIES + 5))
    assert keymap == {"quit": "q"} and problems[-1].startswith("[keys]: more than")
