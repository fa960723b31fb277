"""Bad input, hundreds of cases each (hypothesis): one clear line, never a traceback, never an action."""

from __future__ import annotations

import contextlib
import io
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xentui import cli, config
from xentui.actions import ActionError, parse_memory_kib
from xentui.cpulist import CpuListError, parse_cpulist
from xentui.poller import MAX_DELAY, MIN_DELAY, check_delay

# derandomize: CI runs exactly the cases checked here (a new random failure must not block a landing unseen)
MANY = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
NODES = {0: frozenset({0, 1, 2, 3}), 1: frozenset({4, 5, 6, 7})}
cpu_text = st.one_of(st.text(max_size=30), st.text(alphabet="0123456789,-^ :nodesall", max_size=20))


def one_line(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message and "Traceback" not in message


@MANY
@given(st.one_of(st.text(max_size=20), st.floats(allow_nan=True, allow_infinity=True).map(str)))
def test_delay_values(text):
    try:
        seconds = check_delay(text)
    except ValueError as err:
        assert one_line(str(err)) and "e.g. 1.5" in str(err)
    else:
        assert MIN_DELAY <= seconds <= MAX_DELAY


@MANY
@given(cpu_text)
def test_cpu_lists(text):
    try:
        cpus = parse_cpulist(text, 8, NODES)
    except CpuListError as err:
        assert one_line(str(err)) and ("write" in str(err) or "host has" in str(err) or "e.g." in str(err))
    else:
        assert cpus <= frozenset(range(8))


@MANY
@given(st.text(alphabet=string.printable, max_size=12))
def test_memory_sizes(text):
    try:
        kib = parse_memory_kib(text)
    except ActionError as err:
        assert one_line(str(err)) and "write e.g. 512M" in str(err)
    else:
        assert kib > 0


toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.lists(inner, max_size=3), max_leaves=5)


def as_toml(data: dict) -> str:
    lines = []
    for key, value in data.items():
        rendered = repr(value).replace("True", "true").replace("False", "false").replace("'", '"')
        lines.append(f'"{key}" = {rendered}')
    return "\n".join(lines)


@MANY
@given(st.one_of(
    st.text(max_size=80),
    st.dictionaries(st.sampled_from(["delay", "sort", "reverse", "columns", "theme", "cpu_mode", "colour"]),
                    toml_values, max_size=4).map(as_toml)))
def test_config_files(tmp_path_factory, text):
    path = Path(tmp_path_factory.mktemp("cfg")) / "config.toml"
    path.write_text(text)
    loaded, problems = config.load(path, env={})
    assert isinstance(loaded, config.Settings)
    assert all(one_line(p) and str(path) in p for p in problems)
    assert MIN_DELAY <= loaded.delay <= MAX_DELAY


@MANY
@given(st.dictionaries(st.sampled_from(["XENTUI_DELAY", "XENTUI_SORT", "XENTUI_REVERSE", "XENTUI_COLUMNS",
                                        "XENTUI_CPU_MODE"]), st.text(max_size=12), max_size=3))
def test_environment_settings(tmp_path_factory, env):
    loaded, problems = config.load(Path(tmp_path_factory.mktemp("none")) / "absent.toml", env=env)
    assert isinstance(loaded, config.Settings)
    assert all(one_line(p) and p.startswith("environment: ") for p in problems)


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return code, err.getvalue()


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=12).filter(lambda t: not t.startswith("-")))
def test_bad_delay_on_the_command_line(text):
    try:
        check_delay(text)
    except ValueError:
        code, err = run_cli(["-b", "-c", "synthetic://3", "-i", "1", "-d", text])
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    else:
        pass  # a good delay: not a bad-input case


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=15).map(
        lambda s: f"synthetic://{s}"),
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8).filter(
        lambda s: s not in ("qemu", "xen", "test", "lxc", "ch", "vbox", "bhyve", "vz", "openvz", "esx", "vpx",
                            "gsx", "hyperv", "phyp", "uml", "libxl", "remote", "network", "nodedev", "storage",
                            "secret", "nwfilter", "interface")).map(lambda s: f"{s}:///system"),
))
def test_bad_uris_give_one_line(uri):
    code, err = run_cli(["-b", "-c", uri, "-i", "1"])
    if code == 0:
        return  # a good URI, e.g. synthetic://12
    assert code in (1, 2) and err.count("\n") == 1 and err.startswith("xentui: ") and "Traceback" not in err
