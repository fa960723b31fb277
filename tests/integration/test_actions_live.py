"""Every domain action end to end on real guests, checked with virsh; the guards; lifecycle events."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

import libvirt
import pytest

from xentui import lab
from xentui.actions import Action, ActionError, perform
from xentui.sources.libvirt import LibvirtSource

from .conftest import URI, sample_of, wait_in_boot_code


def domstate(name: str) -> str:
    """`virsh domstate NAME`, or "gone" once a transient domain has left."""
    run = subprocess.run(["virsh", "-c", URI, "domstate", name], capture_output=True, text=True)
    return run.stdout.strip() if run.returncode == 0 else "gone"


def wait_state(name: str, want: str, timeout: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if domstate(name) == want:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{name}: {domstate(name)!r}, never {want!r}")


def test_pause_resume_balloon_destroy(guests, writer):
    name = guests.start("idle").name()
    sample, host = sample_of(writer, name)
    perform(writer, sample, Action.PAUSE, host=host)
    assert domstate(name) == "paused"
    sample, host = sample_of(writer, name)
    assert sample.state.value == "paused"
    perform(writer, sample, Action.RESUME, host=host)
    assert domstate(name) == "running"
    sample, host = sample_of(writer, name)
    # Accepted by libvirt and QEMU; a boot-sector guest has no balloon driver to give the memory back, so
    # the effect itself is checked in the Xen lab (xl mem-set, confirmed by `xl list`).
    assert perform(writer, sample, Action.BALLOON, host=host, memory="24M") < 5
    with pytest.raises(ActionError, match=r"write e\.g\. 512M"):
        perform(writer, sample, Action.BALLOON, host=host, memory="lots")
    perform(writer, sample, Action.DESTROY, host=host)
    assert domstate(name) == "gone"


# Prints "listening" once its reboot callback is registered with libvirtd, then the first reboot event of the
# domain named argv[2] (or nothing within 30 s).  A process of its own: libvirt's event loop is per process.
WATCH_REBOOT = """
import os, sys, threading, libvirt
libvirt.virEventRegisterDefaultImpl()
conn = libvirt.openReadOnly(sys.argv[1])
def reboot(_conn, dom, _opaque):
    print(f"event 'reboot' for domain '{dom.name()}'", flush=True)
    os._exit(0)
conn.domainEventRegisterAny(conn.lookupByName(sys.argv[2]), libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, reboot, None)
print("listening", flush=True)
threading.Timer(30, lambda: os._exit(1)).start()
while True:
    libvirt.virEventRunDefaultImpl()
"""


def test_acpi_shutdown_and_reboot_reach_a_guest_that_obeys_them(guests, writer):
    """The power button is pressed only once the guest runs its loop (a guest still in its BIOS ignores it)."""
    dom = guests.start("polite", settle=False)
    name = dom.name()
    wait_in_boot_code(dom, "polite", loop_from=lab.POLITE_LOOP)
    sample, host = sample_of(writer, name)
    events = subprocess.Popen([sys.executable, "-c", WATCH_REBOOT, URI, name], stdout=subprocess.PIPE, text=True)
    try:
        assert events.stdout.readline() == "listening\n"  # registered with libvirtd: no event can be missed
        perform(writer, sample, Action.REBOOT, host=host)
        out = events.stdout.readline()  # the watcher ends itself after 30 s
    finally:
        events.kill()
        events.wait(timeout=10)
    assert f"event 'reboot' for domain '{name}'" in out  # libvirt powered it down and reset it
    wait_state(name, "running")  # libvirt resumes it after the reset
    wait_in_boot_code(dom, "polite", loop_from=lab.POLITE_LOOP)  # through the BIOS again, to its loop
    sample, host = sample_of(writer, name)
    perform(writer, sample, Action.SHUTDOWN, host=host)
    assert wait_state(name, "gone", timeout=15) < 15  # the guest powered itself off


def test_start_a_defined_domain_that_is_off(conn, writer):
    name = f"xtest-{os.getpid()}-defined"
    dom = conn.defineXML(lab.guest_xml(name, "idle", virt_type=lab._virt_type or "kvm"))
    try:
        sample, host = sample_of(writer, name)
        assert sample.state.value == "shutoff" and domstate(name) == "shut off"
        perform(writer, sample, Action.START, host=host)
        assert domstate(name) == "running"
        sample, host = sample_of(writer, name)
        with pytest.raises(ActionError, match=r"start is not offered .* while it is running"):
            perform(writer, sample, Action.START, host=host)
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()


def test_read_only_refuses_and_touches_nothing(guests):
    name = guests.start("idle").name()
    with contextlib.closing(LibvirtSource(URI)) as reader:
        sample, host = sample_of(reader, name)
        with pytest.raises(ActionError, match="--write"):
            perform(reader, sample, Action.DESTROY, host=host)
    assert domstate(name) == "running"


def test_name_moved_to_a_new_uuid_is_refused(guests, writer):
    first = guests.start("idle", settle=False)
    name = first.name()
    old, host = sample_of(writer, name)
    first.destroy()

    guests.started.append(lab.start_guest(writer.conn, name, "idle"))  # same name, new UUID
    with pytest.raises(ActionError, match="replaced by another domain of that name"):
        perform(writer, old, Action.DESTROY, host=host)
    assert domstate(name) == "running"


def test_permission_error_is_one_line(guests):
    """libvirt itself refuses (a read-only socket), past xentui's own guard: one line, no traceback."""
    name = guests.start("idle").name()
    with contextlib.closing(LibvirtSource(URI)) as source:  # opened read-only by libvirt
        sample, host = sample_of(source, name)
        source.readonly = False  # as if xentui had been asked to write on a connection that may not
        with pytest.raises(ActionError) as err:
            perform(source, sample, Action.PAUSE, host=host)
    assert "\n" not in str(err.value) and "read only" in str(err.value).lower()
    assert domstate(name) == "running"
    assert isinstance(libvirt.getVersion(), int)
