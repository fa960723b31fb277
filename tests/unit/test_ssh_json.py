"""A host watched through another xentui's JSON stream: the ssh command, the decoding, every bad stream.

The stream runs locally here (the same xentui, ``-b --format json``); tests/fleet runs it through a real sshd.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.factories import wait_for
from xentui.model import build_snapshot
from xentui.sources import SourceError, ssh_json
from xentui.sources.ssh_json import SshJsonSource, ssh_argv
from xentui.sources.ssh_json.decode import decode_frame
from xentui.sources.ssh_json.stream import FrameStream

XENTUI = [sys.executable, "-m", "xentui"]


def local(*args: str) -> list[str]:
    return [*XENTUI, "-b", "--format", "json", *args]


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_ssh_command_quotes_every_remote_word_and_never_prompts():
    argv, delay = ssh_argv("xentui+ssh://root@dom0.example:2222?connect=xen:///system;reboot&keyfile=/k&delay=2")
    assert argv[:4] == ["ssh", "-T", "-o", "BatchMode=yes"] and delay == 2.0
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-i") + 1] == "/k"
    assert argv[-2:] == ["root@dom0.example", "xentui -b --format json -d 2 -c 'xen:///system;reboot'"]
    assert shlex.split(argv[-1])[-1] == "xen:///system;reboot"  # one word for the remote shell


@pytest.mark.parametrize(("uri", "says"), [
    ("xentui+ssh://", "not a valid URI"),
    ("xentui+ssh://h:99999", "not a valid URI"),
    ("xentui+ssh://h/some/path", "not a valid URI"),
    ("xentui+ssh://h?evil=1", "unknown parameter 'evil'"),
    ("xentui+ssh://h?delay=0", "delay must be seconds from 0.2 to 3600"),
    ("xentui+ssh://h?delay=x", "delay must be seconds from 0.2 to 3600"),
    ("xentui+ssh://" + "h" * 5000, "at most 4096 characters"),
])
def test_a_bad_uri_is_one_line_saying_what_would_be_right(uri, says):
    with pytest.raises(SourceError, match=says) as caught:
        ssh_argv(uri)
    assert "\n" not in str(caught.value)


def test_rates_from_the_stream_equal_what_the_remote_computed_over_the_same_frames():
    """The remote's own CPU(%) and I/O rates, made from its consecutive samples, are the reference."""
    stream = FrameStream(local("-d", "0.3", "-c", "synthetic://6"))
    try:
        frames = []
        seq = 0
        while len(frames) < 4:
            seq, frame, stamp = stream.next_frame(seq, 30)
            frames.append((seq, frame, stamp))
    finally:
        stream.close()
    compared = 0
    for (s0, f0, t0), (s1, f1, t1) in itertools.pairwise(frames):
        if s1 != s0 + 1:
            continue
        assert t1 - t0 == pytest.approx(f1["interval_s"])  # the remote's interval, not the arrival gap
        shot = build_snapshot(decode_frame(f0, t0), decode_frame(f1, t1))
        theirs = {d["uuid"]: d for d in f1["domains"]}
        for view in shot.domains:
            remote = theirs[view.uuid]
            assert round(view.rates.cpu_pct, 2) == pytest.approx(remote["cpu_pct_of_one_pcpu"], abs=0.011)
            assert view.rates.net_rx_bytes_s == pytest.approx(remote["net_rx_bytes_per_s"], abs=0.01)
            assert view.sample.cpu_ns == remote["cpu_ns"] and view.name == remote["name"]
            compared += 1
    assert compared >= 6


def test_the_source_gives_the_newest_frame_each_tick_and_says_the_remote_host():
    source = SshJsonSource("xentui+ssh://lab", argv=local("-d", "0.2", "-c", "synthetic://3"), delay=0.2)
    try:
        first, second = source.collect(), source.collect()
    finally:
        source.close()
    assert len(first.domains) == len(second.domains) == 3
    assert second.monotonic > first.monotonic and first.host.hostname == "made-up-host"
    assert build_snapshot(first, second).domains[0].rates.cpu_pct is not None


@pytest.mark.parametrize(("code", "says"), [
    ("import sys; print('Permission denied (publickey).', file=sys.stderr); sys.exit(255)",
     "Permission denied (publickey)."),
    ("import sys; sys.exit(3)", "it ended (exit status 3)"),
    ("print('hello')", "a line that is not JSON"),
    ("print('[' * 100 + ']' * 100)", "a line nesting deeper than 16"),
    ("import sys; sys.stdout.write('x' * (9 << 20)); print()", "a line longer than 8.0 MiB"),
    ("print('{\"format\": \"something-else\"}')", "not xentui's batch JSON"),
    ("print('{\"format\": \"xentui-batch\", \"version\": 99}')", "batch JSON version 99; this xentui reads version"),
    ("print('{\"a\": NaN}')", "a line that is not JSON"),
])
def test_a_bad_stream_is_one_line(code, says):
    source = SshJsonSource("xentui+ssh://bad", argv=python(code), delay=0.2)
    try:
        with pytest.raises(SourceError) as caught:
            source.collect()
    finally:
        source.close()
    message = str(caught.value)
    assert message.startswith("xentui+ssh://bad: ") and says in message and "\n" not in message


