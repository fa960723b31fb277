"""Batch text against real `xentop -b` output captured on Xen 4.17 (tests/data)."""

from tests.factories import XEN_HOST as HOST
from tests.factories import S, capture_domains
from xentui.model import (
    BlockSample,
    DomainSample,
    DomainState,
    NetSample,
    RawSample,
    VcpuSample,
    build_snapshot,
)
from xentui.output.xentop import XentopOptions, format_frame

from ..xentop_layout import parse_rows


def first_frame(opts: XentopOptions) -> str:
    return format_frame(build_snapshot(None, RawSample(0, 0, HOST, capture_domains())), opts)


def test_plain_frame_matches_xentop_capture(data_dir):
    expected = (data_dir / "xentop-b-domu.txt").read_text().splitlines()[:4]
    ours = first_frame(XentopOptions()).splitlines()
    assert ours[0] == expected[0]  # header: names and widths
    assert ours[1] == expected[1].replace("        112 ", "        113 ")  # that frame was taken 1 s earlier
    assert len(ours) == 4


def test_full_frame_matches_xentop_capture(data_dir):
    """`-f -n -x -v -r` with Xen's figures: byte-identical to xentop's, VBD lines included."""
    expected = (data_dir / "xentop-b-full-domu.txt").read_text().splitlines()[:13]
    ours = first_frame(XentopOptions(networks=True, vbds=True, vcpus=True, repeat_header=True,
                                     full_name=True)).splitlines()
    assert ours == expected


def test_libvirt_vbd_line_keeps_the_layout_after_the_label():
    from xentui.output.xentop import vbd_line

    xen = BlockSample("xvda", rd_reqs=1, wr_reqs=2, oo_reqs=0, rd_bytes=512, wr_bytes=1024, kind="BlkBack",
                      devno=51712)
    kvm = BlockSample("vda", rd_reqs=1, wr_reqs=2, oo_reqs=None, rd_bytes=512, wr_bytes=1024)
    assert vbd_line(0, xen).startswith("VBD BlkBack 51712 [ca: 0]  OO:        0   RD:")
    assert vbd_line(0, kvm) == "VBD vda    0  OO:        -" + vbd_line(0, xen).split("OO:        0")[1]


def test_cpu_pct_on_second_frame():
    a = RawSample(0.0, 0, HOST, capture_domains())
    b = RawSample(1.0, 1, HOST, capture_domains(cpu_extra_ns=212_000_000))
    line = format_frame(build_snapshot(a, b), XentopOptions()).splitlines()[1]
    assert line.split()[3] == "21.2"  # Domain-0 used 0.212 s of CPU in 1 s


def test_capture_and_ours_parse_the_same(data_dir):
    theirs = parse_rows((data_dir / "xentop-b-full-domu.txt").read_text())
    ours = parse_rows(first_frame(XentopOptions(networks=True, vbds=True, vcpus=True, repeat_header=True)))
    assert [r["NAME"] for r in ours] == [r["NAME"] for r in theirs[:3]]
    assert ours[1]["VBD_RSECT"] == theirs[1]["VBD_RSECT"]


def test_growing_columns_and_truncated_names():
    big = DomainSample(uuid="u", name="a-very-long-domain-name", domid=5, state=DomainState.BLOCKED, cpu_ns=0,
                       vcpus_current=1, mem_kib=1, maxmem_kib=None,
                       nets=(NetSample("n", rx_bytes=10**15, tx_bytes=1, rx_packets=0, tx_packets=0),))
    text = format_frame(build_snapshot(None, RawSample(0, 0, HOST, (big,))), XentopOptions())
    header, row = text.splitlines()
    assert row.startswith("a-very-lon --b---")
    assert "no limit" in row and row.split()[8] == "n/a"
    parse_rows(text)  # every field still under its header
    assert len(header) == len(row)


def test_dom0_first_and_case_insensitive_sort():
    names = ["b", "Domain-0", "A", "c"]
    domains = tuple(DomainSample(uuid=n, name=n, domid=i, state=DomainState.RUNNING, cpu_ns=0, vcpus_current=1,
                                 mem_kib=1, maxmem_kib=1) for i, n in enumerate(names))
    snap = build_snapshot(None, RawSample(0, 0, HOST, domains))
    assert [r["NAME"] for r in parse_rows(format_frame(snap, XentopOptions()))] == ["A", "b", "c", "Domain-0"]
    first = parse_rows(format_frame(snap, XentopOptions(dom0_first=True)))
    assert [r["NAME"] for r in first] == ["Domain-0", "A", "b", "c"]


def test_inactive_domains_are_not_listed():
    off = DomainSample(uuid="x", name="off", domid=None, state=DomainState.SHUTOFF)
    text = format_frame(build_snapshot(None, RawSample(0, 0, HOST, (off,))), XentopOptions())
    assert text.splitlines()[0].split()[0] == "NAME" and len(text.splitlines()) == 1


def test_vcpu_line_wraps_every_five():
    vcpus = tuple(VcpuSample(i, time_ns=i * S) for i in range(7))
    d = DomainSample(uuid="u", name="wide", domid=1, state=DomainState.RUNNING, cpu_ns=0, vcpus_current=7,
                     mem_kib=1, maxmem_kib=1, vcpus=vcpus)
    text = format_frame(build_snapshot(None, RawSample(0, 0, HOST, (d,))), XentopOptions(vcpus=True))
    lines = text.splitlines()
    assert lines[2].startswith("VCPUs(sec):   0:          0s  1:")
    assert lines[3] == "          5:          5s  6:          6s"
