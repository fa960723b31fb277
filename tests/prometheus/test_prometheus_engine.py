"""PrometheusSource against a real Prometheus 2.42 scraping kumina's exporter (Debian's packages) every second,
on a real busy KVM guest: its CPU(%) agrees with ``virsh domstats --cpu-total`` over the very same window, a
stopped exporter makes its host DOWN with Prometheus's reason, and history comes from query_range."""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest

from tests.integration.conftest import URI, Guests, LiveConnection, destroy_orphans
from tests.prometheus.engine import Engine, VirshPoller, wait_for
from xentui.model import HostState, build_snapshot
from xentui.sources.prometheus import PrometheusSource


@pytest.fixture(scope="module")
def conn() -> Iterator[libvirt.virConnect]:
    c = LiveConnection()
    destroy_orphans(c)
    yield c


@pytest.fixture(scope="module")
def busy(conn) -> Iterator[libvirt.virDomain]:
    g = Guests(conn)
    try:
        yield g.start("busy", settle=True)
    finally:
        g.cleanup()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, busy) -> Iterator[Engine]:
    """Prometheus + exporter, torn down whatever happens; ready once the guest has been scraped twice."""
    e = Engine(tmp_path_factory.mktemp("prometheus"))
    try:
        e.start()
        e.wait_scraped(f'count_over_time(libvirt_domain_info_cpu_time_seconds_total{{domain="{busy.name()}"}}'
                       "[10s]) >= 2")
        yield e
    finally:
        e.close()


@pytest.fixture
def source(engine) -> Iterator[PrometheusSource]:
    s = PrometheusSource(f"prometheus+{engine.url}", timeout_s=5)
    yield s
    s.close()


def test_busy_guest_cpu_agrees_with_virsh_domstats_over_the_same_window(engine, source, busy):
    virsh = VirshPoller(URI, busy.name())
    try:
        wait_for("a virsh reading", lambda: virsh.readings, timeout=30)
        first = virsh.readings[0][1]

        def window():  # a tick whose two scrapes both fall after the first virsh reading
            raw = source.collect()
            part = raw.parts[0] if raw.parts else None
            return raw if part and part.prev is not None and part.prev.monotonic > first else None

        raw = wait_for("two scrapes inside the virsh readings", window, timeout=30)
        t0, t1 = raw.parts[0].prev.monotonic, raw.parts[0].cur.monotonic
        durations = {t: float(v) for t, v in engine.query(f'scrape_duration_seconds{{instance="{engine.instance}"}}'
                                                          "[10s]")[0]["values"]}
        d0, d1 = durations[t0], durations[t1]  # the exporter read libvirt somewhere in [t, t + d]
        wait_for("a virsh call begun after the second scrape ended", lambda: virsh.readings[-1][0] >= t1 + d1)
    finally:
        virsh.close()
    view = next(v for v in build_snapshot(None, raw).domains if v.name == busy.name())
    assert view.sample.host == raw.parts[0].name and view.rates.cpu_pct is not None
    virsh.assert_agrees(view.rates.cpu_pct, (t0, t1), (d0, d1))
    assert view.rates.cpu_pct > 3  # it spins (14 % with the load at 6 on 2 cores); an idle guest halts: < 1 %


def test_a_stopped_exporter_makes_its_host_down_with_prometheus_reason(engine, source, busy):
    up = source.collect()
    assert [p.state for p in up.parts] == [HostState.UP]
    assert any(d.name == busy.name() for d in up.domains)
    engine.stop_exporter()

    def down():
        raw = source.collect()
        return raw if raw.parts[0].state is HostState.DOWN else None

    try:
        raw = wait_for("the host marked down", down, timeout=30, every=0.5)
    finally:
        engine.start_exporter()  # for the tests after this one
    part = raw.parts[0]
    # Prometheus' own words: "refused", or "reset by peer" when the exporter died in the middle of a scrape
    assert ("connection refused" in part.reason or "connection reset by peer" in part.reason), part.reason
    assert engine.instance in part.reason
    shot = build_snapshot(up, raw)
    row = next(d for d in shot.domains if d.name == busy.name())
    assert row.sample.stale.startswith(f"host {part.name} down: ")  # its last rows, said to be old


def test_history_comes_from_query_range(engine, source, busy):
    wait_for("4 scrapes of the guest", lambda: engine.query(
        f'count_over_time(libvirt_domain_info_cpu_time_seconds_total{{domain="{busy.name()}"}}[30s]) >= 4'))
    key = wait_for("the guest through the source", lambda: next(
        (d.key for d in source.collect().domains if d.name == busy.name()), None))
    points = source.history(key, 30)
    rates = [p.cpu_pct for p in points if p.cpu_pct is not None]
    assert len(rates) >= 3 and all(r > 3 for r in rates)  # the spinning guest, each step
    assert all(p.mem_kib == 32 * 1024 for p in points)
    assert [p.wall for p in points] == sorted(p.wall for p in points)
