"""A loopback HTTP server that answers as a Prometheus did: captured API answers (tests/data/prometheus/),
or whatever a test makes it say (garbage, a trickle, a giant).  Records every request it got."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.prometheus.promql_subset import evaluate

DATA = Path(__file__).parent.parent / "data" / "prometheus"


@dataclass
class Reply:
    body: bytes | Iterator[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    pause_s: float = 0.0  # between chunks of an iterator body


Route = Callable[[str, dict[str, str]], Reply]


def captured(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text())


def _key(path: str, params: dict[str, str]) -> tuple[str, str]:
    """What identifies a request: its path and query, a range selector's window and names aside."""
    query = params.get("query", "")
    if query.startswith('{__name__=~"'):  # the names the dialect table asks for: grown since the capture
        return path, "{__name__=~...}[]"
    return path, re.sub(r"\[\d+ms\]$", "[]", query)


def replaying(*logs: list[dict[str, Any]]) -> Route:
    """Answers each (path, query) with the captured answer, the logs' entries taken in turn: a query asked
    again gets the next capture of it (so a second tick can be another capture).  The tick's instant queries
    are evaluated over the capture's raw matrix (tests/prometheus/promql_subset.py), the one of the tick
    asked (each tick begins with /api/v1/targets)."""
    queue: dict[tuple[str, str], list[dict[str, Any]]] = {}
    stores: list[tuple[float, list[dict[str, Any]]]] = []  # each log's raw matrix and the time it was asked at
    for log in logs:
        for entry in log:
            queue.setdefault(_key(entry["path"], entry["params"]), []).append(entry["answer"])
            if entry["params"].get("query", "").startswith('{__name__=~"libvirt_domain_'):  # every series
                stores.append((float(entry["params"].get("time", 0)), entry["answer"]["data"]["result"]))
    ticks = [0]

    def route(path: str, params: dict[str, str]) -> Reply:
        if path == "/api/v1/targets":
            ticks[0] += 1
        if path == "/api/v1/query" and stores:
            at, matrix = stores[min(max(ticks[0], 1), len(stores)) - 1]
            data = evaluate(params.get("query", ""), at, matrix)
            if data is not None:
                return Reply(json.dumps({"status": "success", "data": data}).encode())
        answers = queue.get(_key(path, params))
        if not answers:
            return Reply(json.dumps({"status": "error", "error": f"nothing captured for {path}"}).encode(), 400)
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return Reply(json.dumps(answer).encode())

    return route


class Server:
    """Serves ``route`` on 127.0.0.1 (a free port) until closed."""

    def __init__(self, route: Route):
        self.route = route
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []  # (path, params, headers)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                outer.requests.append((parts.path, params, dict(self.headers)))
                reply = outer.route(parts.path, params)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if isinstance(reply.body, bytes):
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.end_headers()
                try:
                    for chunk in reply.body:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        time.sleep(reply.pause_s)
                except OSError:
                    pass  # the client gave up: what a bounded client does

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"prometheus+http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
