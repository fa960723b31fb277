"""The Prometheus source against a hostile or broken server: every bound holds, every failure is one line,
every label value stays the data it was."""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.hostile import NAMES
from tests.prometheus.replay_server import Reply, Route, Server, captured, replaying
from xentui.model import HostPart, HostState, build_snapshot
from xentui.sources.base import SourceError
from xentui.sources.prometheus import PrometheusSource, _Known
from xentui.sources.prometheus.client import MAX_LABEL, Client, api_base

TICK = "tick-kumina.json"
HOSTILE_NAMES = list(NAMES.values())


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Server] = []

    def start(route: Route) -> Server:
        servers.append(Server(route))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def fails(source_or_call: Any, timeout_s: float | None = None) -> tuple[str, float]:
    """(the one line SourceError said, seconds it took)."""
    began = time.monotonic()
    with pytest.raises(SourceError) as err:
        source_or_call()
    took = time.monotonic() - began
    line = str(err.value)
    assert "\n" not in line and 0 < len(line) <= 500, line
    return line, took


def always(reply: Reply) -> Route:
    return lambda _path, _params: reply


@pytest.mark.parametrize("uri", ["prometheus://h:9090", "prometheus+ftp://h", "http://h:9090", "prometheus+http://",
                                 "prometheus+http://u:secret@h:9090", "prometheus+http://h:9090/?q=1"])
def test_a_uri_that_is_not_a_prometheus_uri_is_one_line(uri):
    line, _ = fails(lambda: api_base(uri))
    assert "prometheus+http://HOST:9090" in line and "secret" not in line


def test_the_path_is_kept_for_a_prometheus_behind_a_proxy():
    assert api_base("prometheus+https://mon.example/prom/") == "https://mon.example/prom"


def test_unreachable_is_one_line_and_reachable_says_so():
    source = PrometheusSource("prometheus+http://127.0.0.1:9", timeout_s=2)
    line, _ = fails(source.collect)
    assert "unreachable" in line and source.reachable() is False


@pytest.mark.parametrize("reply, said", [
    (Reply(b"<html><body>502 Bad Gateway</body></html>", 502, {"Content-Type": "text/html"}), "not its API's JSON"),
    (Reply(b'{"status": "error", "errorType": "bad_data", "error": "parse error:\\nline 2"}', 400),
     "refused /api/v1/query: parse error: line 2"),
    (Reply(b'{"status": "success", "data": {"resultType": "string", "result": [1, "x"]}}'), "no vector or matrix"),
    (Reply(b"[" * 100_000 + b"]" * 100_000), "nested too deep"),
    (Reply(b"<html>401 Authorization Required</html>", 401), "HTTP 401: it wants other credentials"),
    (Reply(b'{"status": "success", "data": [' + b"{}," * 4_000_001 + b"{}]}"), "over 4,000,000 items"),
    (Reply(b'{"status": "success", "data": {"resultType": "vector", "result": 7}}'), "no result list"),
])
def test_garbage_is_one_line(serve, reply, said):
    targets = replaying(captured(TICK))
    server = serve(lambda path, params: targets(path, params) if path == "/api/v1/targets" else reply)
    line, _ = fails(PrometheusSource(server.uri, timeout_s=3).collect)
    assert said in line


def test_an_answer_past_the_size_bound_is_refused_while_streaming(serve):
    chunk = b" " * 65536
    server = serve(always(Reply(itertools.repeat(chunk, 10_000))))  # 640 MiB if read to the end, no length
    client = Client(api_base(server.uri), timeout_s=10, max_bytes=1 << 20)
    line, took = fails(lambda: client.get("/api/v1/query"))
    assert "over 1 MiB is too big" in line and took < 5


def test_a_declared_length_past_the_bound_is_refused_before_reading(serve):
    server = serve(always(Reply(iter([b"{}"]), headers={"Content-Length": str(100 << 20)})))
    line, _ = fails(lambda: Client(api_base(server.uri), timeout_s=3).get("/api/v1/query"))
    assert "100 MiB is too big" in line


@pytest.mark.parametrize("pause", [0.05, 10.0])  # a trickle that never ends; a server that stops talking
def test_every_request_has_a_deadline(serve, pause):
    server = serve(always(Reply(itertools.repeat(b" ", 10_000), pause_s=pause)))
    line, took = fails(PrometheusSource(server.uri, timeout_s=1.0).collect)
    assert "no answer within 1 s" in line and took < 4


def test_a_ticks_deadline_follows_the_delay(serve):
    """-d 2.5 (or d): a tick may take 2.5 s before it is refused; never less than the source's own, at most 60 s."""
    server = serve(always(Reply(itertools.repeat(b" ", 10_000), pause_s=0.05)))
    source = PrometheusSource(server.uri, timeout_s=1.0)
    source.set_delay(2.5)
    line, took = fails(source.collect)
    assert "no answer within 2.5 s" in line and 2.5 <= took < 6
    source.set_delay(0.2)
    line, took = fails(source.collect)
    assert "no answer within 1 s" in line and took < 4
    source.set_delay(3600)
    assert source._client.timeout_s == 60.0
    left: list[float] = []  # a chart's history keeps the source's own deadline: it holds the poller's worker

    def query_range(*args: Any) -> list[Any]:
        left.append(args[-1] - time.monotonic())
        return []

    source._known[("j", "i")] = _Known("j", "i", "kumina", HostPart("h", HostState.UP), {"u": {"uuid": "u"}})
    source._client.query_range = query_range  # type: ignore[method-assign]
    assert source.history("h/u", 60) == [] and len(left) == 3 and max(left) <= 1.0
    assert PrometheusSource(server.uri, timeout_s=90.0)._client.timeout_s == 90.0  # never under its own


