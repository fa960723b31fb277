"""Revision 6: a recording keeps the guest's own view (agent facts, balloon statistics, disk request times),
reads older files with them unknown, and refuses a hostile value of theirs with one line."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.factories import synthetic_samples
from tests.recordings import with_guest_figures, write
from xentui import limits
from xentui.model import build_snapshot
from xentui.recording import format as recformat
from xentui.recording.reader import load

NAMES = list(recformat.DOMAIN.names)
AGENT, BALLOON, BLOCKS = NAMES.index("agent"), NAMES.index("balloon"), NAMES.index("blocks")
IFACES = list(recformat.TABLES["agent"].names).index("interfaces")


def _guest_domain() -> tuple[recformat.DomainSample, list]:
    sample = with_guest_figures(synthetic_samples(count=2, domains=1))[-1].domains[0]
    return sample, json.loads(json.dumps(recformat.encode_domain(sample)))


def test_a_recording_keeps_the_guest_s_own_view_and_the_figures_made_from_it(tmp_path):
    samples = with_guest_figures(synthetic_samples(count=4, domains=3))
    recording = load(write(tmp_path / "g.xtrec.gz", samples))
    assert list(recording.samples) == samples
    replayed = build_snapshot(recording.sample(2), recording.sample(3), 4)
    live = build_snapshot(samples[2], samples[3], 4)
    assert replayed == live
    view = next(v for v in replayed.domains if v.sample.agent is not None and v.rates.blk_latency)
    assert view.sample.agent.ip == "192.0.2.2" and view.sample.agent.hostname == "web-0\x1b[2J"  # kept literally
    assert view.guest_mem is not None and view.guest_mem.used_pct == pytest.approx(100 * (131_072 - 87_000) / 131_072)
    latencies = [(r.blk_rd_ms, r.blk_wr_ms) for r in (v.rates for v in replayed.domains) if r.blk_latency]
    reads, writes = [rd for rd, _wr in latencies if rd is not None], [wr for _rd, wr in latencies if wr is not None]
    assert reads and writes  # 0.25 ms a read, 0.9 ms a write, as recorded
    assert reads == pytest.approx([0.25] * len(reads)) and writes == pytest.approx([0.9] * len(writes))


def test_older_files_read_the_guest_s_view_as_unknown():
    sample, encoded = _guest_domain()
    old = encoded[:NAMES.index("job") + 1]  # a revision-5 array: no agent, no balloon
    old[BLOCKS] = [b[:recformat.BLOCK.first_length] for b in old[BLOCKS]]  # nor request times
    d = recformat.decode_domain(old)
    assert d.agent is None and d.balloon is None and d.blocks
    assert all((b.rd_times_ns, b.wr_times_ns, b.fl_reqs, b.fl_times_ns) == (None,) * 4 for b in d.blocks)
    assert d == dataclasses.replace(sample, agent=None, balloon=None,
                                    blocks=tuple(dataclasses.replace(b, rd_times_ns=None, wr_times_ns=None,
                                                                     fl_reqs=None, fl_times_ns=None)
                                                 for b in sample.blocks))


def test_the_ip_column_s_address_is_worked_out_again_never_read():
    _sample, encoded = _guest_domain()
    assert len(encoded[AGENT]) == len(recformat.TABLES["agent"].fields)  # ``ip`` is not in the file
    encoded[AGENT][IFACES] = [["eth1", None, [["2001:db8::7", 64, "ipv6"]]]]
    assert recformat.decode_domain(encoded).agent.ip == "2001:db8::7"


def _agent_with(encoded: list, name: str, value) -> list:
    agent = list(encoded[AGENT])
    agent[list(recformat.TABLES["agent"].names).index(name)] = value
    return [*encoded[:AGENT], agent, *encoded[AGENT + 1:]]


HOSTILE = {  # agent field -> (value, what the one line says)
    "hostname": ("x" * (limits.MAX_AGENT_TEXT + 1),
                 "guest hostname has 256 characters: a recording allows at most 255"),
    "status": ("owned\x1b]0;x\x07", "agent status .* is not one of ok, no agent"),
    "read_wall": (1e12, "agent read time 1e\\+12 is not from 0"),
    "error": (7, "agent error is not a string"),
    "timezone_offset_s": (86_401, "time zone offset is not a whole number of seconds within"),
    "time_offset_s": (float("inf"), "clock offset is not a number of seconds within"),
    "users": ([["root", "", None]] * (limits.MAX_AGENT_ITEMS + 1),
              "guest users: 65 entries; a recording allows at most 64"),
    "interfaces": ([["eth0", None, [["192.0.2.2", 24, "ipv4"]] * 65]], "guest addresses: 65 entries"),
    "filesystems": ([["/", "ext4", "vda", -1, 2]], "filesystem size is not a whole number"),
}
BAD_INTERFACES = {
    "not an address": ([["eth0", None, [["192.0.2.2; rm -rf /", 24, "ipv4"]]]], "is not an IP address"),
    "a scope (the guest's own text)": ([["eth0", None, [["fe80::1%\x1b]0;owned\x07", 64, "ipv6"]]]],
                                       "is not an IP address"),
    "a family not its address's": ([["eth0", None, [["192.0.2.2", 24, "ipv6"]]]], "is not a consistent address"),
    "a prefix too long": ([["eth0", None, [["192.0.2.2", 33, "ipv4"]]]], "is not a consistent address"),
    "not a MAC": ([["eth0", "52:54:00:78:74:02\x1b", []]], "interface MAC .* is not a MAC address"),
    "an interface's array too short": ([["eth0", None]], "guest interface has 2 fields, not 3"),
}


@pytest.mark.parametrize("name", [*HOSTILE, *BAD_INTERFACES])
def test_a_hostile_agent_value_is_refused_with_one_line(name):
    _sample, encoded = _guest_domain()
    field, (value, said) = ("interfaces", BAD_INTERFACES[name]) if name in BAD_INTERFACES else (name, HOSTILE[name])
    with pytest.raises(recformat.FormatError, match=said) as err:
        recformat.decode_domain(_agent_with(encoded, field, value))
    assert "\n" not in str(err.value)


def test_balloon_and_request_times_are_counters_like_the_rest():
    _sample, encoded = _guest_domain()
    for bad, said in (([1] * 8, "balloon has 8 fields, not 9"), ([-1, *[1] * 8], "balloon figure is not a whole"),
                      ([2**64, *[1] * 8], "balloon figure is 2\\*\\*64 or more"), ("x", "balloon is not a list")):
        with pytest.raises(recformat.FormatError, match=said):
            recformat.decode_domain([*encoded[:BALLOON], bad, *encoded[BALLOON + 1:]])
    blocks = [[*b[:-1], 2.5] for b in encoded[BLOCKS]]
    with pytest.raises(recformat.FormatError, match="block time is not a whole number"):
        recformat.decode_domain([*encoded[:BLOCKS], blocks, *encoded[BLOCKS + 1:]])
    longer = [[*b, 0] for b in encoded[BLOCKS]]
    with pytest.raises(recformat.FormatError, match="block has 15 fields, not 14"):
        recformat.decode_domain([*encoded[:BLOCKS], longer, *encoded[BLOCKS + 1:]])


def test_the_synthetic_guests_facts_are_valid_at_any_count():
    """SyntheticSource(guest=True) at 1000 domains: every address and MAC one a recording takes back (it made
    10.0.8.258 at the 249th domain and raised); the first domains' interfaces as at 12."""
    from xentui.sources.synthetic import SyntheticSource

    many = SyntheticSource(count=1000, guest=True).collect().domains
    few = SyntheticSource(count=12, guest=True).collect().domains
    for d in many:
        assert recformat.decode_domain(json.loads(json.dumps(recformat.encode_domain(d)))) == d
    assert [d.agent and d.agent.interfaces for d in many[:12]] == [d.agent and d.agent.interfaces for d in few]
    assert len({d.agent.ip for d in many if d.agent is not None and d.agent.ip is not None}) > 500
