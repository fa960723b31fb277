"""Every libvirt method xentui calls runs in a deadline thread (:mod:`xentui.sources.deadlines`);
no thread that exit would wait for; every subprocess has a timeout.

Every public method of virConnect and virDomain is wrapped to note the calls made outside one;
then a session on libvirt's test driver does all xentui does: connect, ticks (bulk statistics and
the per-domain calls for what the driver leaves out), every action, reconnect, close.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import threading
import traceback
from pathlib import Path

import libvirt
import pytest

import xentui
from tests.libvirt_test_driver import domain_xml, node_xml
from xentui.actions import Action, perform
from xentui.sources import deadlines
from xentui.sources.libvirt import LibvirtSource

# Held by the client (the virDomain object; isAlive is the client's own view of its socket, asked with no round trip
# and no lock held across another call's): nothing to hang on.
LOCAL = {"name", "UUIDString", "UUID", "ID", "connect", "isAlive"}


class Noted(list):
    inside = 0


@pytest.fixture
def outside(monkeypatch) -> list[str]:
    """The calls made outside a deadline thread; the list's ``inside`` attribute counts the others.  Threads alive
    before the test (another test's, left running) are not this session's: their calls are not noted."""
    calls = Noted()
    earlier = {thread.ident for thread in threading.enumerate()  # (an idle call thread serves this session too)
               if thread.name != deadlines.THREAD_NAME} - {threading.get_ident()}

    def watched(method, label: str):
        @functools.wraps(method)
        def call(*args, **kwargs):
            if threading.get_ident() in earlier:
                pass
            elif deadlines.inside():
                calls.inside += 1
            else:
                calls.append(f"{label} from {traceback.extract_stack(limit=2)[0].name}")
            return method(*args, **kwargs)

        return call

    for cls in (libvirt.virConnect, libvirt.virDomain):
        for name, attr in list(vars(cls).items()):
            if callable(attr) and not name.startswith("_") and name not in LOCAL:
                monkeypatch.setattr(cls, name, watched(attr, f"{cls.__name__}.{name}"))
    for name in ("open", "openReadOnly"):
        monkeypatch.setattr(libvirt, name, watched(getattr(libvirt, name), f"libvirt.{name}"))
    return calls


def test_no_libvirt_call_outside_a_deadline(outside, tmp_path):
    # A driver of its own: test:///default is one state per process while any connection to it is open, and the
    # actions below leave its domain destroyed for later tests.
    node = tmp_path / "node.xml"
    node.write_text(node_xml([domain_xml("test", "6695eb01-f6a4-8304-79aa-97f2502e193f", 1048576, "/img/test.img",
                                         "tap0")], sockets=1, cores=2, threads=1, memory_kib=8388608))
    source = LibvirtSource(f"test://{node}", readonly=False)
    try:
        for _ in range(2):
            raw = source.collect()
        domain = next(d for d in raw.domains if d.name == "test")
        host = raw.host
        steps = [(Action.PAUSE, {}), (Action.RESUME, {}), (Action.BALLOON, {"memory": "512M"}),
                 (Action.PIN, {"vcpu": 0, "hard": "0"}), (Action.SHUTDOWN, {}), (Action.START, {}),
                 (Action.REBOOT, {}), (Action.DESTROY, {})]
        for action, params in steps:
            domain = next(d for d in source.collect().domains if d.name == "test")
            perform(source, domain, action, host=host, **params)
        source.reconnect()
        assert source.collect().domains
    finally:
        source.close()
    assert outside == [], "libvirt called outside a deadline thread:\n" + "\n".join(outside)
    assert outside.inside >= 30  # the watch did see the session's calls
    with contextlib.suppress(libvirt.libvirtError):  # closed: the call fails, but it was made
        source.conn.getLibVersion()  # and the watch sees one made outside
    assert outside == ["virConnect.getLibVersion from test_no_libvirt_call_outside_a_deadline"]


# Threads that exit waits for: ThreadPoolExecutor's (and so asyncio's default executor's) are joined at
# interpreter exit.  The replay decodes a recording in one: no libvirt, no xl, it always ends.
JOINED_AT_EXIT = ("ThreadPoolExecutor", "to_thread", "run_in_executor")
MAY_JOIN = {("ui/controllers/replay.py", "asyncio.to_thread"), ("recording/player.py", "asyncio.to_thread")}


# A command whose output is a stream of frames: its reader waits for each with a deadline (FrameStream.next_frame).
STREAMS = {"sources/ssh_json/stream.py"}


def waited_popens(path: Path) -> set[int]:
    """Lines of the Popen calls whose function also waits with ``communicate(timeout=...)``."""
    lines = set()
    for func in ast.walk(ast.parse(path.read_text())):
        if isinstance(func, ast.FunctionDef):
            calls = [n for n in ast.walk(func) if isinstance(n, ast.Call)]
            if any(ast.unparse(c.func).endswith(".communicate") and any(k.arg == "timeout" for k in c.keywords)
                   for c in calls):
                lines |= {c.lineno for c in calls if ast.unparse(c.func) == "subprocess.Popen"}
    return lines


def test_no_thread_exit_waits_for_and_every_subprocess_has_a_timeout():
    root = Path(xentui.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        where = str(path.relative_to(root))
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            if name.endswith(JOINED_AT_EXIT) and (where, name) not in MAY_JOIN:
                found.append(f"{where}:{node.lineno}: {name} (its threads are joined at exit)")
            if name.startswith("subprocess.") and name != "subprocess.Popen" and "timeout" not in keywords:
                found.append(f"{where}:{node.lineno}: {name} without timeout=")
            if name == "subprocess.Popen" and node.lineno not in waited_popens(path) and where not in STREAMS:
                found.append(f"{where}:{node.lineno}: Popen (no deadline of its own)")
            if name.endswith("threading.Thread") and ast.unparse(keywords.get("daemon", ast.Constant(None))) != "True":
                found.append(f"{where}:{node.lineno}: a thread that is not a daemon")
    assert found == []
