"""Batch text identical in layout to ``xentop -b``, so xentop's parsers keep working.

Header names, widths, number formats, state letters, ``no limit``/``n/a``, the
cumulative NET/VBD columns, their growing widths and the -v/-n/-x detail lines follow
``tools/xentop/xentop.c``.  Only active domains are listed, as xentop does.  Names (domains,
devices) are shown through :func:`xentui.text.visible`: no control byte from a name reaches the terminal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xentui.model import (
    SECTOR_BYTES,
    BlockSample,
    DomainView,
    NetSample,
    Snapshot,
)
from xentui.text import visible

# (header, default width), in xentop's order.
FIELDS: tuple[tuple[str, int], ...] = (
    ("NAME", 10),
    ("STATE", 6),
    ("CPU(sec)", 10),
    ("CPU(%)", 6),
    ("MEM(k)", 10),
    ("MEM(%)", 6),
    ("MAXMEM(k)", 10),
    ("MAXMEM(%)", 9),
    ("VCPUS", 5),
    ("NETS", 4),
    ("NETTX(k)", 8),
    ("NETRX(k)", 8),
    ("VBDS", 4),
    ("VBD_OO", 8),
    ("VBD_RD", 8),
    ("VBD_WR", 8),
    ("VBD_RSECT", 10),
    ("VBD_WSECT", 10),
    ("SSID", 4),
)
# Columns whose width grows with the numbers, as xentop's adjust_field_widths().
GROWING = ("NETTX(k)", "NETRX(k)", "VBD_RD", "VBD_WR", "VBD_RSECT", "VBD_WSECT")
DOM0 = "Domain-0"


@dataclass(frozen=True)
class XentopOptions:
    networks: bool = False  # -n
    vbds: bool = False  # -x
    vcpus: bool = False  # -v
    repeat_header: bool = False  # -r
    full_name: bool = False  # -f
    dom0_first: bool = False  # -z
    pcpus: bool = False  # -p (xentop 4.21)


def _digits(n: int) -> int:
    """xentop's INT_FIELD_WIDTH: decimal digits of n (n >= 1)."""
    return int(math.log10(n)) + 1


def _num(value: int | None, width: int) -> str:
    """A right-aligned integer, or xentop's '-' for a figure it does not have."""
    return f"{value:>{width}d}" if value is not None else f"{'-':>{width}}"


def _sectors(nbytes: int | None) -> int | None:
    return None if nbytes is None else nbytes // SECTOR_BYTES


def _kib(nbytes: int | None) -> int:
    return (nbytes or 0) // 1024


def _cumulative(view: DomainView) -> dict[str, int | None]:
    """The growing columns' values for one domain."""
    io = view.sample.io
    return {
        "NETTX(k)": _kib(io.net_tx_bytes),
        "NETRX(k)": _kib(io.net_rx_bytes),
        "VBD_OO": io.blk_oo_reqs,
        "VBD_RD": io.blk_rd_reqs,
        "VBD_WR": io.blk_wr_reqs,
        "VBD_RSECT": _sectors(io.blk_rd_bytes),
        "VBD_WSECT": _sectors(io.blk_wr_bytes),
    }


def ordered(views: tuple[DomainView, ...], dom0_first: bool) -> list[DomainView]:
    """Active domains by name, case-insensitive (xentop's default sort)."""
    shown = sorted((v for v in views if v.sample.active), key=lambda v: v.name.lower())
    if dom0_first:
        shown.sort(key=lambda v: v.name != DOM0)  # stable: the rest keep their order
    return shown


def widths(views: list[DomainView], opts: XentopOptions) -> dict[str, int]:
    width = dict(FIELDS)
    for view in views:
        if opts.full_name:
            width["NAME"] = max(width["NAME"], len(visible(view.name)))
        for key, value in _cumulative(view).items():
            if key in GROWING:
                width[key] = max(width[key], _digits((value or 0) + 1))
    return width


def header_line(width: dict[str, int]) -> str:
    return " ".join(f"{name:>{width[name]}}" for name, _ in FIELDS)


