"""The keymap table (xentui/ui/keys.py): ids, help rows, key names, and the user's [keys] checked."""

from xentui.actions import VIEW_ACTIONS, Action
from xentui.ui import keys


def test_every_binding_has_a_unique_id_and_every_help_text_a_row():
    ids = [k.id for k in keys.KEYMAP]
    assert len(ids) == len(set(ids))
    assert {k.binding.tooltip for k in keys.KEYMAP if k.binding.tooltip} == set(keys.HELP_ORDER)
    assert set(keys.DOMAIN_KEY) == {a for a in Action if a not in VIEW_ACTIONS}  # the menu's actions, each with a key


def test_what_a_dialog_or_a_replay_turns_off_comes_from_the_table():
    assert {"act", "menu", "tag", "untag", "vcpu_view", "pcpu_view", "sched_view",
            "cache_monitor"} == keys.GUARDED_ACTIONS
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


def test_key_names_are_the_ones_textuals_key_events_carry():
    for entry, wanted in [("+", "plus"), ("-", "minus"), ("plus_sign", "plus"), ("hyphen_minus", "minus"),
                          ("F5,F12", "f5,f12"), ("ctrl+Q", "ctrl+q"), ("CTRL+Shift+Up", "ctrl+shift+up"),
                          ("alt+Q", "alt+shift+q"), ("~", "tilde"), ("Tab", "tab"), ("W", "W")]:
        keymap, problems = keys.check_keymap([("delay", entry)])  # delay: live only, so + and - are free
        assert (keymap, problems) == ({"delay": wanted}, []), entry


def test_a_key_that_can_never_fire_is_refused_saying_what_would():
    _keymap, problems = keys.check_keymap([("sort", "shift+s"), ("invert", "shift+1"), ("filter", "ctrl+shift+wat")])
    assert problems == [
        "[keys] sort = 'shift+s': 'shift+s' never fires: the terminal sends the shifted character; write \"S\"",
        "[keys] invert = 'shift+1': 'shift+1' never fires: the terminal sends the shifted character; "
        "write the character shift types (e.g. \"?\")",
        "[keys] filter = 'ctrl+shift+wat': 'ctrl+shift+wat' is not a key "
        "(write e.g. \"ctrl+q\", \"f5\", \"x\" or \"x,f9\"; 8 keys at most)"]


def test_a_key_another_id_has_at_the_same_time_is_refused():
    keymap, problems = keys.check_keymap([("quit", "t"), ("header", "F1")])
    assert keymap == {} and problems == [
        "[keys] quit = 't': t is already cpu_mode's key, so quit keeps q, Q "
        "(rebind cpu_mode too, or choose a free key)",
        "[keys] header = 'f1': F1 is already help's key, so header keeps r, R (rebind help too, or choose a free key)"]
    swapped, problems = keys.check_keymap([("quit", "t"), ("cpu_mode", "q")])  # both move: no clash
    assert swapped == {"quit": "t", "cpu_mode": "q"} and problems == []
    # never on together (live / replay), or already shared by the table itself (Home): no clash either
    shared, problems = keys.check_keymap([("replay_toggle", "p"), ("top", "home,ctrl+home")])
    assert shared == {"replay_toggle": "p", "top": "home,ctrl+home"} and problems == []


def test_textuals_keymap_puts_back_the_ids_sharing_a_rebound_key():
    """Textual's apply_keymap drops a rebound id's old and new keys whole: the others on them are listed again."""
    assert keys.textual_keymap({"replay_toggle": "P"}) == {"replay_toggle": "P", "tag": "space", "freeze": "z,Z"}
    assert keys.textual_keymap({"replay_toggle": "p"})["pause_domain"] == "p"  # the new key's owner too
    assert keys.textual_keymap({"quit": "ctrl+q"}) == {"quit": "ctrl+q"}  # nothing shared


def test_the_help_order_is_the_tables_with_the_few_rows_placed_elsewhere():
    rows = keys.HELP_ORDER
    assert rows[:3] == (keys.QUIT_HELP, keys.MOVE_HELP, keys.BY_ID["sort"].binding.tooltip)
    help_row, first_replay_row = (rows.index(keys.BY_ID[i].binding.tooltip) for i in ("help", "replay_toggle"))
    assert help_row == first_replay_row - 1  # the help last of the live rows, as the footer does not have it
    assert keys.key_hint("cache_monitor") == "A"
    assert keys.key_hint("cache_monitor", {"cache_monitor": "ctrl+a"}) == "Ctrl+A"
