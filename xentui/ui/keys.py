"""The one keymap: every key of xentui declared once, as a Textual ``Binding`` with an id.

The App's and the table's ``BINDINGS``, the help (rows of the active bindings' ``tooltip``, the text
shown on hover in the footer too), which actions a dialog or a replay turns off, the action menu's keys
and the command palette all read this table.  Users rebind by id in ``config.toml``::

    [keys]
    quit = "ctrl+q"
    pause_domain = "P"

applied with ``App.set_keymap``; :func:`check_keymap` turns a bad entry into one problem line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import KEY_NAME_REPLACEMENTS, Keys, format_key, key_to_character

from xentui.actions import Action
from xentui.ui.textual_workarounds import character_to_key


@dataclass(frozen=True)
class Key:
    """One binding of the keymap and where it may act."""

    binding: Binding
    guarded: bool = False  # never while a dialog is open (keys typed before the dialog has the focus)
    live_only: bool = False  # off in a replay: a recording cannot be acted on, its pace is its own
    replay_only: bool = False  # on in a replay only
    fleet_only: bool = False  # on only when a fleet is watched
    alerts_only: bool = False  # on only when alert rules are configured (live, replay or fleet)
    domain: tuple[Action, ...] = ()  # the domain actions it requests (the action menu's keys)
    help_after: str = ""  # the help lists it after this id's row (elsewhere than the footer has it)

    @property
    def modes(self) -> frozenset[str]:
        """Where it is on: "live", "replay", "fleet" (a fleet watched live), "alerts" (any of them, with alert rules);
        two ids may share a key only if never on together (:func:`together`)."""
        if self.alerts_only:
            return frozenset(("alerts",))
        if self.fleet_only:
            return frozenset(("fleet",))
        return frozenset(("live", "fleet") if self.live_only else ("replay",) if self.replay_only
                         else ("live", "replay", "fleet"))

    @property
    def id(self) -> str:
        assert self.binding.id is not None
        return self.binding.id

    @property
    def action(self) -> str:
        """The action's name, without its parameters: what ``check_action`` is given."""
        return self.binding.action.split("(", 1)[0]


def _key(keys: str, action: str, description: str = "", *, id: str, help: str = "", show: bool = True,
         key_display: str | None = None, priority: bool = False, **where: object) -> Key:
    binding = Binding(keys, action, description, show=show and bool(description), key_display=key_display,
                      priority=priority, tooltip=help, id=id)
    return Key(binding, **where)  # type: ignore[arg-type]


QUIT_HELP = "quit (Esc first clears a filter)"
MOVE_HELP = "move in the table"
SORT_HELP = "sort by the previous / next column"

