"""A parser of xentop's batch layout, written from xentop's captured output alone.

Columns are right-aligned under the header: a field ends where its header name ends.
Scripts written for xentop read it this way, so xentui's text must parse the same.
"""

from __future__ import annotations

import re

HEADER_NAMES = [
    "NAME", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)", "MAXMEM(k)", "MAXMEM(%)", "VCPUS", "NETS",
    "NETTX(k)", "NETRX(k)", "VBDS", "VBD_OO", "VBD_RD", "VBD_WR", "VBD_RSECT", "VBD_WSECT", "SSID",
]


def column_ends(header: str) -> list[int]:
    ends = [m.end() for m in re.finditer(r"\S+", header)]
    assert header.split() == HEADER_NAMES, header
    return ends


def parse_row(header: str, row: str) -> dict[str, str]:
    """Fields of one domain row, checked to end exactly under their header names."""
    ends = column_ends(header)
    assert len(row) == len(header), (row, header)
    fields = {}
    start = 0
    for name, end in zip(HEADER_NAMES, ends, strict=True):
        cell = row[start:end]
        assert cell[-1] != " ", f"{name} not right-aligned in {row!r}"
        assert start == 0 or cell[0] == " ", f"{name} overflows into the previous column in {row!r}"
        fields[name] = cell.strip()
        start = end
    return fields


def check_fields(fields: dict[str, str]) -> None:
    assert re.fullmatch(r"[d-][s-][b-][c-][p-][r-]", fields["STATE"]), fields["STATE"]
    assert re.fullmatch(r"\d+\.\d", fields["CPU(%)"]), fields["CPU(%)"]
    assert re.fullmatch(r"\d+\.\d", fields["MEM(%)"])
    assert re.fullmatch(r"\d+|no limit", fields["MAXMEM(k)"])
    assert re.fullmatch(r"\d+\.\d|n/a", fields["MAXMEM(%)"])
    for name in ("CPU(sec)", "MEM(k)", "VCPUS", "NETS", "NETTX(k)", "NETRX(k)", "VBDS", "SSID"):
        assert fields[name].isdigit(), (name, fields[name])
    for name in ("VBD_OO", "VBD_RD", "VBD_WR", "VBD_RSECT", "VBD_WSECT"):
        assert fields[name].isdigit() or fields[name] == "-", (name, fields[name])


DETAIL = re.compile(r"VCPUs\(sec\):|Net\d+ RX:|VBD |\s+\d+:\s+\d+s")  # -v, -n, -x lines


def parse_rows(text: str) -> list[dict[str, str]]:
    """Every domain row of a batch output, each parsed under the header above it."""
    rows = []
    header = None
    for line in text.splitlines():
        if line.split()[:2] == ["NAME", "STATE"]:
            header = line
        elif header and line and not DETAIL.match(line):
            fields = parse_row(header, line)
            check_fields(fields)
            rows.append(fields)
    return rows
