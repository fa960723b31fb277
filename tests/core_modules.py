"""The core: every module of a package outside its ``ui`` subpackage, found by walking the files."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = frozenset({"textual", "textual_plotext", "rich", "plotext"})  # the UI's libraries
PACKAGE = Path(__file__).parents[1] / "xentui"


def core_modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``package`` but ``ui/`` and ``__main__``."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[1:2] == ("ui",) or parts[-1] == "__main__":
            continue
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def static_imports(path: Path) -> list[str]:
    """Every module an ``import`` statement in ``path`` names, lazy ones inside functions included."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def ui_imports(path: Path, package: str = "xentui") -> list[str]:
    """The imports of ``path`` that belong to the UI: its libraries or the package's ``ui``."""
    return [n for n in static_imports(path) if n.split(".")[0] in FORBIDDEN or n.startswith(f"{package}.ui")]
