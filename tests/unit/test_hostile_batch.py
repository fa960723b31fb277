"""Batch output with hostile names: text shows them visibly, CSV without formulas, JSON exactly.

Names come from libvirt's test driver (what its XML can carry: brackets, quotes, CR, TAB, U+009B,
U+202E, formula prefixes) and from samples as Xen or a recording gives them (ESC, OSC 0/52).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from dataclasses import replace
from pathlib import Path
from xml.sax.saxutils import escape

from tests.libvirt_test_driver import driver_xml
from xentui.model import BlockSample, DomainSample, DomainState, RawSample, build_snapshot
from xentui.output.records import csv_header, csv_rows, json_frame
from xentui.output.xentop import XentopOptions, format_frame
from xentui.sources.libvirt import LibvirtSource
from xentui.text import csv_cell, visible

LIBVIRT_NAMES = ["[ @click=app.quit]web01", "web02\r", "web03\tx", "web04\u009b31m", "web05\u202egpj.exe",
                 "=cmd|' -C calc'!A0", "-2+3", "@SUM(1)", "'quoted'"]
XEN_NAMES = ["web10\x1b]0;owned\x07", "\x1b]52;c;b3duZWQ=\x07web11", "\x1b[2Jweb12", "web13\x7f"]


def hostile_xml(tmp_path: Path) -> Path:
    """A test-driver host whose domains have the hostile names."""
    xml = driver_xml(len(LIBVIRT_NAMES))
    for i, name in enumerate(LIBVIRT_NAMES):
        ref = escape(name, {"'": "&apos;", "\r": "&#13;", "\t": "&#9;"})
        xml = xml.replace(f"<name>dom{i:04d}</name>", f"<name>{ref}</name>")
    path = tmp_path / "hostile.xml"
    path.write_text(xml)
    return path


def snapshot_of(tmp_path: Path):
    source = LibvirtSource(f"test://{hostile_xml(tmp_path)}")
    try:
        prev, raw = source.collect(), source.collect()
    finally:
        source.close()
    xen = tuple(DomainSample(uuid=f"{i:08x}-0000-4000-8000-00000000ffff", name=name, domid=100 + i,
                             state=DomainState.RUNNING, cpu_ns=10**9, mem_kib=1024,
                             blocks=(BlockSample(f"xvda\x1b]0;{i}\x07", rd_reqs=1),))
                for i, name in enumerate(XEN_NAMES))
    host = replace(raw.host, hostname="dom0\x1b]0;owned\x07")
    raw = RawSample(raw.monotonic, raw.wall, host, raw.domains + xen)
    prev = RawSample(prev.monotonic, prev.wall, host, prev.domains + xen)
    return build_snapshot(prev, raw, 2)


def no_controls(text: str) -> None:
    bad = {f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c != "\n"}
    assert not bad, f"control or format characters in the output: {sorted(bad)}"


def test_the_test_driver_keeps_the_hostile_names(tmp_path):
    names = {v.name for v in snapshot_of(tmp_path).domains}
    assert set(LIBVIRT_NAMES) | set(XEN_NAMES) <= names


def test_text_shows_every_name_visibly(tmp_path):
    snapshot = snapshot_of(tmp_path)
    text = format_frame(snapshot, XentopOptions(full_name=True, vbds=True, networks=True, vcpus=True))
    no_controls(text)
    for name in LIBVIRT_NAMES + XEN_NAMES:
        assert visible(name) in text
    assert "VBD xvda␛]0;0␇    0" in text  # device names too
    short = format_frame(snapshot, XentopOptions())
    no_controls(short)
    assert f"{visible(XEN_NAMES[0])[:10]:>10} " in short  # xentop's 10-character NAME, cut after the tokens


def test_csv_cells_are_visible_and_never_formulas(tmp_path):
    snapshot = snapshot_of(tmp_path)
    out = csv_header() + csv_rows(snapshot, 1)
    no_controls(out)
    rows = list(csv.DictReader(io.StringIO(out)))
    by_name = {row["name"]: row for row in rows}
    for name in LIBVIRT_NAMES + XEN_NAMES:
        assert csv_cell(name) in by_name
    assert {"'=cmd|' -C calc'!A0", "'-2+3", "'@SUM(1)", "''quoted'"} <= by_name.keys()
    assert all(not row[k].startswith(("=", "+", "-", "@")) for row in rows for k in ("name", "host", "uuid"))
    assert all(float(row["cpu_ns"]) >= 0 and row["state_flags"] == "-----r" for row in rows)  # left as they were
    assert rows[0]["host"] == "dom0␛]0;owned␇"


def test_json_is_exact_and_ascii(tmp_path):
    snapshot = snapshot_of(tmp_path)
    line = json_frame(snapshot, 1)
    assert line.isascii() and line.endswith("}\n") and line.count("\n") == 1
    frame = json.loads(line)
    assert {d["name"] for d in frame["domains"]} >= set(LIBVIRT_NAMES) | set(XEN_NAMES)
    assert frame["host"]["hostname"] == "dom0\x1b]0;owned\x07"
    assert "\\u001b]52;c;" in line and "\\u202e" in line and "\\u009b" in line
