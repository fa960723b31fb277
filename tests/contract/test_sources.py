"""The Source contract, one suite for every source: synthetic, libvirt's test driver, libvirt on the
real lab (``lab``), Xen over a fake libxenstat, a replay, and a fleet of two test-driver hosts.

What every source must do: ``collect`` gives a :class:`RawSample` whose invariants hold; the optional
methods answer their neutral types; a read-only session never reaches ``act``; ``CAN_ACT`` says
truthfully whether ``act`` does something; ``close`` twice is safe.  Callers use the base class's
names only, so nothing here looks at a source's attributes beyond :class:`Source`.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from tests.fake_xenstat import FakeXenStat, FakeXenStore, FakeXl
from tests.libvirt_test_driver import driver_xml
from tests.recordings import write
from xentui.actions import READ_ONLY, Action, ActionError, perform
from xentui.model import DomainSample, DomainState, RawSample
from xentui.recording.reader import ReplaySource
from xentui.sources.base import Source
from xentui.sources.fleet import FleetSource, HostSpec
from xentui.sources.libvirt import LibvirtSource
from xentui.sources.synthetic import SyntheticSource
from xentui.sources.xen import XenSource

Make = Callable[[bool], Source]  # readonly -> a new source


@dataclass
class Kind:
    """How to make one kind of source, and (for one that acts) an action whose effect shows."""

    make: Make
    action: Action | None = None  # taken on the first running domain; None: do not act (a real host)
    params: dict[str, object] | None = None
    acted: Callable[[Source, DomainSample], bool] | None = None  # did the action take effect?


def _state_after(state: DomainState) -> Callable[[Source, DomainSample], bool]:
    def acted(source: Source, domain: DomainSample) -> bool:
        return next(d for d in source.collect().domains if d.uuid == domain.uuid).state is state

    return acted


def _synthetic() -> Kind:
    def pinned(source: Source, domain: DomainSample) -> bool:
        now = next(d for d in source.collect().domains if d.uuid == domain.uuid)
        return now.vcpus[0].hard_affinity == frozenset({0})

    return Kind(lambda ro: SyntheticSource(count=6, readonly=ro, cache=True), Action.PIN, {"vcpu": 0, "hard": "0"},
                pinned)


def _libvirt_test(tmp: Path) -> Kind:
    path = tmp / "host.xml"
    path.write_text(driver_xml(3))
    return Kind(lambda ro: LibvirtSource(f"test://{path}", readonly=ro), Action.PAUSE, {},
                _state_after(DomainState.PAUSED))


def _fleet(tmp: Path) -> Kind:
    """Two test-driver hosts (UUIDs of their own) as one FleetSource: actions go to the domain's host."""
    specs = []
    for n in range(2):
        path = tmp / f"fleet{n}.xml"
        path.write_text(driver_xml(2, host=n + 1))
        specs.append(HostSpec(f"h{n}", f"test://{path}"))
    return Kind(lambda ro: FleetSource(specs, readonly=ro), Action.PAUSE, {}, _state_after(DomainState.PAUSED))


def _xen_fake() -> Kind:
    xl = FakeXl()

    def sent(_source: Source, domain: DomainSample) -> bool:
        return ("pause", str(domain.domid)) in xl.actions

    return Kind(lambda ro: XenSource(readonly=ro, stat=FakeXenStat(), store=FakeXenStore(), run=xl,
                                     cpuinfo=lambda: None),
                Action.PAUSE, {}, sent)


def _lab(request: pytest.FixtureRequest) -> Kind:
    """The local libvirtd (started when absent) with one idle guest of this test's own, destroyed after."""
    import libvirt

    from xentui import lab

    conn = lab.connect()
    guest = lab.start_guest(conn, f"xtest-{os.getpid()}-contract-{uuid.uuid4().hex[:4]}", "idle")

    def cleanup() -> None:
        with contextlib.suppress(libvirt.libvirtError):
            guest.destroy()
        conn.close()

    request.addfinalizer(cleanup)
    return Kind(lambda ro: LibvirtSource(lab.URI, readonly=ro))  # no action is taken on a real host here


def _replay(tmp: Path) -> Kind:
    synthetic = SyntheticSource(count=4)
    path = write(tmp / "r.xtrec", [synthetic.collect() for _ in range(6)])
    return Kind(lambda _ro: cast(Source, ReplaySource.open(path)))  # a Source subclass after the replay work


