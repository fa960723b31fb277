"""`xentui -b` as a user runs it: real process, real guests, real signals and pipes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ..xentop_layout import parse_rows
from .conftest import SPINNING_PCT, URI

pytestmark = pytest.mark.lab
XENTUI = [sys.executable, "-m", "xentui"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*XENTUI, *args], capture_output=True, text=True, timeout=timeout)


def test_batch_text_parses_as_xentop_and_cpu_is_true_on_iteration_1(busy_and_idle):
    busy, idle = busy_and_idle
    proc = run("-b", "-i", "2", "-d", "1", "-c", URI, "-v", "-n", "-x", "-f")
    assert proc.returncode == 0 and proc.stderr == ""
    rows = parse_rows(proc.stdout)
    first = {r["NAME"]: r for r in rows[: len(rows) // 2]}
    assert float(first[busy.name()]["CPU(%)"]) > SPINNING_PCT  # spinning; xentop would print 0.0 here
    assert float(first[idle.name()]["CPU(%)"]) <= 5
    assert first[busy.name()]["MEM(k)"] == "32768"
    assert first[idle.name()]["VCPUS"] == "2"
    assert proc.stdout.count("VCPUs(sec):") == len(rows)


def test_batch_json_lines(busy_and_idle):
    busy, _ = busy_and_idle
    proc = run("-b", "-i", "2", "-d", "0.5", "-c", URI, "--format", "json")
    assert proc.returncode == 0
    frames = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [f["iteration"] for f in frames] == [1, 2]
    dom = next(d for d in frames[0]["domains"] if d["name"] == busy.name())
    assert dom["cpu_pct_of_one_pcpu"] > SPINNING_PCT and dom["mem_kib"] == 32768
    assert dom["vcpu_list"][0]["cpu_pct_of_one_pcpu"] > SPINNING_PCT


def test_batch_csv(busy_and_idle):
    proc = run("-b", "-i", "1", "-d", "0.5", "-c", URI, "--format", "csv")
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("iteration,time,interval_s,host,name,uuid")
    assert len(lines) >= 3


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(sig):
    proc = subprocess.Popen([*XENTUI, "-b", "-d", "0.5", "-c", URI], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().lstrip().startswith("NAME")
    while not proc.stdout.readline().lstrip().startswith("NAME"):  # the second frame: in its loop
        assert proc.poll() is None, "the batch run ended by itself"
    started = time.monotonic()
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=10)
    assert time.monotonic() - started < 3
    assert proc.returncode == 0 and err == ""


def test_closed_pipe_stops_quietly():
    proc = subprocess.run(f"{sys.executable} -m xentui -b -d 0.2 -c {URI} | head -n 1", shell=True,
                          capture_output=True, text=True, timeout=30, env=os.environ)
    assert proc.stdout.lstrip().startswith("NAME")
    assert proc.stderr == ""


def test_batch_never_imports_textual():
    code = (
        "import sys; from xentui.cli import main; "
        f"rc = main(['-b', '-i', '1', '-d', '0.2', '-c', '{URI}']); "
        "assert 'textual' not in sys.modules and 'rich' not in sys.modules, 'textual imported'; sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
