"""Shared test data: made-up hosts and domains, the Xen capture's domains, synthetic samples, the CLI in-process.

Test modules import helpers from here (never from one another).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import libvirt

from xentui import cli
from xentui.model import (
    BlockSample,
    DomainSample,
    DomainState,
    HostSample,
    NetSample,
    RawSample,
    Snapshot,
    VcpuSample,
    build_snapshot,
)
from xentui.sources.synthetic import SyntheticSource

# A KVM host: 4 pCPUs, 4 GiB.
HOST = HostSample(
    hostname="h", hypervisor="QEMU", hypervisor_version="7.2.0", uri="qemu:///system",
    pcpus=4, mhz=2000, mem_total_kib=4 * 1024 * 1024, mem_free_kib=1024 * 1024,
)
UUID = "11111111-2222-3333-4444-555555555555"


def dom(cpu_s: float, *, uuid: str = UUID, name: str = "web", domid: int | None = 7,
        state: DomainState = DomainState.RUNNING, **kw: Any) -> DomainSample:
    """A domain that has used ``cpu_s`` seconds of CPU; other fields by keyword."""
    return DomainSample(uuid=uuid, name=name, domid=domid, state=state, cpu_ns=int(cpu_s * 1e9), **kw)


def raw(t: float, *domains: DomainSample) -> RawSample:
    """A raw sample of HOST at monotonic ``t``."""
    return RawSample(monotonic=t, wall=1_700_000_000 + t, host=HOST, domains=domains)


# The Xen host of the capture: 3 GiB, 2 pCPUs.
XEN_HOST = HostSample(hostname="dom0", hypervisor="Xen", hypervisor_version="4.17.7", uri="xen:///system",
                  pcpus=2, mhz=2596, mem_total_kib=3 * 1024 * 1024, mem_free_kib=1024 * 1024)
S = 1_000_000_000


def capture_domains(cpu_extra_ns: int = 0) -> tuple[DomainSample, ...]:
    """The domains of xentop-b-full-domu.txt's first frame, as a source would report them."""
    dom0 = DomainSample(
        uuid="00000000-0000-0000-0000-000000000000", name="Domain-0", domid=0, state=DomainState.RUNNING,
        cpu_ns=113 * S + cpu_extra_ns, vcpus_current=2, mem_kib=1048576, maxmem_kib=1048576,
        vcpus=(VcpuSample(0, time_ns=66 * S + 1), VcpuSample(1, time_ns=46 * S + 7)),
    )
    probe1 = DomainSample(
        uuid="11111111-0000-0000-0000-000000000000", name="probe1", domid=2, state=DomainState.NOSTATE,
        cpu_ns=62 * S + 5, vcpus_current=2, mem_kib=131072, maxmem_kib=132096,
        vcpus=(VcpuSample(0, time_ns=27 * S), VcpuSample(1, time_ns=35 * S)),
        nets=(NetSample("vif2.0", rx_bytes=5080, rx_packets=65, rx_errs=0, rx_drop=0,
                        tx_bytes=6978, tx_packets=77, tx_errs=0, tx_drop=0),),
        blocks=(BlockSample("xvda", rd_reqs=428, wr_reqs=100, oo_reqs=0, rd_bytes=108824 * 512,
                            wr_bytes=25600 * 512, kind="BlkBack", devno=51712),),
    )
    probe2 = DomainSample(
        uuid="22222222-0000-0000-0000-000000000000", name="probe2", domid=3, state=DomainState.RUNNING,
        cpu_ns=26 * S, vcpus_current=2, mem_kib=131072, maxmem_kib=132096,
        vcpus=(VcpuSample(0, time_ns=13 * S), VcpuSample(1, time_ns=13 * S)),
        nets=(NetSample("vif3.0", rx_bytes=2280, rx_packets=30, rx_errs=0, rx_drop=0,
                        tx_bytes=2700, tx_packets=30, tx_errs=0, tx_drop=0),),
        blocks=(BlockSample("xvda", rd_reqs=156, wr_reqs=36, oo_reqs=0, rd_bytes=39192 * 512, wr_bytes=9216 * 512,
                            kind="BlkBack", devno=51712),),
    )
    return (probe2, dom0, probe1)  # any order: output sorts by name


def synthetic_samples(count: int = 6, domains: int = 12, cache: bool = False) -> list[RawSample]:
    source = SyntheticSource(count=domains, cache=cache)
    samples = [source.collect() for _ in range(count)]
    # the odd cases too: unknown counters, a shut-off domain, a stale one, errors and notices
    odd = DomainSample(uuid="u-off", name="off", domid=None, state=DomainState.SHUTOFF, flags="------",
                       stale="not answering: its QEMU monitor has been busy on one command for 9 s")
    last = samples[-1]
    samples[-1] = RawSample(last.monotonic, last.wall, last.host, (*last.domains, odd),
                            errors=("vm3: stats timed out",), notices=("2 domains not shown",), pcpu_busy_ns=None)
    return samples


def snapshots(count: int, domains: int = 3) -> Iterator[Snapshot]:
    """``count`` snapshots of a synthetic host, numbered from 1."""
    source = SyntheticSource(count=domains)
    prev = None
    for seq in range(1, count + 1):
        raw_sample = source.collect()
        yield build_snapshot(prev, raw_sample, seq)
        prev = raw_sample


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``xentui argv`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = cli.main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def wait_for(predicate: Any, what: str, timeout: float = 30.0) -> Any:
    """Poll ``predicate`` until it is true, and return what it gave; fail naming ``what`` after ``timeout`` s (a
    condition, not a sleep)."""
    import time

    deadline = time.monotonic() + timeout
    while not (got := predicate()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.01)
    return got


class LibvirtFailure(libvirt.libvirtError):
    """A libvirt error with its code given.  ``libvirtError(message)`` alone takes its code from the calling
    thread's last libvirt error: in a call thread a test driver's "not supported" had left, a fake monitor
    failure read as a driver without the call (a cold CI)."""

    def __init__(self, message: str, code: int = libvirt.VIR_ERR_INTERNAL_ERROR,
                 domain: int = libvirt.VIR_FROM_QEMU) -> None:
        Exception.__init__(self, message)
        self.err = (code, domain, message, libvirt.VIR_ERR_ERROR, "", None, None, -1, -1)
