"""The core (every module outside xentui/ui/) names no textual, rich or plotext in any import.

Only the command line may start the UI, lazily: the fresh-interpreter test in tests/process proves
that importing it loads none of them.
"""

from __future__ import annotations

from tests.core_modules import PACKAGE, core_modules, ui_imports


def test_the_walk_finds_the_core_and_leaves_the_ui_out():
    found = core_modules()
    assert {"xentui.model", "xentui.model.rates", "xentui.actions", "xentui.config", "xentui.cpulist",
            "xentui.units", "xentui.output.xentop"} <= found.keys()
    assert not [name for name in found if name.startswith("xentui.ui")]
    assert len(found) == len([p for p in PACKAGE.rglob("*.py") if "ui" not in p.relative_to(PACKAGE).parts[:1]
                              and p.name != "__main__.py"])


STARTS_THE_UI = "xentui.cli"  # the module, or the package of commands


def test_no_core_module_imports_the_ui_or_its_libraries():
    offenders = {}
    for name, path in core_modules().items():
        names = ui_imports(path)
        if name == STARTS_THE_UI or name.startswith(f"{STARTS_THE_UI}."):
            names = [n for n in names if not n.startswith("xentui.ui")]
        if names:
            offenders[name] = names
    assert offenders == {}


def test_a_planted_ui_import_is_caught(tmp_path):
    package = tmp_path / "xentui"
    (package / "ui").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "ui" / "app.py").write_text("import textual\n")  # the UI may
    (package / "clean.py").write_text("import json\n")
    (package / "sneaky.py").write_text("def later():\n    from rich.text import Text\n    return Text\n")
    (package / "widgets.py").write_text("from xentui.ui.app import App\n")
    found = core_modules(package)
    assert sorted(found) == ["xentui", "xentui.clean", "xentui.sneaky", "xentui.widgets"]
    offenders = {name: ui_imports(path) for name, path in found.items() if ui_imports(path)}
    assert offenders == {"xentui.sneaky": ["rich.text"], "xentui.widgets": ["xentui.ui.app"]}
