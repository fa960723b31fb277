"""Every libvirt method xentui calls runs in a deadline thread (:mod:`xentui.sources.deadlines`).

Every public method of virConnect and virDomain is wrapped to note the calls made outside one;
then a session on libvirt's test driver does all xentui does: connect, ticks (bulk statistics and
the per-domain calls for what the driver leaves out), every action, reconnect, close.
"""

from __future__ import annotations

import contextlib
import functools
import traceback

import libvirt
import pytest

from xentui.actions import Action, perform
from xentui.sources import deadlines
from xentui.sources.libvirt_source import LibvirtSource

# Held by the client in the virDomain object: no round trip, nothing to hang on.
LOCAL = {"name", "UUIDString", "UUID", "ID", "connect"}


class Noted(list):
    inside = 0


@pytest.fixture
def outside(monkeypatch) -> list[str]:
    """The calls made outside a deadline thread; the list's ``inside`` attribute counts the others."""
    calls = Noted()

    def watched(method, label: str):
        @functools.wraps(method)
        def call(*args, **kwargs):
            if deadlines.inside():
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


def test_no_libvirt_call_outside_a_deadline(outside):
    source = LibvirtSource("test:///default", readonly=False)
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
