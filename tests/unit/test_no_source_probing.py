"""No ``getattr``/``hasattr``/``isinstance`` on a source outside ``xentui/sources/``: callers use the
:class:`~xentui.sources.base.Source` contract (its methods answer neutrally, its flags say what it can do).

Found on the syntax tree: a call to one of the three whose first argument names a source
(``source``, ``self.source``, ``self.app.source``, ``src``...).
"""

from __future__ import annotations

import ast
from pathlib import Path

import xentui

PACKAGE = Path(xentui.__file__).parent
PROBES = {"getattr", "hasattr", "isinstance"}


def _names_a_source(node: ast.expr) -> bool:
    text = ast.unparse(node)
    last = text.rsplit(".", 1)[-1]
    return last in ("source", "src") or last.endswith("_source")


def probes(text: str, filename: str = "<text>") -> list[str]:
    """``file:line call`` for each probe of a source in ``text``."""
    found = []
    for node in ast.walk(ast.parse(text, filename)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PROBES
                and node.args and _names_a_source(node.args[0])):
            found.append(f"{filename}:{node.lineno} {ast.unparse(node)}")
    return found


def test_the_check_finds_a_planted_probe() -> None:
    planted = '''
def mode(self):
    if getattr(self.app.source, "readonly", True):
        return hasattr(source, "act") or isinstance(self.source, object)
    return self.source.readonly and getattr(self.table, "x", None)
'''
    assert [p.split(" ", 1)[1] for p in probes(planted)] == [
        "getattr(self.app.source, 'readonly', True)", "hasattr(source, 'act')", "isinstance(self.source, object)"]


def test_no_source_is_probed_outside_the_sources() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("sources/"):
            continue
        found += probes(path.read_text(), relative)
    assert found == [], "probe the Source contract instead:\n" + "\n".join(found)