KINDS = ["synthetic", "libvirt-test", "xen-fake", "replay", "fleet", pytest.param("libvirt-lab", marks=pytest.mark.lab)]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Kind:
    makers: dict[str, Callable[[], Kind]] = {
        "synthetic": _synthetic, "libvirt-test": lambda: _libvirt_test(tmp_path), "xen-fake": _xen_fake,
        "replay": lambda: _replay(tmp_path), "libvirt-lab": lambda: _lab(request), "fleet": lambda: _fleet(tmp_path)}
    return makers[request.param]()


@pytest.fixture
def opened(kind: Kind) -> Iterator[list[Source]]:
    """Sources made by a test, each closed afterwards (twice: the contract says that is safe)."""
    made: list[Source] = []
    yield made
    for source in made:
        source.close()
        source.close()


def _open(kind: Kind, opened: list[Source], readonly: bool = True) -> Source:
    source = kind.make(readonly)
    opened.append(source)
    return source


def _invariants(raw: RawSample) -> None:
    assert isinstance(raw, RawSample)
    uuids = [d.uuid for d in raw.domains]
    assert len(uuids) == len(set(uuids)), "a UUID appears twice"
    assert raw.host.pcpus > 0 and raw.host.mem_total_kib >= raw.host.mem_free_kib >= 0
    for d in raw.domains:
        counters = [d.cpu_ns, d.mem_kib, d.maxmem_kib, d.rss_kib, d.vcpus_current, d.vcpus_max,
                    *(v.time_ns for v in d.vcpus),
                    *(getattr(n, f) for n in d.nets for f in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")),
                    *(getattr(b, f) for b in d.blocks for f in ("rd_bytes", "wr_bytes", "rd_reqs", "wr_reqs"))]
        assert all(c is None or c >= 0 for c in counters), f"{d.name}: a negative counter in {counters}"
    for text in (*raw.errors, *raw.notices):
        assert isinstance(text, str) and "\n" not in text


def test_is_a_source_with_the_contracts_facts(kind: Kind, opened: list[Source]) -> None:
    source = _open(kind, opened)
    assert isinstance(source.uri, str) and source.uri
    assert source.readonly is True
    for flag in (source.CAN_ACT, source.HAS_EVENTS, source.HAS_PLACEMENT):
        assert isinstance(flag, bool)


def test_collect_gives_samples_whose_invariants_hold_and_time_grows(kind: Kind, opened: list[Source]) -> None:
    source = _open(kind, opened)
    first = source.collect()
    second = source.collect()
    _invariants(first)
    _invariants(second)
    assert second.monotonic > first.monotonic
    assert second.wall >= first.wall


def test_optional_methods_answer_their_neutral_types(kind: Kind, opened: list[Source]) -> None:
    source = _open(kind, opened)
    raw = source.collect()
    assert source.reachable() in (True, False, None)
    said = source.subscribe(lambda _uuid: None)
    assert said is None or (isinstance(said, str) and said)
    if not source.HAS_EVENTS:
        assert isinstance(said, str)  # a source without events says why not
    uuid = raw.domains[0].uuid if raw.domains else "no-such-domain"
    source.set_interest(uuid, all_pcpus=True)
    _invariants(source.collect())
    source.set_interest(None)
    _invariants(source.collect())
    for domain in raw.domains:
        assert source.current_uuid(domain) in (domain.uuid, None)
    assert source.history(uuid, 60) is None  # none of these keeps a history of its own (Prometheus does)


def _running(source: Source) -> tuple[DomainSample, RawSample]:
    raw = source.collect()
    running = [d for d in raw.domains if d.state in (DomainState.RUNNING, DomainState.BLOCKED) and d.domid != 0]
    if not running:
        pytest.skip("no running domain to act on")
    return running[0], raw


def test_a_read_only_session_never_reaches_act(kind: Kind, opened: list[Source]) -> None:
    source = _open(kind, opened)
    domain, raw = _running(source)
    with pytest.raises(ActionError, match=re.escape(READ_ONLY)):
        perform(source, domain, Action.PAUSE, host=raw.host)
    assert next(d for d in source.collect().domains if d.uuid == domain.uuid).state is not DomainState.PAUSED


def test_can_act_matches_what_act_does(kind: Kind, opened: list[Source]) -> None:
    source = _open(kind, opened, readonly=False)
    domain, raw = _running(source)
    if not source.CAN_ACT:
        with pytest.raises(ActionError, match="takes no actions"):
            source.act(domain, Action.PAUSE, {})
        return
    if kind.action is None:
        pytest.skip("no action is taken on a real host's guests here")
    perform(source, domain, kind.action, host=raw.host, **(kind.params or {}))
    assert kind.acted is not None and kind.acted(source, domain)


def test_close_twice_is_safe_even_unused(kind: Kind) -> None:
    source = kind.make(True)
    source.close()
    source.close()
