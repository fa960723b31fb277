import time
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file root must never write to: what planted symlinks point at."""
    path = tmp_path / "etc-shadow"
    path.write_text("precious\n")
    return path


LEAK_LOG = Path("/tmp/xentui-leaked-calls.log")


@pytest.fixture(autouse=True)
def _reports_calls_left_running(request: pytest.FixtureRequest):
    """Logs a test that leaves deadline calls running: they fill the process-wide CAP for later tests."""
    from xentui.sources import deadlines

    before = deadlines.running()
    yield
    end = time.monotonic() + 3.0
    while deadlines.running() > before and time.monotonic() < end:
        time.sleep(0.05)
    if deadlines.running() > before:
        with LEAK_LOG.open("a") as log:
            log.write(f"{request.node.nodeid}: {before} -> {deadlines.running()}: {deadlines.still_running()}\n")


@pytest.fixture(autouse=True)
def _reports_threads_left_running(request: pytest.FixtureRequest):
    """Logs a test that leaves a source's own threads running (a source never closed): they go on calling libvirt
    for the rest of the session, beside later tests."""
    import threading

    from xentui.sources import deadlines

    def left() -> list[str]:
        return [t.name for t in threading.enumerate()
                if t.ident not in before and t.name.startswith("xentui-") and t.name != deadlines.THREAD_NAME]

    before = {t.ident for t in threading.enumerate()}
    yield
    end = time.monotonic() + 3.0
    while (names := left()) and time.monotonic() < end:
        time.sleep(0.05)
    if names:
        with LEAK_LOG.open("a") as log:
            log.write(f"{request.node.nodeid}: threads left running: {names}\n")


@pytest.fixture(autouse=True)
def _restores_the_call_cap():
    """A fleet raises the process-wide cap on calls for its hosts (deadlines.allow_hosts, never lowered): restored
    after each test, so a later test's bound does not depend on which tests ran before it."""
    from xentui.sources import deadlines

    cap = deadlines.CAP
    yield
    deadlines.CAP = cap
