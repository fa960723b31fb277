"""Prometheus's HTTP API, bounded: a deadline on every request, a size limit on every answer, JSON checked.

Anything that answers garbage (not JSON, too big, too deep, the wrong shape) is one line of SourceError; label
values are kept as the strings they are.  Also speaks to VictoriaMetrics, Thanos and Mimir (the same API).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from xentui.sources.base import SourceError
from xentui.text import hide_password

MIB = 1 << 20
MAX_BYTES = 64 * MIB  # one answer (10,000 domains' last three scrapes: ~40 MiB)
MAX_BRACKETS = 4_000_000  # '[' and '{' in one answer (a series is ~3 plus 1 per sample): bounds its objects
MAX_LABELS = 64  # labels of one series
MAX_LABEL = 4096  # characters of a label name or value


@dataclass(frozen=True)
class Series:
    """One series of a query's answer: its labels and its samples (seconds since the epoch, value)."""

    labels: dict[str, str]
    samples: tuple[tuple[float, float], ...]

    @property
    def name(self) -> str:
        return self.labels.get("__name__", "")


def api_base(uri: str) -> str:
    """``prometheus+http://HOST:PORT[/path]`` -> ``http://HOST:PORT[/path]`` (one line when it is not that)."""
    scheme, sep, rest = uri.partition("+")
    parts = urlsplit(rest) if sep else None
    if scheme != "prometheus" or parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"{hide_password(uri)!r} is not a Prometheus URI: write prometheus+http://HOST:9090 "
                          "(or prometheus+https://HOST/path)")
    if parts.username is not None or parts.password is not None:  # never echoed: it holds a secret
        raise SourceError("a Prometheus URI carries no credentials: put basic_auth or bearer_token in the fleet "
                          "file, and write prometheus+http://HOST:9090[/path]")
    if parts.query or parts.fragment:
        raise SourceError(f"{hide_password(uri)!r}: a Prometheus URI has no query or fragment: write "
                          "prometheus+http://HOST:9090[/path]")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class Refused(SourceError):
    """Prometheus answered, with an error of its own (e.g. an API it does not offer)."""


