"""Hostile names, one per class of issue 14, and the hosts that carry them.

Three carriers: libvirt's test driver from an XML file (what the XML can hold; the real binary
can open it), the same host with the ESC-bearing names given by ``virDomainRename`` (which takes
a plain string: only a Pilot test, on its own connection, sees them), and a crafted recording
whose domain, host and device names and messages carry every class, ESC included.

What libvirt refuses (checked by defining them): any name with ``/`` ("name ... cannot contain
'/'"), so ``[/``, ``[link=file:///...]`` and the HYPERLINK formula live in the recording only; a
disk's target ``dev`` that is not a disk name (only interface targets and disk paths are hostile
here); C0 controls other than TAB, LF, CR in XML (XML 1.0 cannot carry them, even as references).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from pathlib import Path

import libvirt

from tests.libvirt_test_driver import domain_xml, node_xml
from tests.recordings import write
from xentui.model import RawSample
from xentui.sources.synthetic import SyntheticSource

# class -> name
NAMES: dict[str, str] = {
    "markup-click": "[ @click=app.screenshot('x.svg')]web01",
    "markup-bold": "[b",
    "markup-variable": "[$var]",
    "markup-unclosed": "[/",
    "markup-link": "[link=file:///etc/passwd]x[/link]",
    "osc-title": "\x1b]0;PWNED\x07",
    "osc-clipboard": "\x1b]52;c;cHduZWQ=\x07",
    "csi-colour": "\x1b[31mred",
    "c1-csi": "\x9b31mred",
    "cr-overwrite": "web01\rEVIL",
    "newline": "web01\nEVIL",
    "tab": "web\t01",
    "delete": "web\x7f01",
    "bidi-override": "\u202eweb01",
    "zero-width": "web\u200b01",
    "csv-hyperlink": '=HYPERLINK("http://127.0.0.1/x","y")',
    "csv-dde": "=cmd|' calc'!A0",
    "csv-plus": "+1",
    "csv-minus": "-1",
    "csv-at": "@SUM(A1)",
    "long": "long-" + "0123456789" * 20,
    "wide-cjk": "虚拟机网络服务器",
}
HOSTNAME = "\x1b]0;PWNED\x07host[b]\u202e"
NET = "\x1b]52;c;cHduZWQ=\x07[b]"  # the recording's interface and disk names
DISK = "\x9b31m[/vd\u202ea"
DISK_PATH = "/img/\x1b[31m\u202e[@click=app.quit].img"
MESSAGE = "\x1b]0;PWNED\x07 libvirt says [b]\x9b31m\u202eno"  # hypervisor text: errors and notices
XML_NIC = "tap\x9b31m\u202e[b]"  # the test driver's interface names (their target dev) ...
XML_DISK_PATH = "/img/\x9b31m\u202e[@click=app.quit].img"  # ... and disk paths

# What must never reach a terminal, whatever the screen: the raw sequences the names carry.
RAW_SEQUENCES: dict[str, bytes] = {
    "OSC 0 (window title)": b"\x1b]0;PWNED",
    "OSC 52 (clipboard)": b"\x1b]52",
    "CSI colour from a name": b"\x1b[31mred",
    "C1 CSI (U+009B)": "\x9b".encode(),
    "bidi override (U+202E)": "\u202e".encode(),
    "zero-width space (U+200B)": "\u200b".encode(),
    "CR overwrite": b"\rEVIL",
    "newline inside a name": b"web01\nEVIL",
    "TAB inside a name": b"web\t01",
    "DEL": b"\x7f",
}


def unsafe(ch: str) -> bool:
    """A character a terminal acts on or hides: C0, DEL, C1, format (bidi, zero-width), line/para separators."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def unsafe_in(text: str) -> list[str]:
    """The unsafe characters in text, as code points (empty: none)."""
    return [f"U+{ord(ch):04X}" for ch in text if unsafe(ch)]


def leaks(output: bytes) -> list[str]:
    """Which raw hostile sequences appear in terminal or stdout bytes."""
    return [what for what, raw in RAW_SEQUENCES.items() if raw in output]


# --- libvirt's test driver -------------------------------------------------------------------

def in_xml(name: str) -> bool:
    """libvirt takes it from a domain XML file."""
    return "/" not in name and all(ord(ch) >= 0x20 or ch in "\t\r\n" for ch in name)


def by_rename(name: str) -> bool:
    """libvirt takes it only through virDomainRename (a plain string: ESC and BEL pass)."""
    return "/" not in name and not in_xml(name)


XML_CLASSES = tuple(c for c, n in NAMES.items() if in_xml(n))
RENAMED_CLASSES = tuple(c for c, n in NAMES.items() if by_rename(n))
REFUSED_CLASSES = tuple(c for c, n in NAMES.items() if "/" in n)


def _ref(text: str) -> str:
    """Every character but ASCII letters and digits as an XML character reference."""
    return "".join(ch if ch.isascii() and ch.isalnum() else f"&#{ord(ch)};" for ch in text)


def uuid_of(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-0000000000aa"


def placeholder(cls: str) -> str:
    """The name a renamed domain has in the XML file."""
    return f"rename-me-{cls}"


def test_driver_xml() -> str:
    """A test-driver host: one running domain per class libvirt takes (placeholders for the renamed)."""
    domains = []
    for i, cls in enumerate(NAMES):
        name = NAMES[cls] if in_xml(NAMES[cls]) else placeholder(cls) if by_rename(NAMES[cls]) else None
        if name is None:
            continue
        domains.append(domain_xml(_ref(name), uuid_of(i), 524288 + i, _ref(XML_DISK_PATH), f"{_ref(XML_NIC)}{i}"))
    return node_xml(domains, sockets=1, cores=2, threads=2, memory_kib=16777216)


def write_test_host(path: Path) -> Path:
    path.write_text(test_driver_xml())
    return path


def open_with_renames(xml: Path) -> libvirt.virConnect:
    """A read-write connection to the host in ``xml`` whose placeholders got their ESC-bearing names.

    They stay shut off: the test driver cannot start them again (it re-reads their XML)."""
    conn = libvirt.open(f"test://{xml}")
    for cls in RENAMED_CLASSES:
        dom = conn.lookupByName(placeholder(cls))
        dom.destroy()
        dom.rename(NAMES[cls])
    return conn


# --- a crafted recording ---------------------------------------------------------------------

def hostile_samples(ticks: int = 6) -> list[RawSample]:
    """A synthetic host's ticks with every hostile name on its domains, host, devices and messages."""
    source = SyntheticSource(count=len(NAMES), pcpus=4)
    names = list(NAMES.values())
    out = []
    for _ in range(ticks):
        raw = source.collect()
        domains = tuple(
            dataclasses.replace(
                d, name=names[i],
                nets=tuple(dataclasses.replace(n, name=NET) for n in d.nets),
                blocks=tuple(dataclasses.replace(b, name=DISK, path=DISK_PATH) for b in d.blocks))
            for i, d in enumerate(raw.domains))
        out.append(dataclasses.replace(raw, host=dataclasses.replace(raw.host, hostname=HOSTNAME),
                                       domains=domains, errors=(MESSAGE,), notices=(MESSAGE,)))
    return out


def write_recording(path: Path, ticks: int = 6) -> Path:
    return write(path, hostile_samples(ticks), "synthetic://")