# The live view's keys, in the App's BINDINGS order (the footer shows the described ones in this order).
APP_KEYS: tuple[Key, ...] = (
    _key("q,Q", "quit", "Quit", id="quit", help=QUIT_HELP),
    _key("escape", "escape", id="escape", help=QUIT_HELP),
    _key("f1,question_mark", "help", "Help", id="help", help="this help", help_after="command_palette"),
    # in a fleet, third in the footer: at 120 columns the footer ends after pCPUs
    _key("f,F", "hosts", "Hosts", key_display="f", id="hosts", fleet_only=True, help_after="vcpu_view",
         help="the fleet's hosts, sick first: Enter opens one alone (its header, domains, views, actions), "
              "Esc returns; Enter on a domain opens its host"),
    _key("s,S", "sort(1)", "Sort", show=False, id="sort", help="sort by the next column (xentop)"),
    _key("less_than_sign", "sort(-1)", id="sort_previous", help=SORT_HELP),
    _key("greater_than_sign,f6", "sort(1)", "Sort", key_display="> F6", id="sort_next", help=SORT_HELP),
    _key("i,I", "invert", "Invert", show=False, id="invert", help="invert the sort order"),
    _key("slash", "filter", "Filter", key_display="/", id="filter",
         help="filter by name: substring or regular expression (empty clears)"),
    _key("t", "cpu_mode", "CPU%", id="cpu_mode",
         help="CPU(%): % of one pCPU (xentop) or % of the whole host (virt-top)"),
    _key("d,D", "delay", "Delay", id="delay", help="delay between updates, 0.2 to 3600 s", live_only=True),
    _key("space", "tag", "Tag", id="tag", guarded=True, live_only=True,
         help="tag / untag the selected domain (actions apply to tagged domains, else the selected one)"),
    _key("u,U", "untag", id="untag", help="untag every domain", guarded=True, live_only=True),
    _key("z,Z", "pause", "Freeze", key_display="z", id="freeze", help="pause / resume updates", live_only=True),
    _key("x,f9", "menu", "Act", key_display="x", id="menu", guarded=True, live_only=True,
         help="action menu: the actions offered for the domain's state (needs --write)"),
    _key("p", "act('pause,resume')", id="pause_domain", help="pause / resume the domain", guarded=True,
         live_only=True, domain=(Action.PAUSE, Action.RESUME)),
    _key("o", "act('shutdown')", id="shutdown", help="shut down (ACPI; asks y/n)", guarded=True, live_only=True,
         domain=(Action.SHUTDOWN,)),
    _key("e", "act('reboot')", id="reboot", help="reboot (asks y/n)", guarded=True, live_only=True,
         domain=(Action.REBOOT,)),
    _key("k", "act('destroy')", id="destroy", help="destroy: force off (asks you to type the domain's name)",
         guarded=True, live_only=True, domain=(Action.DESTROY,)),
    _key("m", "act('balloon')", id="balloon", help="set balloon memory (e.g. 512M)", guarded=True, live_only=True,
         domain=(Action.BALLOON,)),
    _key("g", "act('start')", id="start", help="start a defined domain that is off", guarded=True, live_only=True,
         domain=(Action.START,)),
    _key("M", "act('migrate')", id="migrate", guarded=True, live_only=True, fleet_only=True, domain=(Action.MIGRATE,),
         help="live-migrate to another libvirt host of the fleet (choose it, then type its name)"),
    _key("A", "cache_monitor", id="cache_monitor", guarded=True, domain=(Action.CACHE_ATTACH, Action.CACHE_DETACH),
         help="attach / detach Cache QoS monitoring of the domain (xl psr-cmt-attach, a resctrl group)"),
    _key("l,L", "detail('cache')", "LLC", show=False, id="detail_cache",
         help="Cache QoS of the selected domain per socket: LLC held, % of that L3, memory bandwidth"),
    _key("n,N", "detail('nets')", "Nets", show=False, id="detail_nets",
         help="network lines of the selected domain (xentop -n)"),
    _key("b,B", "detail('vbds')", "VBDs", show=False, id="detail_vbds",
         help="block device lines of the selected domain (xentop -x)"),
    _key("v", "detail('vcpus')", "vCPUs", show=False, id="detail_vcpus",
         help="vCPU line of the selected domain (xentop -v)"),
    _key("enter,V", "vcpu_view", "vCPUs", key_display="Enter", id="vcpu_view", guarded=True,
         help="vCPU view of the selected domain: placement matrix, pin (p), all vCPUs (a), config too (c)"),
    _key("1", "pcpu_view", "pCPUs", id="pcpu_view", guarded=True, help_after="host_charts",
         help="pCPU view: use of each physical CPU and the vCPUs on it, by NUMA node (virt-top -1)"),
    _key("w", "sched_view", id="sched_view", guarded=True, help_after="pcpu_view",
         help="scheduler view: cpupools, their schedulers and pCPUs, each domain's weight, cap, RTDS budgets, "
              "KVM shares and quotas; e edits, m moves to another cpupool (--write)"),
    _key("h", "charts", "Charts", id="charts",
         help="charts of the selected domain: CPU % per vCPU, memory, network, disk (history)"),
    _key("H", "host_charts", id="host_charts",
         help="charts of the host: CPU busy, memory used, all domains' network and disk"),
    _key("exclamation_mark", "alerts", id="alerts", help_after="host_charts", alerts_only=True,
         help="alerts: firing and resolved, since when, the values that fired them; Enter selects the domain "
              "(on when alert rules are configured)"),
    _key("r,R", "header", id="header", help="show / hide the table header"),
    _key("c,f2", "choose_columns", "Columns", key_display="c", id="columns", help="choose columns"),
    _key("ctrl+l", "repaint", id="repaint", help="repaint"),
    _key("ctrl+p", "command_palette", "palette", show=False, priority=True, id="command_palette",
         help="command palette: change theme, ..."),
)