class Client:
    """GETs against one Prometheus, each within ``timeout_s`` from first byte sent to last byte read."""

    def __init__(self, base: str, *, basic_auth: tuple[str, str] | None = None, bearer_token: str | None = None,
                 timeout_s: float = 5.0, max_bytes: int = MAX_BYTES) -> None:
        headers = {"Accept": "application/json"}
        if bearer_token is not None:
            headers["Authorization"] = f"Bearer {bearer_token}"
        self.base = base
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._http = httpx.Client(auth=basic_auth, headers=headers, timeout=timeout_s, follow_redirects=False,
                                  trust_env=False)

    def close(self) -> None:
        self._http.close()

    def deadline(self) -> float:
        """A deadline ``timeout_s`` from now, for one request or several that share it (a tick's)."""
        return time.monotonic() + self.timeout_s

    def get(self, path: str, params: dict[str, str] | None = None, deadline: float | None = None) -> Any:
        """The ``data`` of a successful API answer, read whole before ``deadline`` (default: timeout_s from
        now; each connect and read also waits at most what is left); SourceError (one line) otherwise,
        Refused when Prometheus answered that it will not."""
        where = f"{self.base}{path}"
        deadline = self.deadline() if deadline is None else deadline
        try:
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpx.ConnectTimeout("no time left")
            with self._http.stream("GET", where, params=params, timeout=left) as r:
                body = self._read(r, deadline)
                status = r.status_code
        except httpx.TimeoutException:
            raise SourceError(f"Prometheus at {self.base}: no answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as err:
            raise SourceError(f"Prometheus at {self.base} unreachable: {_one_line(err)}") from None
        if status in (401, 403):
            raise SourceError(f"Prometheus at {self.base} answered HTTP {status}: it wants other credentials "
                              "(basic_auth or bearer_token in the fleet file)")
        answer = self._parse(body, status)
        if answer.get("status") != "success":
            raise Refused(f"Prometheus at {self.base} refused {path}: "
                              f"{_one_line(answer.get('error') or f'HTTP {status}')}")
        return answer.get("data")

    def _read(self, r: httpx.Response, deadline: float) -> bytes:
        size = int(r.headers.get("content-length") or 0)
        if size > self.max_bytes:
            raise SourceError(f"Prometheus at {self.base}: an answer of {size / MIB:.0f} MiB is too big (at most "
                              f"{self.max_bytes / MIB:.0f} MiB): watch fewer hosts through one source")
        chunks: list[bytes] = []
        got = 0
        for chunk in r.iter_bytes():  # as each read returns: a trickle meets the deadline
            got += len(chunk)
            if got > self.max_bytes:
                raise SourceError(f"Prometheus at {self.base}: an answer over {self.max_bytes / MIB:.0f} MiB is "
                                  "too big: watch fewer hosts through one source")
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("deadline")
            chunks.append(chunk)
        return b"".join(chunks)

    def _parse(self, body: bytes, status: int) -> dict[str, Any]:
        garbage = f"Prometheus at {self.base} answered HTTP {status} with something that is not its API's JSON"
        if body.count(b"[") + body.count(b"{") > MAX_BRACKETS:
            raise SourceError(f"{garbage} (over {MAX_BRACKETS:,} items)")
        try:
            answer = json.loads(body)  # its C scanner counts its depth: past the interpreter's limit, an error
        except RecursionError:
            raise SourceError(f"{garbage} (nested too deep)") from None
        except ValueError:
            raise SourceError(garbage) from None
        if not isinstance(answer, dict):
            raise SourceError(garbage)
        return answer

    def query(self, promql: str, at: float | None = None, deadline: float | None = None) -> list[Series]:
        """An instant query: a vector (one sample per series) or a matrix (a range selector's raw samples)."""
        params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
        return series(self.get("/api/v1/query", params, deadline), self.base)

    def query_range(self, promql: str, start: float, end: float, step: float,
                    deadline: float | None = None) -> list[Series]:
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return series(self.get("/api/v1/query_range", params, deadline), self.base)

    def targets(self, deadline: float | None = None) -> list[dict[str, Any]]:
        data = self.get("/api/v1/targets", {"state": "active"}, deadline)
        active = data.get("activeTargets") if isinstance(data, dict) else None
        if not isinstance(active, list):
            raise SourceError(f"Prometheus at {self.base}: /api/v1/targets holds no list of targets")
        return [t for t in active if isinstance(t, dict)]


def series(data: Any, base: str) -> list[Series]:
    """The series of a query's ``data``; SourceError when it is not a vector or matrix; series whose labels
    break the bounds are left out (they cannot be shown faithfully)."""
    if not isinstance(data, dict) or data.get("resultType") not in ("vector", "matrix", "scalar"):
        raise SourceError(f"Prometheus at {base} answered a query with no vector or matrix")
    result = data.get("result")
    if data["resultType"] == "scalar":
        result = [{"metric": {}, "value": result}]
    if not isinstance(result, list):
        raise SourceError(f"Prometheus at {base} answered a query with no result list")
    out = []
    for item in result:
        labels = item.get("metric") if isinstance(item, dict) else None
        if not isinstance(labels, dict) or not _fair(labels):
            continue
        raw = item.get("values") if "values" in item else [item.get("value")]
        samples = tuple(s for s in map(_sample, raw if isinstance(raw, list) else []) if s is not None)
        if samples:
            out.append(Series(labels, samples))
    return out


def _fair(labels: dict[str, Any]) -> bool:
    """At most MAX_LABELS labels, each a string of at most MAX_LABEL characters (JSON keys are strings)."""
    values = labels.values()
    return (len(labels) <= MAX_LABELS and set(map(type, values)) <= {str}
            and max(map(len, labels), default=0) <= MAX_LABEL and max(map(len, values), default=0) <= MAX_LABEL)


def _sample(pair: Any) -> tuple[float, float] | None:
    """``[1700000000.123, "2.21"]`` -> (t, v); None when malformed (the value may be NaN: unknown)."""
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str) or len(pair[1]) > 64:
        return None
    t = pair[0]
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or not 0 <= t < 1e11:
        return None
    try:
        return float(t), float(pair[1])
    except ValueError:
        return None


def _one_line(what: object) -> str:
    text = " ".join(str(what).split())
    return text[:300] + ("..." if len(text) > 300 else "")
