"""Importing every core module (outside xentui/ui/) in a fresh interpreter loads no textual, rich or plotext."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.core_modules import FORBIDDEN, core_modules

# Imports the modules one by one; prints each module after whose import a UI library is first loaded.
CHECK = """
import importlib, sys
forbidden, found = set(sys.argv[1].split(",")), []
for name in sys.argv[2:]:
    before = {m.split(".")[0] for m in sys.modules} & forbidden
    importlib.import_module(name)
    if ({m.split(".")[0] for m in sys.modules} & forbidden) - before:
        found.append(name)
print(" ".join(found))
"""


def ui_loaders(modules: list[str], path: Path | None = None) -> list[str]:
    env_path = [str(path)] if path is not None else []
    code = f"import sys; sys.path[:0] = {env_path!r}\n" + CHECK
    run = subprocess.run([sys.executable, "-c", code, ",".join(sorted(FORBIDDEN)), *modules], capture_output=True,
                         text=True, timeout=120, check=True)
    return run.stdout.split()


def test_importing_the_core_loads_no_textual():
    modules = sorted(core_modules())
    assert "xentui.cli" in modules and "xentui.sources.libvirt" in modules
    assert ui_loaders(modules) == []


def test_a_planted_module_that_loads_rich_is_named(tmp_path):
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "clean.py").write_text("import json\n")
    (package / "loads_rich.py").write_text("import rich.text\n")
    found = core_modules(package)
    assert ui_loaders(sorted(found), tmp_path) == ["planted.loads_rich"]
