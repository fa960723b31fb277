"""The core (sources, model, poller, output, batch) never imports textual or rich."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "xentui"
# cli.py may start the UI (lazily); the runtime test below proves importing it loads no textual.
CORE = ["model.py", "history.py", "recformat.py", "record_main.py", "poller.py", "batch.py", "lab.py", "text.py",
        "sources", "output"]


def core_files():
    for entry in CORE:
        path = PACKAGE / entry
        yield from (sorted(path.rglob("*.py")) if path.is_dir() else [path])


def test_core_source_has_no_textual_import():
    for path in core_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in {"textual", "textual_plotext", "rich", "plotext"}, f"{path}: imports {name}"
                assert not name.startswith("xentui.ui"), f"{path}: imports {name}"


def test_importing_the_core_loads_no_textual():
    modules = ["xentui.model", "xentui.poller", "xentui.batch", "xentui.cli", "xentui.output.xentop", "xentui.text",
               "xentui.output.records", "xentui.sources.libvirt", "xentui.sources.local_machine"]
    code = f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; " \
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