# The replay's keys: on (and so shown) only while ``app.replaying``.
REPLAY_KEYS: tuple[Key, ...] = (
    _key("space,z,Z", "replay_toggle", "Play/pause", key_display="Space", id="replay_toggle",
         help="replay: play / pause", replay_only=True),
    _key("comma", "replay_step(-1)", "Back", key_display=",", id="replay_back",
         help="replay: one tick back / forward (pauses)", replay_only=True),
    _key("full_stop", "replay_step(1)", "Step", key_display=".", id="replay_step",
         help="replay: one tick back / forward (pauses)", replay_only=True),
    _key("left_square_bracket", "replay_seek(-10)", "-10s", key_display="[", id="replay_back_10s",
         help="replay: 10 s / 60 s back / forward", replay_only=True),
    _key("right_square_bracket", "replay_seek(10)", "+10s", key_display="]", id="replay_forward_10s",
         help="replay: 10 s / 60 s back / forward", replay_only=True),
    _key("left_curly_bracket", "replay_seek(-60)", id="replay_back_60s", help="replay: 10 s / 60 s back / forward",
         replay_only=True),
    _key("right_curly_bracket", "replay_seek(60)", id="replay_forward_60s",
         help="replay: 10 s / 60 s back / forward", replay_only=True),
    _key("home", "replay_jump(0)", priority=True, id="replay_first", help="replay: first / last tick",
         replay_only=True),  # priority: before the table's Home, in a replay only
    _key("end", "replay_jump(-1)", priority=True, id="replay_last", help="replay: first / last tick",
         replay_only=True),
    _key("minus", "replay_speed(-1)", "Slower", key_display="-", id="replay_slower",
         help="replay: slower / faster (x0.25 to x64)", replay_only=True),
    _key("plus,equals_sign", "replay_speed(1)", "Faster", key_display="+", id="replay_faster",
         help="replay: slower / faster (x0.25 to x64)", replay_only=True),
)

# The domain table's own keys (focused: they come first); Home and End are not in the help.
TABLE_KEYS: tuple[Key, ...] = (
    _key("up", "move(-1)", id="up", help=MOVE_HELP, help_after="quit"),
    _key("down", "move(1)", id="down", help=MOVE_HELP),
    _key("pageup", "page(-1)", id="page_up", help=MOVE_HELP),
    _key("pagedown", "page(1)", id="page_down", help=MOVE_HELP),
    _key("home", "move(-1000000)", id="top"),
    _key("end", "move(1000000)", id="bottom"),
)

# Mouse gestures have no binding: the help shows them after the row they follow.
MOUSE_HELP = {"invert the sort order": ("click header", "sort by that column (again: invert)")}

KEYMAP: tuple[Key, ...] = (*APP_KEYS, *REPLAY_KEYS, *TABLE_KEYS)
BY_ID: dict[str, Key] = {k.id: k for k in KEYMAP}
APP_BINDINGS = [k.binding for k in (*APP_KEYS, *REPLAY_KEYS)]
TABLE_BINDINGS = [k.binding for k in TABLE_KEYS]
GUARDED_ACTIONS = frozenset(k.action for k in KEYMAP if k.guarded)
LIVE_ONLY_ACTIONS = frozenset(k.action for k in KEYMAP if k.live_only)
REPLAY_ACTIONS = frozenset(k.action for k in KEYMAP if k.replay_only)
FLEET_ACTIONS = frozenset(k.action for k in KEYMAP if k.fleet_only and not k.domain)
ALERTS_ACTIONS = frozenset(k.action for k in KEYMAP if k.alerts_only)
FLEET_DOMAIN_ACTIONS = frozenset(a.value for k in KEYMAP if k.fleet_only for a in k.domain)  # migrate
DOMAIN_KEY: dict[Action, str] = {a: k.id for k in KEYMAP for a in k.domain}  # action -> binding id


