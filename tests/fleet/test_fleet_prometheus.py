"""The lab through its Prometheus (2.42, one Debian exporter per host, a scrape every 2 s): every host a part,
and h2's busy guest's CPU(%) within what ``virsh -c h2 domstats`` says over the very same scrape window.
(Run under `flock /tmp/xentui-lab.lock`.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fleet import lab
from tests.prometheus.engine import VirshPoller, get_json, wait_for
from xentui.model import HostState, RawSample, build_snapshot
from xentui.sources.prometheus import PrometheusSource


@pytest.fixture
def source(fleet_lab: lab.FleetLab) -> Iterator[PrometheusSource]:
    s = PrometheusSource("prometheus+" + fleet_lab.prometheus_url, timeout_s=5)
    try:
        yield s
    finally:
        s.close()


def part_of(raw: RawSample, host: lab.LabHost):
    return next((p for p in raw.parts if host.exporter in (p.name, p.uri) or host.exporter in p.uri), None)


def test_every_lab_host_is_a_part_with_its_own_guests(fleet_lab: lab.FleetLab, source: PrometheusSource) -> None:
    def all_up():
        raw = source.collect()
        parts = [part_of(raw, h) for h in fleet_lab.hosts]
        return raw if all(p is not None and p.state is HostState.UP and p.prev is not None for p in parts) else None

    raw = wait_for("every lab host up through Prometheus", all_up, timeout=60)
    shot = build_snapshot(None, raw)
    for h in fleet_lab.hosts:
        part = part_of(raw, h)
        names = {d.name for d in shot.domains if d.host == part.name}
        assert set(h.guests) <= names, f"{h.name} ({part.name}): {names}"
    assert any(n.startswith("Prometheus, ") and n.endswith(" s behind") for n in raw.parts[0].cur.notices)


def test_a_busy_guest_on_h2_through_prometheus_agrees_with_virsh_over_the_same_window(
        fleet_lab: lab.FleetLab, source: PrometheusSource) -> None:
    h2 = fleet_lab.host("h2")
    guest = next(g for g in h2.guests if g.endswith("-busy"))
    virsh = VirshPoller(h2.uri, guest)
    try:
        wait_for("a virsh reading", lambda: virsh.readings, timeout=30)
        first = virsh.readings[0][1]

        def window():  # a tick whose two scrapes of h2 both fall after the first virsh reading
            raw = source.collect()
            part = part_of(raw, h2)
            return raw if part and part.prev is not None and part.prev.monotonic > first else None

        raw = wait_for("two scrapes of h2 inside the virsh readings", window, timeout=60)
        part = part_of(raw, h2)
        t0, t1 = part.prev.monotonic, part.cur.monotonic
        query = f'scrape_duration_seconds{{instance="{h2.exporter}"}}[30s]'
        answer = get_json(f"{fleet_lab.prometheus_url}/api/v1/query?query={query}")["data"]["result"]
        durations = {t: float(v) for t, v in answer[0]["values"]}
        d0, d1 = durations[t0], durations[t1]  # the exporter read libvirt somewhere in [t, t + d]
        wait_for("a virsh call begun after the second scrape ended", lambda: virsh.readings[-1][0] >= t1 + d1)
    finally:
        virsh.close()
    view = next(v for v in build_snapshot(None, raw).domains if v.name == guest)
    assert view.sample.host == part.name and view.rates.cpu_pct is not None
    virsh.assert_agrees(view.rates.cpu_pct, (t0, t1), (d0, d1))
