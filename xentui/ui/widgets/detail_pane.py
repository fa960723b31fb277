"""The detail pane under the table: the selected domain's vCPU, network, block and Cache QoS lines (xentop's
-v -n -x, and l) and a running job's figures (a migration, save, block job, ...); hidden while there is none."""

from __future__ import annotations

from collections.abc import Set
from typing import TYPE_CHECKING

from textual.message import Message
from textual.widgets import Static

from xentui.model import BlockLatency, DomainSample, DomainView, HostSample, sum_parts
from xentui.output.xentop import net_line, vbd_line, vcpu_line
from xentui.text import one_line, visible
from xentui.ui.agent_render import agent_lines
from xentui.ui.cache_render import cache_lines
from xentui.ui.columns import ms_text
from xentui.ui.guest_mem_render import guest_mem_lines
from xentui.ui.job_text import job_line
from xentui.ui.literal import Visible, lines
from xentui.ui.pressure_render import host_side_lines
from xentui.units import number

if TYPE_CHECKING:
    from xentui.ui.app import XentuiApp


class DetailPane(Static):
    """Plain text lines ("[ca: 0]" is not markup), the domain's name first."""

    class Shown(Message):
        """The details of another domain are shown now (its guest agent is read at once: GuestFollow)."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    _shown: str | None = None

    def show(self, view: DomainView | None, details: Set[str], host: HostSample | None, attach_key: str = "A",
             now: float | None = None) -> None:
        """``now``: the wall time of the tick shown (agent facts are dated by it: a replay, a paused screen)."""
        job = view.sample.job if view is not None else None  # a job shows while it runs
        if (key := view.key if view is not None and details else None) != self._shown:
            self._shown = key
            if key is not None:
                self.post_message(self.Shown(key))
        self.set_class((not details and job is None) or view is None, "-hidden")
        if (not details and job is None) or view is None:
            return
        shown = [Visible(visible(view.name) + (f": {one_line(view.sample.stale)}" if view.sample.stale else ""))]
        if job is not None:
            shown.append(Visible(job_line(job)))  # numbers and fixed words
        if "vcpus" in details:
            shown.extend(map(Visible, vcpu_line(view).split("\n")))  # numbers only
            if view.sample.overhead_ns is not None:
                shown.append(Visible(cpu_split_line(view)))  # numbers only
            shown.extend(guest_lines(view.sample))  # a recording's words are not checked: lines() makes them visible
            shown.extend(host_side_lines(view))  # numbers, fixed words, the cgroup (lines() makes it visible)
            shown.extend(map(Visible, guest_mem_lines(view)))  # numbers only
        if "nets" in details:
            shown.extend(Visible(net_line(i, n)) for i, n in enumerate(view.sample.nets))  # numbers only
        if "vbds" in details:
            latency = view.rates.blk_latency  # the name made visible; ms per request where the disk reports times
            shown.extend(Visible(vbd_line(i, b) + (latency_text(latency[i]) if latency else ""))
                         for i, b in enumerate(view.sample.blocks))
        if "cache" in details:
            shown.extend(cache_lines(view, host, attach_key))
        # The guest's facts after the lines asked for: the pane's height is capped, and a guest's 10-20 lines of
        # interfaces and filesystems must not push the disks out of sight.
        shown.extend(agent_lines(view.sample.agent, now))
        self.update(lines(shown))


class GuestFollow:
    """The App's handler (a mixin: app.py is at its size cap): the source reads the agent of the domain whose
    details were just shown, rather than at its next turn (never blocks)."""

    def on_detail_pane_shown(self: XentuiApp, message: DetailPane.Shown) -> None:  # type: ignore[misc]
        self.source.watch_guest(message.key)


def latency_text(lat: BlockLatency) -> str:
    """A disk's ms per read, write and flush request over the interval (-: none done)."""
    return f"  RD {ms_text(lat.rd_ms)} ms  WR {ms_text(lat.wr_ms)} ms  FL {ms_text(lat.fl_ms)} ms"


OVERHEAD_SOURCE = {"qemu-xen": "its QEMU in dom0", "qemu-xen-traditional": "its QEMU in dom0",
                   "stubdom": "its stub domain"}


def cpu_split_line(view: DomainView) -> str:
    """The domain's CPU(%) split: its vCPUs' sum and the overhead beyond them (QEMU's own threads)."""
    rates = view.rates
    vcpus = sum_parts([v.cpu_pct for v in rates.vcpus], empty=None)  # unknown when one vCPU's is
    source = OVERHEAD_SOURCE.get(view.sample.device_model or "", "QEMU's emulator and I/O threads")
    return f"CPU(%) {number(rates.cpu_pct)} = vCPUs {number(vcpus)} + overhead {number(rates.overhead_pct)} ({source})"


def guest_lines(d: DomainSample) -> list[str]:
    """What the guest is and its PCI host devices, when known (nothing when not: no line of unknowns)."""
    out = []
    if d.domain_type is not None or d.device_model is not None:
        model = d.device_model or "-"
        why = " (its back-ends run in dom0's kernel: not counted)" if model == "none" else ""
        out.append(f"type {d.domain_type or '-'}, device model {model}{why}")
    if d.hostdevs:
        out.append(f"PCI {len(d.hostdevs)}: {', '.join(d.hostdevs)}")
    return out
