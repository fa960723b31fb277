"""The balloon's stats period on real KVM guests: set live where ``[guest] balloon_stats_period_s`` allows it and
the connection is read-write, never in the persistent definition, never over a period already set; read-only,
one line and nothing set.  (The lab's boot-sector guests have no balloon driver: GMEM(%) itself is checked on the
Linux guest, test_guest_memory_linux.py.)"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import libvirt

from tests.factories import wait_for
from xentui import lab
from xentui.sources.libvirt.balloon import stats_period

from .conftest import TEST_PREFIX, URI


def periods(dom: libvirt.virDomain) -> tuple[int | None, int | None]:
    """(live, persistent) stats period of the domain's virtio balloon."""
    live = stats_period(ET.fromstring(dom.XMLDesc(0)))
    persistent = stats_period(ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
    return live, persistent


@contextlib.contextmanager
def persistent_guest(conn: libvirt.virConnect, like: libvirt.virDomain) -> Iterator[libvirt.virDomain]:
    """A defined (persistent) idle guest, its virt type that of ``like``; destroyed and undefined afterwards."""
    name = f"{TEST_PREFIX}{os.getpid()}-defined-{uuid.uuid4().hex[:4]}"
    virt_type = ET.fromstring(like.XMLDesc(0)).get("type", "kvm")
    dom = conn.defineXML(lab.guest_xml(name, "idle", virt_type=virt_type))
    try:
        dom.create()
        yield dom
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            dom.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            dom.undefine()


def test_the_period_is_set_live_only_where_it_is_0(conn, guests, writer):
    off = guests.start("idle", settle=False)
    already = guests.start("idle", settle=False)
    already.setMemoryStatsPeriod(7, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    with persistent_guest(conn, off) as defined:
        assert periods(off) == (0, 0) and periods(already) == (7, 7) and periods(defined) == (0, 0)
        assert writer.set_balloon_stats_period(2) is None

        def set_on_both() -> bool:
            writer.collect()
            return periods(off)[0] == 2 and periods(defined)[0] == 2

        wait_for(set_on_both, "the stats period of the domains whose period was 0 set to 2", timeout=60)
        assert periods(defined) == (2, 0)  # the live configuration only: the definition is untouched
        assert periods(already) == (7, 7)  # a period already set is left alone (a transient domain: one XML)


def test_read_only_sets_nothing_and_says_so_in_one_line(guests, source, tmp_path: Path):
    dom = guests.start("idle", settle=False)
    refused = source.set_balloon_stats_period(2)
    assert refused is not None and "--write" in refused and "\n" not in refused
    (tmp_path / "xentui").mkdir()
    (tmp_path / "xentui" / "config.toml").write_text("[guest]\nballoon_stats_period_s = 2\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "xentui", "-c", URI, "-b", "-i", "2", "-d", "0.5", "--format", "json"],
                         capture_output=True, text=True, timeout=120, env=env, check=True)
    lines = [line for line in run.stderr.splitlines() if "balloon_stats_period_s" in line]
    assert len(lines) == 1 and "read-only" in lines[0], run.stderr
    assert periods(dom) == (0, 0)
    run = subprocess.run([sys.executable, "-m", "xentui", "-c", URI, "-w", "-b", "-i", "3", "-d", "0.5", "--format",
                          "json"], capture_output=True, text=True, timeout=120, env=env, check=True)
    assert "balloon" not in run.stderr, run.stderr
    wait_for(lambda: periods(dom)[0] == 2, "the batch run's thread setting the period", timeout=30)