def test_credentials_go_as_headers_never_into_the_error(serve):
    server = serve(replaying(captured(TICK)))
    PrometheusSource(server.uri, bearer_token="s3cret-token", timeout_s=3).collect()
    assert all(h.get("Authorization") == "Bearer s3cret-token" for _p, _q, h in server.requests)
    other = serve(replaying(captured(TICK)))
    PrometheusSource(other.uri, basic_auth=("admin", "pw"), timeout_s=3).collect()
    assert all(h.get("Authorization") == "Basic YWRtaW46cHc=" for _p, _q, h in other.requests)


def _with_domain_names(names: list[str]) -> list[dict[str, Any]]:
    """The capture with its three guests renamed to ``names`` (cycled), every series of one guest alike."""
    log = copy.deepcopy(captured(TICK))
    series = next(e for e in log if e["params"].get("query", "").startswith("{__name__"))["answer"]["data"]["result"]
    given: dict[str, str] = {}
    for s in series:
        if "domain" in s["metric"]:
            old = s["metric"]["domain"]
            s["metric"]["domain"] = given.setdefault(old, names[len(given) % len(names)])
    return log


def _as_inovex(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """inovex labels no UUID: its history selects a domain by its name."""
    for e in log:
        if e["params"].get("query", "").startswith("{__name__"):
            for s in e["answer"]["data"]["result"]:
                s["metric"].pop("uuid", None)
                if s["metric"]["__name__"] == "libvirt_domain_state_code":
                    s["metric"]["__name__"] = "libvirt_domain_info_state"
    return log


@pytest.mark.parametrize("start", range(0, len(HOSTILE_NAMES), 3))
def test_hostile_domain_names_stay_data(serve, start):
    names = (HOSTILE_NAMES[start:start + 3] * 3)[:3]
    server = serve(replaying(_with_domain_names(names)))
    source = PrometheusSource(server.uri, timeout_s=3)
    shot = build_snapshot(None, source.collect())
    assert sorted(d.name for d in shot.domains) == sorted(names)
    for view in shot.domains:  # the history query quotes the name's series by UUID, the name never enters it
        with pytest.raises(SourceError):
            source.history(view.key, 10)  # nothing captured for it: the replay refuses, one line
        query = server.requests[-1][1]["query"]
        assert f'uuid="{view.uuid}"' in query and "domain=" not in query


def test_label_values_past_the_bound_leave_their_series_out(serve):
    long = "x" * (MAX_LABEL + 1)
    raw = PrometheusSource(serve(replaying(_with_domain_names([long, "ok", "fine"]))).uri, timeout_s=3).collect()
    assert sorted(d.name for d in raw.domains) == ["fine", "ok"]


def test_an_inovex_name_is_quoted_as_promql_data_in_history(serve):
    """inovex has no UUID label: its history selects by the name, escaped so a name is never PromQL."""
    log = _as_inovex(_with_domain_names(['a"} or vector(1) # \\', "b\nc", "ok"]))
    server = serve(replaying(log))
    source = PrometheusSource(server.uri, timeout_s=3)
    for d in source.collect().domains:
        with pytest.raises(SourceError):
            source.history(d.key, 10)
        query = server.requests[-1][1]["query"]
        assert f"domain={json.dumps(d.name, ensure_ascii=False)}" in query


def test_a_lone_surrogate_in_a_label_is_escaped_in_queries(serve):
    log = _as_inovex(_with_domain_names(["a\ud800b", "ok", "fine"]))
    server = serve(replaying(log))
    source = PrometheusSource(server.uri, timeout_s=3)
    odd = next(d for d in source.collect().domains if d.name == "a\ud800b")
    with pytest.raises(SourceError):  # asked (nothing captured for it), not a UnicodeEncodeError
        source.history(odd.key, 10)
    assert 'domain="a\\ud800b"' in server.requests[-1][1]["query"]


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf", "-5", "1e30", "not a number"])
def test_values_no_counter_can_hold_are_unknown(serve, value):
    log = copy.deepcopy(captured(TICK))
    series = next(e for e in log if e["params"].get("query", "").startswith("{__name__"))["answer"]["data"]["result"]
    for s in series:
        if s["metric"]["__name__"] == "libvirt_domain_info_memory_usage_bytes":
            s["values"] = [[t, value] for t, _v in s["values"]]
    raw = PrometheusSource(serve(replaying(log)).uri, timeout_s=3).collect()
    assert len(raw.domains) == 3 and all(d.mem_kib is None for d in raw.domains)


@pytest.mark.parametrize("sample", [[1e12, "1"], [-1, "1"], ["1", "1"], [True, "1"], [1], "x", [1, 2]])
def test_malformed_samples_are_left_out(serve, sample):
    log = copy.deepcopy(captured(TICK))
    series = next(e for e in log if e["params"].get("query", "").startswith("{__name__"))["answer"]["data"]["result"]
    for s in series:
        s["values"].append(sample)
    raw = PrometheusSource(serve(replaying(log)).uri, timeout_s=3).collect()
    assert len(raw.domains) == 3 and raw.parts[0].prev is not None
