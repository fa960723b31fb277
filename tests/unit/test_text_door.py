"""Every string a widget shows goes through xentui/ui/literal.py: checked in the source, so no screen forgets."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).parents[2] / "xentui" / "ui"
DOOR = UI / "literal.py"
# Calls whose first argument a widget shows: it must be Content made by the door, never a str built here.
SHOWN = {"update", "Static", "Label", "Option", "Button", "PromptScreen", "ConfirmScreen", "ActionMenu"}
BUILT = (ast.JoinedStr, ast.BinOp)  # f"..{name}..", "a" + name, "%s" % name


def ui_files() -> list[Path]:
    return sorted(p for p in UI.rglob("*.py") if p != DOOR)


def called(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def is_format(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def problems(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and node.module == "textual.markup":
            out.append(f"{where}: textual.markup (escape() misses forms; use xentui.ui.literal)")
        if not isinstance(node, ast.Call):
            continue
        name = called(node)
        if name in ("Content", "from_markup", "assemble", "Text"):
            out.append(f"{where}: {name}() outside the door")
        first = node.args[0] if node.args else None
        built = first is not None and (isinstance(first, BUILT) or is_format(first))
        if name in SHOWN and (built or (isinstance(first, ast.Constant) and first.value)):
            out.append(f"{where}: {name}() given a str: give it literal(...) or markup(...)")
        if name == "markup" and built:
            out.append(f"{where}: a markup template built from values: pass them as $name")
    return out


def test_widgets_show_only_what_the_door_made():
    found = [p for path in ui_files() for p in problems(path)]
    assert found == []


def test_the_check_finds_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from textual.markup import escape\n"
                   "Static(f'[b]{name}[/b]')\nw.update('[b]x[/b]')\nLabel(Content(name))\nmarkup(f'[b]{name}')\n"
                   "Option('x' + name)\n")
    assert len(problems(bad)) == 6