def domain_line(view: DomainView, width: dict[str, int], full_name: bool) -> str:
    d = view.sample
    shown = visible(d.name)
    name = f"{shown:>{width['NAME']}}" if full_name else f"{shown[:10]:>10}"
    cum = _cumulative(view)
    cells = [
        name,
        d.state_flags,
        _num(None if d.cpu_ns is None else d.cpu_ns // 1_000_000_000, 10),
        f"{view.rates.cpu_pct or 0.0:6.1f}",
        _num(d.mem_kib, 10),
        f"{view.mem_pct or 0.0:6.1f}",
        f"{'no limit':>10}" if d.maxmem_kib is None else _num(d.maxmem_kib, 10),
        f"{'n/a':>9}" if view.maxmem_pct is None else f"{view.maxmem_pct:9.1f}",
        _num(d.vcpus_current, 5),
        _num(len(d.nets), 4),
        _num(cum["NETTX(k)"], width["NETTX(k)"]),
        _num(cum["NETRX(k)"], width["NETRX(k)"]),
        _num(len(d.blocks), 4),
        _num(cum["VBD_OO"], 8),
        _num(cum["VBD_RD"], width["VBD_RD"]),
        _num(cum["VBD_WR"], width["VBD_WR"]),
        _num(cum["VBD_RSECT"], width["VBD_RSECT"]),
        _num(cum["VBD_WSECT"], width["VBD_WSECT"]),
        _num(d.ssid, 4),
    ]
    return " ".join(cells)


def vcpu_line(view: DomainView) -> str:
    parts = ["VCPUs(sec): "]
    for i, vcpu in enumerate(view.sample.vcpus):
        if not vcpu.online:
            continue
        if i != 0 and i % 5 == 0:
            parts.append("\n        ")
        seconds = "-" if vcpu.time_ns is None else str(vcpu.time_ns // 1_000_000_000)
        parts.append(f" {i:2d}: {seconds:>10}s")
    return "".join(parts)


def net_line(i: int, n: NetSample) -> str:
    def c(v: int | None) -> str:
        return _num(v, 8)

    return (
        f"Net{i} RX: {c(n.rx_bytes)}bytes {c(n.rx_packets)}pkts {c(n.rx_errs)}err {c(n.rx_drop)}drop  "
        f"TX: {c(n.tx_bytes)}bytes {c(n.tx_packets)}pkts {c(n.tx_errs)}err {c(n.tx_drop)}drop"
    )


def vbd_label(i: int, b: BlockSample) -> str:
    """xentop's "BlkBack 51712 [ca: 0] " on Xen; libvirt's target name and index elsewhere."""
    if b.devno is None:
        return f"{visible(b.name)} {i:4d} "
    major, minor = b.devno >> 8, b.devno & 0xFF  # linux/kdev_t.h, as xentop
    return f"{visible(b.kind)} {b.devno:4d} [{major:2x}:{minor:2x}] "


def vbd_line(i: int, b: BlockSample) -> str:
    return (
        f"VBD {vbd_label(i, b)} OO: {_num(b.oo_reqs, 8)}   RD: {_num(b.rd_reqs, 8)}   "
        f"WR: {_num(b.wr_reqs, 8)}   RSECT: {_num(_sectors(b.rd_bytes), 10)}   "
        f"WSECT: {_num(_sectors(b.wr_bytes), 10)}"
    )


def format_frame(snapshot: Snapshot, opts: XentopOptions) -> str:
    """One batch iteration, newline-terminated, exactly as ``xentop -b`` lays it out."""
    views = ordered(snapshot.domains, opts.dom0_first)
    width = widths(views, opts)
    header = header_line(width)
    lines = []
    for n, view in enumerate(views):
        if n == 0 or opts.repeat_header:
            lines.append(header)
        lines.append(domain_line(view, width, opts.full_name))
        if opts.vcpus:
            lines.append(vcpu_line(view))
        if opts.networks:
            lines.extend(net_line(i, net) for i, net in enumerate(view.sample.nets))
        if opts.vbds:
            lines.extend(vbd_line(i, blk) for i, blk in enumerate(view.sample.blocks))
    if not views:
        lines.append(header)
    if opts.pcpus:
        lines.extend(pcpu_lines(snapshot.pcpu_pct))
    return "\n".join(lines) + "\n"


PCPU_RULE = "+-------+--------+"


def pcpu_lines(usage: tuple[float | None, ...] | None) -> list[str]:
    """xentop -p's table (``print_pcpu_stats_display`` in tools/xentop/xentop.c), after the domains: every
    pCPU (no 128 cap), busy % clamped to 0-100 as pcpu.c does; ``-`` for a pCPU whose counter went back."""
    if usage is None:
        return ["", "No PCPU data available"]
    rows = [f"| {n:<5d} | {_clamped(pct)}% |" for n, pct in enumerate(usage)]
    return ["", "Physical CPU Usage:", PCPU_RULE, "| Core  | Usage  |", PCPU_RULE, *rows, PCPU_RULE]


def _clamped(pct: float | None) -> str:
    return f"{'-':>5}" if pct is None else f"{min(100.0, max(0.0, pct)):5.1f}"