def test_a_command_that_closes_its_output_and_runs_on_is_said_at_once():
    code = "import os, sys, time; os.close(1); print('channel closed', file=sys.stderr, flush=True); time.sleep(60)"
    source = SshJsonSource("xentui+ssh://closing", argv=python(code))
    try:
        with pytest.raises(SourceError) as caught:
            source.collect()  # within FIRST_FRAME_S (20 s), as a command that ended
    finally:
        source.close()
    assert str(caught.value) == "xentui+ssh://closing: channel closed"


def test_a_silent_remote_is_said_within_the_deadline_and_closing_ends_its_whole_session(tmp_path, monkeypatch):
    monkeypatch.setattr(ssh_json, "FIRST_FRAME_S", 0.5)
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    source = SshJsonSource("xentui+ssh://quiet", argv=["sh", "-c", shlex.join(python(code)) + " & wait"])
    with pytest.raises(SourceError, match="no frame within 0 s"):
        source.collect()
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), "the silent remote started")
    child = int(pid_file.read_text())
    source.close()

    def gone() -> bool:
        try:
            return "zombie" in Path(f"/proc/{child}/status").read_text().lower()
        except FileNotFoundError:
            return True

    wait_for(gone, "the remote's child ended with it")  # the whole session was signalled, not only ssh


def test_hostile_values_are_kept_as_data_and_bounded():
    host = {"hostname": "\x1b]0;owned\x07", "pcpus": "2"}
    frame = {"format": "xentui-batch", "version": 1, "epoch_s": 1e9, "host": host,
             "domains": [{"uuid": "u1", "name": "[b]x" * 5000, "state": "running", "cpu_ns": -5, "mem_kib": 2**70,
                          "vcpu_list": [{"number": 0, "hard_affinity": "0-9999999"}] * 3},
                         {"uuid": "u1", "name": "dup", "state": "running"},
                         {"uuid": "u2", "name": "x", "state": "exploded"}]}
    raw = decode_frame(json.loads(json.dumps(frame)), 5.0)
    (dom,) = raw.domains
    assert raw.host.hostname == "\x1b]0;owned\x07" and raw.host.pcpus == 0  # shown later through the text door
    assert len(dom.name) == 4096 and dom.cpu_ns is None and dom.mem_kib is None
    assert [v.hard_affinity for v in dom.vcpus] == [None, None, None]


def test_ssh_itself_is_run_without_a_terminal_prompt(monkeypatch, tmp_path):
    """The real ssh binary: BatchMode refuses at once where a password would be asked (no sshd listens here)."""
    if not any(Path(p, "ssh").exists() for p in os.environ["PATH"].split(os.pathsep)):
        pytest.skip("ssh is not installed")  # scripts/install-deps installs it; a bare machine may not have it
    source = SshJsonSource("xentui+ssh://nobody@127.0.0.1:1")
    try:
        with pytest.raises(SourceError, match=r"Connection refused|port 1"):
            source.collect()
    finally:
        source.close()


def test_a_remote_guests_type_and_devices_are_checked_words():
    good = {"uuid": "u1", "name": "a", "state": "running", "domain_type": "hvm", "device_model": "qemu-xen",
            "hostdevs": ["0000:03:00.1", "0000:81:10.2 VF"]}
    bad = {"uuid": "u2", "name": "b", "state": "running", "domain_type": "hvm\x1b[2J", "device_model": ["x"],
           "hostdevs": ["0000:03:00.1; rm", 7, "3:0.1", "0000:81:10.2 VF\u202e"] + ["0000:00:01.0"] * 300}
    frame = {"format": "xentui-batch", "version": 1, "epoch_s": 1e9, "host": {"pcpus": 2}, "domains": [good, bad]}
    a, b = decode_frame(json.loads(json.dumps(frame)), 5.0).domains
    assert (a.domain_type, a.device_model, a.hostdevs) == ("hvm", "qemu-xen", ("0000:03:00.1", "0000:81:10.2 VF"))
    assert (b.domain_type, b.device_model) == (None, None)
    assert b.hostdevs == ("0000:00:01.0",)  # the rest is no address; repeats once; 256 looked at at most


def test_a_remote_hosts_available_memory_is_kept():
    """A remote KVM host's page cache is available memory here too (host_mem_pct), as on the host itself."""
    def host(**memory: object) -> dict[str, object]:
        frame = {"format": "xentui-batch", "version": 1, "epoch_s": 1e9,
                 "host": {"pcpus": 2, "mem_total_kib": 1000, "mem_free_kib": 100, **memory}, "domains": []}
        return decode_frame(json.loads(json.dumps(frame)), 5.0).host

    assert host(mem_available_kib=900).mem_pressure_pct == 10.0
    assert host().mem_available_kib is None and host().mem_pressure_pct == 90.0  # an older xentui, or Xen
    assert host(mem_available_kib="900").mem_available_kib is None
