"""Guest facts from the agent: libvirt's replies parsed with bounds, a missing, hung or refused agent, the
UI's cells and lines, batch JSON/CSV (issue 18, item 2).  The replies (tests/data/guest_agent/) are libvirt
9.0's guestInfo(0, 0) and interfaceAddresses(SRC_AGENT) of the lab's Linux guest (Debian 12, qemu-ga 7.2)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import libvirt
import pytest

from tests.factories import LibvirtFailure, wait_for
from tests.hostile import NAMES, unsafe_in
from xentui.limits import MAX_AGENT_ITEMS, MAX_AGENT_TEXT
from xentui.model import DomainRates, DomainSample, DomainState, DomainView
from xentui.model.guest_agent import AgentStatus, GuestAddress, GuestAgent, GuestInterface, first_ip
from xentui.output.guest import guest_record
from xentui.sources.libvirt import agent as agent_mod
from xentui.sources.libvirt import agent_parse as parse
from xentui.sources.libvirt.agent import AgentWatch
from xentui.ui.agent_render import agent_cell, agent_lines, ip_text

DATA = Path(__file__).parent.parent / "data" / "guest_agent"
UUID = "6a1f0d1e-0000-4000-8000-000000000001"


def recorded(name: str) -> dict:
    return json.loads((DATA / name).read_text())


class Domain:
    """A virDomain answering with recorded replies; ``hang`` holds guestInfo until set; ``refuse`` raises."""

    def __init__(self, info=None, ifaces=None, clock=None, refuse: Exception | None = None, uuid: str = UUID) -> None:
        self.uuid = uuid
        self.info = recorded("guestinfo.json") if info is None else info
        self.ifaces = recorded("interfaces.json") if ifaces is None else ifaces
        self.clock = clock
        self.refuse = refuse
        self.hang: threading.Event | None = None
        self.asked = 0
        self.domid = 1

    def UUIDString(self) -> str:
        return self.uuid

    def ID(self) -> int:
        return self.domid

    def guestInfo(self, types: int, flags: int) -> dict:
        self.asked += 1
        if self.hang is not None:
            self.hang.wait(10)
        if self.refuse is not None:
            raise self.refuse
        return self.info

    def interfaceAddresses(self, source: int, flags: int) -> dict:
        assert source == libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT
        return self.ifaces

    def getTime(self, flags: int) -> dict:
        if self.clock is not None:
            return self.clock
        now = time.time() + 2.5  # the guest's clock 2.5 s ahead
        return {"seconds": int(now), "nseconds": int(now % 1 * 1e9)}


def view_of(agent: GuestAgent | None) -> DomainView:
    sample = DomainSample(uuid=UUID, name="g", domid=1, state=DomainState.RUNNING, agent=agent)
    return DomainView(sample=sample, rates=DomainRates(), mem_pct=None, maxmem_pct=None)


def watch() -> AgentWatch:
    return AgentWatch()  # the calls go to the given handles


def test_recorded_replies_give_every_fact():
    info = recorded("guestinfo.json")
    got = watch().read_one(Domain(), None)
    assert got.status is AgentStatus.OK
    assert got.hostname == info["hostname"]
    assert got.os_name == info["os.name"] and got.kernel == info["os.kernel-release"]
    mounts = {f.mountpoint: (f.used_bytes, f.total_bytes) for f in got.filesystems}
    for n in range(info["fs.count"]):
        assert mounts[info[f"fs.{n}.mountpoint"]] == (info.get(f"fs.{n}.used-bytes"), info.get(f"fs.{n}.total-bytes"))
    ifaces = recorded("interfaces.json")
    assert [i.name for i in got.interfaces] == list(ifaces)
    for i in got.interfaces:
        assert [a.address for a in i.addresses] == [a["addr"] for a in ifaces[i.name]["addrs"] or []]
    assert 2.0 < got.time_offset_s < 3.0  # the recorded guest ran 2.5 s ahead; the call's own time is halved
    # The IP: neither loopback nor link-local, IPv4 first
    expected = next(a["addr"] for i in ifaces.values() for a in i["addrs"] or []
                    if a["type"] == 0 and not a["addr"].startswith("127."))
    assert got.ip == expected and ip_text(view_of(got)) == expected


def test_the_ip_skips_link_local_and_loopback_and_prefers_ipv4():
    assert first_ip((
        GuestInterface("lo", None, (GuestAddress("127.0.0.1", 8), GuestAddress("::1", 128, "ipv6"))),
        GuestInterface("eth0", None, (GuestAddress("fe80::1", 64, "ipv6"), GuestAddress("169.254.3.4", 16),
                                      GuestAddress("2001:db8::5", 64, "ipv6"), GuestAddress("10.0.2.15", 24))))) \
        == "10.0.2.15"
    assert first_ip((GuestInterface("eth0", None, (GuestAddress("fe80::1", 64, "ipv6"),
                                                   GuestAddress("2001:db8::5", 64, "ipv6"))),)) == "2001:db8::5"
    assert first_ip(()) is None and GuestAgent(AgentStatus.OK, 0.0).ip is None


def test_garbage_addresses_and_macs_are_dropped_not_shown():
    got = parse.interfaces({
        "eth0": {"hwaddr": "\x1b]0;x\x07", "addrs": [
            {"addr": "10.0.0.1\x1b[31m", "prefix": 24, "type": 0},  # not an address
            {"addr": "10.0.0.2", "prefix": 99, "type": 0},  # prefix out of range: kept, without it
            {"addr": "10.0.0.3", "prefix": 24, "type": 1},  # an IPv4 address said to be IPv6
            {"addr": "fe80::1%eth0", "prefix": 64, "type": 1},  # the scope dropped
            "not a dict", {"addr": 17}]},
        "eth1": "not a dict", 5: {"addrs": []}, "eth2": {"addrs": None}})
    assert [i.name for i in got] == ["eth0", "eth2"]
    assert got[0].hwaddr is None
    assert [str(a) for a in got[0].addresses] == ["10.0.0.2", "fe80::1/64"]


@pytest.mark.parametrize("cls", sorted(NAMES))
def test_hostile_names_reach_the_screen_only_made_visible(cls):
    name = NAMES[cls]
    info = {"hostname": name, "os.name": name, "os.kernel-release": name, "timezone.name": name,
            "fs.count": 1, "fs.0.mountpoint": name, "fs.0.fstype": name, "fs.0.used-bytes": 1, "fs.0.total-bytes": 2,
            "user.count": 1, "user.0.name": name}
    got = watch().read_one(Domain(info=info, ifaces={name: {"hwaddr": name, "addrs": []}}), None)
    assert got.hostname == name[:MAX_AGENT_TEXT]  # held as given (JSON escapes it) ...
    shown = agent_lines(got, now=got.read_wall)
    assert len(shown) == 4  # head, interface, filesystem, users
    for line in shown:
        assert unsafe_in(line) == [], line  # ... shown with every control and format character made visible
    record = json.dumps(guest_record(got), ensure_ascii=True)
    assert unsafe_in(record) == [] and json.loads(record)["hostname"] == name


def test_too_many_of_everything_is_bounded():
    many = 100_000
    info = {"hostname": "h" * 100_000, "fs.count": many, "user.count": 10**12,
            **{f"fs.{n}.mountpoint": f"/m{n}" for n in range(MAX_AGENT_ITEMS + 10)},
            **{f"user.{n}.name": f"u{n}" for n in range(MAX_AGENT_ITEMS + 10)}}
    ifaces = {f"eth{n}": {"hwaddr": None, "addrs": [{"addr": f"10.{n % 250}.{k // 250}.{k % 250}", "prefix": 8,
                                                     "type": 0} for k in range(200)]} for n in range(500)}
    got = watch().read_one(Domain(info=info, ifaces=ifaces), None)
    assert len(got.hostname) == MAX_AGENT_TEXT
    assert len(got.filesystems) == MAX_AGENT_ITEMS and len(got.users) == MAX_AGENT_ITEMS
    assert len(got.interfaces) == MAX_AGENT_ITEMS
    assert all(len(i.addresses) == MAX_AGENT_ITEMS for i in got.interfaces)
    assert parse.filesystems({"fs.count": -5}) == () and parse.users({"user.count": "3"}) == ()
    assert any("more interfaces" in line for line in agent_lines(got))


@pytest.mark.parametrize(("code", "words", "status"), [
    (libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED, "QEMU guest agent is not configured", AgentStatus.NO_AGENT),
    (libvirt.VIR_ERR_AGENT_UNRESPONSIVE, "QEMU guest agent is not connected", AgentStatus.NO_AGENT),
    (libvirt.VIR_ERR_AGENT_UNRESPONSIVE, "Guest agent is not responding: Guest agent not available for now",
     AgentStatus.NOT_ANSWERING),
    (libvirt.VIR_ERR_OPERATION_DENIED, "operation forbidden: read only access prevents virDomainGetGuestInfo",
     AgentStatus.READ_ONLY),
    (libvirt.VIR_ERR_OPERATION_INVALID, "domain is not running", AgentStatus.FAILED),
])
def test_a_refused_agent_is_one_word_and_keeps_the_last_facts(code, words, status):
    w = watch()
    good = w.read_one(Domain(), None)
    refused = Domain(refuse=LibvirtFailure(words, code))
    fresh = w.read_one(refused, None)
    assert (fresh.status, fresh.error, fresh.has_facts) == (status, words, False)
    assert agent_lines(fresh) == [f"guest: {status.value} ({words})"]
    kept = w.read_one(refused, good)
    assert kept.status is status and kept.hostname == good.hostname and kept.read_wall == good.read_wall
    assert kept.checked_wall is not None and kept.checked_wall >= good.read_wall
    assert agent_cell(view_of(kept)) in ("no", "hung", "ro", "err")


def test_a_hung_agent_is_not_answering_and_never_asked_on_top_of_itself(monkeypatch):
    monkeypatch.setattr(agent_mod, "CALL_S", 0.3)
    w, dom = watch(), Domain()
    dom.hang = threading.Event()
    try:
        began = time.monotonic()
        first = w.read_one(dom, None)
        assert first.status is AgentStatus.NOT_ANSWERING
        assert time.monotonic() - began < 3.0  # its deadline, not the agent's pace
        again = w.read_one(dom, first)  # the first call still hangs: refused at once, not asked again
        assert again.status is AgentStatus.NOT_ANSWERING and "has not returned" in again.error
        assert dom.asked == 1
        assert agent_lines(again)[0].startswith("guest: agent not answering")
    finally:
        dom.hang.set()
    wait_for(lambda: w._calls.hung(UUID) is None, "the hung call's return", 10)
    dom.hang = None
    assert w.read_one(dom, again).status is AgentStatus.OK  # answered once the hung call returned
    assert dom.asked == 2


def test_a_domain_with_no_agent_channel_is_asked_again_after_minutes_or_once_started_again():
    now = [0.0]
    w = AgentWatch(clock=lambda: now[0])
    no_channel = Domain(uuid=UUID.replace("1", "2"), refuse=LibvirtFailure(
        "argument unsupported: QEMU guest agent is not configured", libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED))
    not_up = Domain(uuid=UUID.replace("1", "3"), refuse=LibvirtFailure(
        "QEMU guest agent is not connected", libvirt.VIR_ERR_AGENT_UNRESPONSIVE))
    w._running = {d.uuid: d for d in (no_channel, not_up)}  # as handed by a tick (the thread not started)

    def round_after(seconds: float) -> tuple[int, int]:
        now[0] += seconds
        w._round()
        return no_channel.asked, not_up.asked

    assert round_after(0) == (1, 1)
    assert w.facts[no_channel.uuid].status is w.facts[not_up.uuid].status is AgentStatus.NO_AGENT
    assert round_after(agent_mod.EVERY_S) == (1, 2)  # its agent may start any time: asked again
    assert round_after(agent_mod.NO_CHANNEL_S - agent_mod.EVERY_S) == (2, 3)
    assert round_after(agent_mod.EVERY_S) == (2, 4)
    no_channel.domid, no_channel.refuse = 2, None  # started again, with a channel now and an agent answering
    assert round_after(agent_mod.EVERY_S) == (3, 5) and w.facts[no_channel.uuid].status is AgentStatus.OK
    assert round_after(agent_mod.EVERY_S) == (4, 6)  # at the usual pace


def test_a_driver_without_the_calls_is_no_agent():
    none = libvirt.VIR_ERR_NO_SUPPORT

    class Bare(Domain):
        def interfaceAddresses(self, source, flags):
            raise LibvirtFailure("this function is not supported by the connection driver", none)

        def getTime(self, flags):
            raise LibvirtFailure("this function is not supported by the connection driver", none)

    got = watch().read_one(Bare(refuse=LibvirtFailure("this function is not supported", none)), None)
    assert got.status is AgentStatus.NO_AGENT


def test_the_real_test_driver_through_a_read_only_connection_says_read_write_is_needed():
    conn = libvirt.openReadOnly("test:///default")
    try:
        got = watch().read_one(conn.lookupByName("test"), None)
    finally:
        conn.close()
    assert got.status is AgentStatus.READ_ONLY and "read only" in got.error


def test_the_clock_offset_is_against_the_middle_of_the_call():
    assert parse.clock_offset({"seconds": 110, "nseconds": 500_000_000}, 100.0, 102.0) == 9.5
    assert parse.clock_offset({"seconds": "110"}, 100.0, 102.0) is None
    assert parse.clock_offset({"seconds": 10**15}, 100.0, 102.0) is None
    assert parse.clock_offset({"seconds": 1, "nseconds": -1}, 100.0, 102.0) is None


def test_batch_json_has_guest_and_csv_the_ip():
    from tests.factories import dom, raw
    from xentui.model import build_snapshot
    from xentui.output import records

    got = watch().read_one(Domain(), None)
    other = "22222222-2222-3333-4444-555555555555"
    snap = build_snapshot(raw(0.0, dom(1, agent=got), dom(1, uuid=other, name="bare")),
                          raw(2.0, dom(2, agent=got), dom(2, uuid=other, name="bare")), seq=2)
    frame = json.loads(records.json_frame(snap, 2))
    by_name = {d["name"]: d for d in frame["domains"]}
    guest = by_name["web"]["guest"]
    assert guest["status"] == "ok" and guest["hostname"] == recorded("guestinfo.json")["hostname"]
    assert by_name["web"]["ip"] == guest["ip"] == got.ip
    assert guest["interfaces"][1]["addresses"][0] == {"address": "192.0.2.2", "prefix": 24, "family": "ipv4"}
    assert guest["filesystems"][0]["used_bytes"] == recorded("guestinfo.json")["fs.0.used-bytes"]
    assert by_name["bare"]["guest"] is None and by_name["bare"]["ip"] is None
    rows = (records.csv_header() + records.csv_rows(snap, 2)).splitlines()
    ip = rows[0].split(",").index("ip")
    assert sorted(r.split(",")[ip] for r in rows[1:]) == ["", got.ip]


def test_a_read_only_source_asks_through_its_own_read_write_connection_and_lists_nothing():
    from tests.libvirt_test_driver import counting_round_trips
    from xentui.sources.libvirt import LibvirtSource

    source = LibvirtSource("test:///default", readonly=True, guest_agent=True)
    try:
        with counting_round_trips() as calls:
            source.collect()  # one tick: the bulk call, and its running domains handed to the agent's thread
            ticked = calls.count
            wait_for(lambda: bool(source.agent and source.agent.facts), "the agent's first facts", 10)
            assert calls.count == ticked  # the thread listed nothing and asked nothing the tick counts
        got = next(d for d in source.collect().domains if d.name == "test").agent
        assert got is not None and got.status is AgentStatus.OK and got.ip == "192.168.122.3"
    finally:
        source.close()


def test_no_read_write_connection_is_said_for_every_domain():
    from xentui.sources.libvirt.agent import OwnConnection

    w = AgentWatch(OwnConnection("test:///no/such/file.xml"))
    try:
        w.handed({UUID: Domain()})
        wait_for(lambda: w.handed({})(UUID) is not None, "the refusal", 10)
        got = w.handed({})(UUID)
        assert got.status is AgentStatus.READ_ONLY and "test:///no/such/file.xml" in got.error
    finally:
        w.close()


def test_hung_agents_hold_few_threads_and_an_opened_detail_goes_first(monkeypatch):

    monkeypatch.setattr(agent_mod, "CALL_S", 0.2)
    release = threading.Event()
    hung = {f"00000000-0000-4000-8000-{n:012d}": Domain(uuid=f"00000000-0000-4000-8000-{n:012d}") for n in range(12)}
    for d in hung.values():
        d.hang = release
    urgent = "00000000-0000-4000-8000-000000000011"
    rounds = []
    real_round = AgentWatch._round
    monkeypatch.setattr(AgentWatch, "_round", lambda self: (real_round(self), rounds.append(1)))
    w = AgentWatch()
    try:
        w.watch(urgent)  # its detail opened before the first round: read first
        w.handed(hung)
        wait_for(lambda: len(w.facts) >= agent_mod.MAX_HUNG, "the first round", 10)
        seen = len(rounds)
        wait_for(lambda: len(rounds) >= seen + 2, "two more rounds", 20)  # none asks another agent meanwhile
        assert sum(d.asked for d in hung.values()) == agent_mod.MAX_HUNG
        assert hung[urgent].asked == 1
        assert all(g.status is AgentStatus.NOT_ANSWERING for g in w.facts.values())
    finally:
        release.set()
        w.close()


def test_a_parser_bug_is_said_in_one_visible_line(monkeypatch):

    def broken(_reply):
        raise ValueError("guest said\nline two\x1b[31m")

    monkeypatch.setattr(parse, "interfaces", broken)
    w = AgentWatch()
    try:
        w.handed({UUID: Domain()})
        wait_for(lambda: w.handed({UUID: Domain()})(UUID) is not None, "the failed read")
        got = w.handed({UUID: Domain()})(UUID)
        assert got.status is AgentStatus.FAILED and got.error.startswith("ValueError: guest said")
        assert "\n" not in got.error and "\x1b" not in got.error
    finally:
        w.close()


def test_the_own_connection_is_closed_only_once_no_call_of_ours_runs_on_it(monkeypatch):
    """libvirt frees a closed connection's client under a call still running on it (a test run aborted in a
    lookup): the source's close leaves the agent's connection open until its last call returned."""
    from xentui.sources.libvirt.agent import OwnConnection

    monkeypatch.setattr(agent_mod, "CALL_S", 0.2)
    release, in_lookup, closed = threading.Event(), threading.Event(), threading.Event()
    seen_closed = []

    class Conn:
        def isAlive(self):
            return 1

        def lookupByUUIDString(self, uuid):
            in_lookup.set()
            release.wait(30)
            seen_closed.append(closed.is_set())
            return Domain(uuid=uuid)

        def close(self):
            closed.set()

    own = OwnConnection("test:///in/memory.xml")
    own.conn = Conn()
    w = AgentWatch(own)
    try:
        w.handed({UUID: Domain()})
        wait_for(in_lookup.is_set, "the lookup on the own connection", 10)
        w.close()
        wait_for(lambda: own.conn is None, "the agent to let go of its connection", 10)  # the lookup past CALL_S
        assert not closed.is_set()  # let go of, not closed: the lookup still runs on it
    finally:
        release.set()
    wait_for(closed.is_set, "the close once the lookup returned", 10)
    assert seen_closed == [False]


def test_a_watch_never_started_lets_go_of_its_connection_at_once():
    from xentui.sources.libvirt.agent import OwnConnection

    closed = threading.Event()
    own = OwnConnection("test:///in/memory.xml")
    own.conn = type("Conn", (), {"close": lambda self: closed.set()})()
    AgentWatch(own).close()
    wait_for(closed.is_set, "the close", 10)  # (closed in a call thread: a dead link's goodbye never blocks)
