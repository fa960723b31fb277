"""``frozen_record``'s generated ``evolve``: the same copy as ``dataclasses.replace``, its derived fields made again."""

from __future__ import annotations

import dataclasses

import pytest

from tests.factories import dom
from xentui.model import DomainState, NetSample, evolve
from xentui.model.views import DomainRates


def test_evolve_is_replace_for_every_field():
    sample = dom(3.0, nets=(NetSample("vnet0", 1, 2, 0, 0, 3, 4, 0, 0),), stale="x")
    other = dom(9.0, uuid="22222222-2222-3333-4444-555555555555", name="db", domid=3, state=DomainState.PAUSED,
                mem_kib=1024, vcpus_max=4, stale="", host="h2", monitor_at=5.0, kernel_at=6.0, domain_type="pvh")
    for f in dataclasses.fields(sample):
        if f.init:
            value = getattr(other, f.name)
            assert evolve(sample, **{f.name: value}) == dataclasses.replace(sample, **{f.name: value})
    assert evolve(sample, **{f.name: getattr(other, f.name) for f in dataclasses.fields(other) if f.init}) == other
    rates = DomainRates(cpu_pct=12.5)
    assert evolve(rates, blk_rd_ms=3.0) == dataclasses.replace(rates, blk_rd_ms=3.0)
    assert evolve(rates) == rates and evolve(rates) is not rates


def test_evolve_makes_the_derived_fields_again_and_stays_frozen():
    sample = dom(1.0, nets=(NetSample("vnet0", 100, 1, 0, 0, 200, 2, 0, 0),))
    more = evolve(sample, nets=(NetSample("vnet0", 1000, 10, 0, 0, 2000, 20, 0, 0),))
    assert (sample.io.net_rx_bytes, more.io.net_rx_bytes) == (100, 1000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        more.name = "other"  # type: ignore[misc]


def test_evolve_refuses_a_field_the_record_has_not():
    with pytest.raises(TypeError, match="no field 'io'"):
        evolve(dom(1.0), io=None)  # derived: not given, made
    with pytest.raises(TypeError, match="no field 'nmae'"):
        evolve(dom(1.0), nmae="x")


def test_a_copy_that_leaves_the_devices_alone_keeps_their_totals_without_making_them_again(monkeypatch):
    sample = dom(1.0, nets=(NetSample("vnet0", 100, 1, 0, 0, 200, 2, 0, 0),))
    expected = dataclasses.replace(sample, name="web2", stale="x")
    made = []
    monkeypatch.setattr(type(sample), "__post_init__", lambda self: made.append(self) or type(sample).__dict__[
        "io"].__set__(self, None))
    renamed = evolve(sample, name="web2", stale="x")
    assert made == [] and renamed.io is sample.io and renamed == expected
    evolve(sample, nets=())
    assert len(made) == 1 and made[0].io is None  # a device field changed: made again
