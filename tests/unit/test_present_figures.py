"""model.present: which optional figures some domain of a snapshot has, each as the model defines it."""

from __future__ import annotations

import pytest

from tests.factories import dom, raw
from xentui.model import BalloonStats, BlockSample, CacheSample, VcpuSample, build_snapshot
from xentui.model import present as p
from xentui.model.guest_agent import AgentStatus, GuestAgent
from xentui.model.pressure import NumaSample, PressureSample

WITH = {  # figure -> the sample fields that give a domain that figure
    p.CACHE: {"cache": CacheSample("resctrl")},
    p.HOSTDEVS: {"hostdevs": ("0000:03:00.1",)},
    p.PRESSURE: {"pressure": PressureSample("/machine.slice/vm")},
    p.NUMA: {"numa": NumaSample("numa_maps", ((0, 1024),))},
    p.AGENT: {"agent": GuestAgent(AgentStatus.OK, 1.0, hostname="web")},
    p.GUEST_MEM: {"balloon": BalloonStats(available_kib=1024, usable_kib=512)},
    p.BLOCK_TIMES: {"blocks": (BlockSample("vda"), BlockSample("vdb", wr_times_ns=5))},
    p.OVERHEAD: {"overhead_ns": 0},
    p.DOMAIN_TYPE: {"domain_type": "hvm"},
    p.VCPU_DELAY: {"vcpus": (VcpuSample(0), VcpuSample(1, delay_ns=0))},
}


def views(*extras: dict) -> tuple:
    plain = [dom(1, uuid=f"u{i}", name=f"d{i}") for i in range(3)]
    more = [dom(1, uuid=f"x{i}", name=f"x{i}", **kw) for i, kw in enumerate(extras)]
    return build_snapshot(None, raw(0.0, *plain, *more)).domains


def test_every_figure_is_tested():
    assert set(WITH) == p.FIGURES


@pytest.mark.parametrize("figure", sorted(WITH))
def test_one_domain_with_the_figure_is_enough(figure):
    assert p.present(views(WITH[figure])) == {figure}


def test_none_without_figures_and_all_together():
    assert p.present(()) == frozenset()
    assert p.present(views()) == frozenset()
    assert p.present(views(*WITH.values())) == p.FIGURES
    merged = {k: v for kw in WITH.values() for k, v in kw.items()}
    assert p.present(views(merged)) == p.FIGURES


def test_what_does_not_count():
    unanswered = GuestAgent(AgentStatus.NO_AGENT, 1.0)  # asked, no facts: no IP or AGENT column
    assert p.present(views({"agent": unanswered}, {"blocks": (BlockSample("vda", rd_reqs=3),)},
                           {"vcpus": (VcpuSample(0, time_ns=5),)}, {"hostdevs": ()})) == frozenset()
