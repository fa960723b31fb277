"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.prometheus.replay_server import Server, replaying


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start a loopback Prometheus that answers from captured logs (tests/prometheus/replay_server.py); every
    one started is closed after the test."""
    servers: list[Server] = []

    def start(*logs: list[dict[str, Any]]) -> Server:
        servers.append(Server(replaying(*logs)))
        return servers[-1]

    yield start
    for s in servers:
        s.close()
