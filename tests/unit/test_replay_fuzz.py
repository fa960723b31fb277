"""Damaged recordings (hypothesis, derandomized): one line naming the file, or a replay that shows safely."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.recordings import with_guest_figures, write
from xentui.cli.batch import BatchOptions, render
from xentui.recording import format as recformat
from xentui.recording import reader as replay
from xentui.recording.player import ReplayPlayer
from xentui.recording.reader import ReplayError
from xentui.sources.synthetic import SyntheticSource

MANY = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _good() -> bytes:
    source = SyntheticSource(count=3, pcpus=4)
    with tempfile.TemporaryDirectory() as tmp:  # recordings are created new: never a fixed /tmp name
        return write(Path(tmp) / "good.xtrec.gz", [source.collect() for _ in range(3)]).read_bytes()


GOOD = _good()
LINES = [json.loads(line) for line in gzip.decompress(GOOD).splitlines()]


def _good_guest() -> list:
    """A recording with revision 6's figures (agent facts, balloon, disk request times) on every domain."""
    source = SyntheticSource(count=2, pcpus=4)
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "guest.xtrec.gz", with_guest_figures([source.collect() for _ in range(2)]))
        return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.sampled_from([2**64 - 1, 2**64, -1, 10**400, 1e300, 1e11, -0.0]),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8)

# What json.dumps never writes but a crafted file may: non-finite numbers, huge literals, deep nesting.
HOSTILE = "@@hostile@@"
raw_tokens = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400, "1" + "0" * 5000,
                     "18446744073709551616", "true", '"' + "x" * 5000 + '"']),
    st.integers(1, 40).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 40).map(lambda n: '{"a":' * n + "0" + "}" * n),
)


def paths(value, prefix=()):
    """Every place inside a JSON value (a list index or dict key path)."""
    yield prefix
    items = enumerate(value) if isinstance(value, list) else value.items() if isinstance(value, dict) else ()
    for key, inner in items:
        yield from paths(inner, (*prefix, key))


def replaced(value, path, new):
    if not path:
        return new
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


GUEST_LINES = _good_guest()
_AT = [recformat.DOMAIN.names.index(name) for name in ("agent", "balloon", "blocks")]
GUEST_PATHS = [where for where in paths(GUEST_LINES[1]) if len(where) > 3 and where[0] == "d" and where[2] in _AT]


def check(path: Path) -> None:
    """Either one clear line, or every tick renders in every batch format."""
    try:
        source = ReplayPlayer.open(path)
    except ReplayError as err:
        text = str(err)
        assert text.startswith(str(path)) and "\n" not in text and "Traceback" not in text
        return
    for index in range(len(source)):
        try:
            snapshot = source.snapshot(index)
        except ReplayError as err:  # a large recording: values are checked as ticks are read
            assert not source.recording.eager
            text = str(err)
            assert text.startswith(str(path)) and "\n" not in text and "tick" in text
            return
        for fmt in ("text", "csv", "json"):
            render(snapshot, index + 1, BatchOptions(format=fmt))
    source.seek_seconds(-1e9)
    source.wait_s()
    source.position()


@MANY
@given(st.data(), st.booleans())
def test_a_value_anywhere_replaced(tmp_path_factory, data, large):
    line = data.draw(st.integers(0, len(LINES) - 1))
    where = data.draw(st.sampled_from(list(paths(LINES[line]))))
    new = data.draw(json_values)
    lines = list(LINES)
    lines[line] = replaced(LINES[line], where, new)
    check_lines(Path(tmp_path_factory.mktemp("v")) / "r.xtrec.gz", lines, large)


def check_lines(path: Path, lines: list, large: bool) -> None:
    """``check`` a recording of these JSON lines, decoded at open or (``large``) as each tick is shown."""
    path.write_bytes(gzip.compress(b"".join(json.dumps(x).encode() + b"\n" for x in lines)))
    old, replay.EAGER_DOMAIN_TICKS = replay.EAGER_DOMAIN_TICKS, 0 if large else replay.EAGER_DOMAIN_TICKS
    try:
        check(path)
    finally:
        replay.EAGER_DOMAIN_TICKS = old


@MANY
@given(st.data(), raw_tokens, st.booleans())
def test_a_value_anywhere_replaced_by_hostile_json_text(tmp_path_factory, data, token, large):
    line = data.draw(st.integers(0, len(LINES) - 1))
    where = data.draw(st.sampled_from(list(paths(LINES[line]))))
    lines = [json.dumps(x) for x in LINES]
    lines[line] = json.dumps(replaced(LINES[line], where, HOSTILE)).replace(f'"{HOSTILE}"', token)
    path = Path(tmp_path_factory.mktemp("h")) / "r.xtrec.gz"
    path.write_bytes(gzip.compress("".join(x + "\n" for x in lines).encode()))
    old, replay.EAGER_DOMAIN_TICKS = replay.EAGER_DOMAIN_TICKS, 0 if large else replay.EAGER_DOMAIN_TICKS
    try:
        check(path)
    finally:
        replay.EAGER_DOMAIN_TICKS = old


@MANY
@given(st.integers(0, len(GOOD) - 1), st.binary(min_size=0, max_size=4), st.booleans())
def test_bytes_cut_or_overwritten(tmp_path_factory, at, junk, cut):
    data = GOOD[:at] if cut else GOOD[:at] + junk + GOOD[at + len(junk):]
    path = Path(tmp_path_factory.mktemp("b")) / "r.xtrec.gz"
    path.write_bytes(data)
    check(path)


@MANY
@given(st.lists(st.text(max_size=40), max_size=4), st.booleans())
def test_arbitrary_lines(tmp_path_factory, lines, compress):
    text = "\n".join(lines).encode("utf-8", "surrogatepass")
    path = Path(tmp_path_factory.mktemp("t")) / "r.xtrec.gz"
    path.write_bytes(gzip.compress(text) if compress else text)
    check(path)


@MANY
@given(st.data(), st.booleans())
def test_a_value_of_the_guest_s_own_view_replaced(tmp_path_factory, data, large):
    """Inside the agent's facts, the balloon's figures, the disks' request times (revision 6)."""
    where = data.draw(st.sampled_from(GUEST_PATHS))
    new = data.draw(json_values | st.text(max_size=300) | st.lists(st.just(["eth0", None, []]), max_size=70))
    lines = [*GUEST_LINES[:1], replaced(GUEST_LINES[1], where, new), *GUEST_LINES[2:]]
    check_lines(Path(tmp_path_factory.mktemp("g")) / "r.xtrec.gz", lines, large)
