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


def test_a_synthetic_count_of_other_digits_gives_one_line():
    for count in ("\u00b2", "\u0663", "1\u00b9"):  # digits to str.isdigit, not ASCII ones
        code, err = run_cli(["-b", "-c", f"synthetic://{count}", "-i", "1"])
        assert code in (1, 2) and err.count("\n") == 1 and "from 1 to 100000" in err and "Traceback" not in err


# --- Cache QoS: xl outputs and resctrl files of any shape parse or are skipped, never raise ----------

xl_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(["Total RMID: 71", "Total RMID: x²", "Name  ID  Socket 0  Socket 1",
                              "Total L3 Cache Size   30720 KB  30720 KB", "web  3  8448 KB  0 KB", "dom 1 ² KB",
                              "Enabled         : 1", "Supported monitor types:", "cache-occupancy", "",
                              "CMT is disabled in the system", "libxl: error: a.c:1:f: There is no free CMT RMID"]),
             max_size=8).map("\n".join),
)


@MANY
@given(xl_text)
def test_xl_psr_outputs(text):
    from xentui.sources.cache_qos.xen import parse_psr_cmt_show, xen_cache, xl_message

    table = parse_psr_cmt_show(text)
    assert "\n" not in table.error
    for domid in table.values or {}:
        xen_cache(domid, table, table, table)  # rows shorter than the header are tolerated
    assert "\n" not in xl_message(text)


@MANY
@given(st.lists(st.text(alphabet=string.digits + "²٣ -xUnavailable\n", max_size=12), min_size=5, max_size=5))
def test_resctrl_files(tmp_path_factory, values):
    from tests.resctrl_tree import FakeHost

    host = FakeHost(tmp_path_factory.mktemp("r"))
    host.qemu("vm", 10, (11,))
    group = host.group("mon_groups/g", tasks=(11,))
    (group / "tasks").write_text(values[0])
    host.counters("mon_groups/g", 0, values[1], values[2], values[3])
    (host.run / "vm.pid").write_text(values[4] or "10")
    out = host.resctrl().samples({"u": "vm"})
    assert out["u"].status or all(isinstance(b.occupancy_bytes, int | None) for b in out["u"].banks)