def fleet_only(action: str, parameters: tuple[object, ...]) -> bool:
    """Whether an action (as ``check_action`` gets it) is on in a fleet only: a fleet key's, or ``act`` of domain
    actions only a fleet offers (M: ``act('migrate')``; the other domain keys share the name ``act``)."""
    if action in FLEET_ACTIONS:
        return True
    return action == "act" and bool(parameters) and set(str(parameters[0]).split(",")) <= FLEET_DOMAIN_ACTIONS


def _help_sequence() -> list[str]:
    """The ids in the help's order: the table's, but for the few declared ``help_after`` another id."""
    order = [k.id for k in KEYMAP if not k.help_after]
    for k in KEYMAP:
        if k.help_after:
            order.insert(order.index(k.help_after) + 1, k.id)
    return order


# The help's rows, in this order (a row: the keys sharing one help text, in KEYMAP order).
HELP_ORDER: tuple[str, ...] = tuple(dict.fromkeys(t for i in _help_sequence() if (t := BY_ID[i].binding.tooltip)))
POSITION = {k.id: n for n, k in enumerate(KEYMAP)}

# --- key names as people read them -------------------------------------------------------

NAMES = {"escape": "Esc", "up": "Up", "down": "Down", "left": "Left", "right": "Right", "pageup": "PgUp",
         "pagedown": "PgDn", "home": "Home", "end": "End", "space": "Space", "enter": "Enter", "tab": "Tab",
         "backspace": "Backspace", "delete": "Del", "insert": "Ins"}


def display(key: str) -> str:
    """``ctrl+l`` -> ``Ctrl+L``, ``question_mark`` -> ``?``, ``f6`` -> ``F6``, ``pageup`` -> ``PgUp``."""
    *modifiers, name = key.split("+")
    shown = NAMES.get(name) or (name.upper() if re.fullmatch(r"f\d{1,2}", name) else format_key(name))
    if modifiers and len(shown) == 1:
        shown = shown.upper()
    return "+".join([*(m.capitalize() for m in modifiers), shown])


def keys_of(key_id: str, keymap: Mapping[str, str] | None = None) -> list[str]:
    """The keys bound to ``key_id``, the user's keymap first."""
    keys = (keymap or {}).get(key_id) or BY_ID[key_id].binding.key
    return [k.strip() for k in keys.split(",") if k.strip()]


def key_hint(key_id: str, keymap: Mapping[str, str] | None = None) -> str:
    """The first key of ``key_id`` as people read it: what a "press A to attach" names."""
    return display(keys_of(key_id, keymap)[0])


# --- the user's keymap ---------------------------------------------------------------------

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
KEY_NAMES = frozenset(k.value for k in Keys) | frozenset(KEY_NAME_REPLACEMENTS.values())  # + "plus", "minus"
MAX_KEYS = 8  # keys per binding
MAX_ENTRIES = 100
NOT_A_KEY = "is not a key"


def _normal(key: str) -> str:
    """One key named as Textual's key events name it (``?`` -> ``question_mark``, ``+`` -> ``plus``,
    ``F1`` -> ``f1``, ``ctrl+Q`` -> ``ctrl+q``); ValueError: why it can never fire."""
    *modifiers, name = key.split("+") if len(key) > 1 else [key]
    modifiers = [m.lower() for m in modifiers]
    if any(m not in MODIFIERS for m in modifiers) or not name:
        raise ValueError(NOT_A_KEY)
    if len(name) > 1:
        name = name.lower()
        character = key_to_character(name)  # plus_sign, hyphen_minus: Unicode's names for Textual's plus, minus
        if character is not None and len(character) == 1 and character.isprintable():
            name = character
        elif name not in KEY_NAMES:
            raise ValueError(NOT_A_KEY)
    if len(name) == 1:
        if not name.isprintable():
            raise ValueError(NOT_A_KEY)
        if modifiers == ["shift"]:
            right = f'"{name.upper()}"' if name.isalpha() else "the character shift types (e.g. \"?\")"
            raise ValueError(f"never fires: the terminal sends the shifted character; write {right}")
        if modifiers and name.isalpha():  # ctrl+Q arrives as ctrl+q, alt+Q as alt+shift+q
            if name.isupper() and "alt" in modifiers:
                modifiers.append("shift")
            name = name.lower()
        name = character_to_key(name)
    return "+".join([*sorted(set(modifiers)), name])


def together(a: Key, b: Key) -> bool:
    """Whether two keys can be on at the same time (an "alerts" key is, with rules, in every mode)."""
    return bool(a.modes & b.modes) or "alerts" in a.modes | b.modes


def _clash(key_id: str, keymap: Mapping[str, str]) -> tuple[str, str] | None:
    """(key, other id) when a key of ``key_id`` in ``keymap`` is another id's that can be on at the same time
    (a key the table itself gives both, like Home, is no clash)."""
    me = BY_ID[key_id]
    for key in keys_of(key_id, keymap):
        for other in KEYMAP:
            if (other.id != key_id and together(other, me) and key in keys_of(other.id, keymap)
                    and not (key in keys_of(key_id) and key in keys_of(other.id))):
                return key, other.id
    return None


def check_keymap(entries: Iterable[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """The usable ``[keys]`` entries (id -> keys in long form) and one line per entry that is not."""
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for n, (key_id, keys) in enumerate(entries):
        if n >= MAX_ENTRIES:
            problems.append(f"[keys]: more than {MAX_ENTRIES} entries; the rest are ignored")
            break
        if key_id not in BY_ID:
            near = ", ".join(sorted(i for i in BY_ID if i.startswith(key_id[:3]))[:5]) or "see the README"
            problems.append(f"[keys] {key_id[:40]!r}: no such key binding (e.g. {near})")
            continue
        wanted = [k.strip() for k in keys.split(",")] if len(keys) <= 100 else []
        normal: list[str] = []
        try:
            if not wanted or len(wanted) > MAX_KEYS:
                raise ValueError(NOT_A_KEY)
            for key in wanted:
                normal.append(_normal(key))
        except ValueError as why:
            bad = wanted[len(normal)] if len(normal) < len(wanted) else keys
            problems.append(f"[keys] {key_id} = {keys[:40]!r}: {bad[:20]!r} {why}" + (
                f" (write e.g. \"ctrl+q\", \"f5\", \"x\" or \"x,f9\"; {MAX_KEYS} keys at most)"
                if str(why) == NOT_A_KEY else ""))
            continue
        keymap[key_id] = ",".join(dict.fromkeys(normal))
    while clash := next(((i, c) for i in keymap if (c := _clash(i, keymap))), None):  # refuse, then look again
        key_id, (key, other) = clash
        problems.append(f"[keys] {key_id} = {keymap.pop(key_id)!r}: {display(key)} is already {other}'s key, so "
                        f"{key_id} keeps {', '.join(map(display, keys_of(key_id)))} "
                        f"(rebind {other} too, or choose a free key)")
    return keymap, problems


def textual_keymap(keymap: Mapping[str, str]) -> dict[str, str]:
    """What to give ``App.set_keymap`` for the user's ``keymap``: Textual's ``apply_keymap`` drops a rebound
    binding's old and new keys whole, with every other binding on them; those others, listed with their own
    keys, are put back."""
    out = dict(keymap)
    todo = list(keymap)
    while todo:
        key_id = todo.pop()
        touched = {*keys_of(key_id), *keys_of(key_id, keymap)}
        for k in KEYMAP:
            if k.id not in out and touched & set(keys_of(k.id)):
                out[k.id] = k.binding.key
                todo.append(k.id)
    return out
