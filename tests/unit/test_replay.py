"""Record and replay: raw samples round-trip exactly; every damaged file gives one line and exit 2."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from tests.factories import run_cli, synthetic_samples
from tests.recordings import write
from xentui.cli import batch
from xentui.cli.batch import BatchOptions
from xentui.model import build_snapshot
from xentui.recording import format as recformat
from xentui.recording.player import ReplayPlayer
from xentui.recording.reader import ReplayError, ReplaySource, demo_path, load
from xentui.sources import SourceError


def test_round_trip_equals_what_was_recorded(tmp_path):
    samples = synthetic_samples()
    recording = load(write(tmp_path / "s.xtrec.gz", samples))
    assert recording.header["format"] == "xentui-record" and recording.header["version"] == 1
    assert list(recording.samples) == samples
    for i in range(1, len(samples)):  # and so are the rates: same maths, recorded monotonic times
        assert build_snapshot(recording.samples[i - 1], recording.samples[i], i) == \
            build_snapshot(samples[i - 1], samples[i], i)


def test_the_hosts_available_memory_round_trips_each_tick_and_is_unknown_where_not_recorded(tmp_path):
    from dataclasses import replace

    samples = [replace(s, host=replace(s.host, mem_available_kib=s.host.mem_free_kib + 1000 * n))
               for n, s in enumerate(synthetic_samples())]
    samples[1] = replace(samples[1], host=replace(samples[1].host, mem_available_kib=None))  # a tick that did not say
    recording = load(write(tmp_path / "a.xtrec.gz", samples))
    assert list(recording.samples) == samples
    assert [s.host.mem_available_kib for s in recording.samples][:3] == [samples[0].host.mem_free_kib, None,
                                                                          samples[2].host.mem_free_kib + 2000]


def test_cache_qos_round_trips_too(tmp_path):
    samples = synthetic_samples(cache=True)
    assert any(d.cache is not None and d.cache.banks for d in samples[-1].domains) and samples[-1].host.l3_caches
    recording = load(write(tmp_path / "c.xtrec.gz", samples))
    assert list(recording.samples) == samples
    views = build_snapshot(recording.samples[-2], recording.samples[-1], 1).domains
    assert any(v.cache is not None and v.cache.mbm_total_bytes_s for v in views)  # MBM rates from the counters


def test_a_file_written_before_cache_qos_still_reads(tmp_path):
    """Fields are only appended: arrays as long as an earlier header said read with the new ones at None."""
    path = write(tmp_path / "old.xtrec.gz", synthetic_samples(count=3, domains=2))
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    header, ticks = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    header["fields"]["host"] = header["fields"]["host"][:12]
    header["fields"]["domain"] = header["fields"]["domain"][:15]
    for tick in ticks:
        if "h" in tick:
            tick["h"] = tick["h"][:12]
        tick["d"] = [d[:15] if type(d) is list else {k: v for k, v in d.items() if k in ("=",) or int(k) < 15}
                     for d in tick["d"]]
    old = tmp_path / "older.xtrec.gz"
    old.write_bytes(gzip.compress("\n".join(json.dumps(x) for x in [header, *ticks]).encode() + b"\n"))
    recording = load(old)
    assert [d.name for d in recording.samples[-1].domains] == [d.name for d in load(path).samples[-1].domains]
    assert all(d.cache is None and d.stale == "" for d in recording.samples[-1].domains)


def test_static_host_written_once_and_domains_as_deltas(tmp_path):
    path = write(tmp_path / "s.xtrec.gz", synthetic_samples(count=5, domains=2))
    ticks = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()[1:]]
    assert ["h" in t for t in ticks] == [True, False, False, False, False]
    assert [type(d).__name__ for d in ticks[0]["d"]] == ["list", "list"]
    assert all(type(d) is dict and "1" not in d for d in ticks[1]["d"])  # the name did not change: not written
    assert type(ticks[-1]["d"][-1]) is list  # a domain new at that tick: whole


def test_replay_position_seek_step_speed(tmp_path):
    source = ReplayPlayer.open(write(tmp_path / "s.xtrec.gz", synthetic_samples(count=10, domains=3)))
    assert source.index == 1 and source.snapshot(source.index).interval_s == 1.0  # starts where rates exist
    source.step(3)
    assert source.index == 4 and source.snapshot(source.index).seq == 5 and not source.playing
    source.seek_seconds(-2.0)
    assert source.index == 2
    source.seek_seconds(100)
    assert source.at_end and source.index == 9
    source.step(-100)
    assert source.index == 0 and source.snapshot(source.index).interval_s is None
    assert source.faster(1) == 2.0 and source.wait_s() == 0.5
    assert source.faster(-1) == 1.0 and source.faster(-1) == 0.5 and source.wait_s() == 2.0
    assert source.position() == "00:00:00/00:00:09 tick 1/10 x0.5"


def test_collect_walks_to_the_end(tmp_path):
    source = ReplaySource.open(write(tmp_path / "s.xtrec.gz", synthetic_samples(count=3, domains=1)))
    assert source.collect() is source.recording.sample(2)
    with pytest.raises(SourceError):  # the end, as a source says it
        source.collect()


def test_batch_reads_a_replay_with_the_recorded_numbers(tmp_path):
    samples = synthetic_samples(count=4, domains=3)
    path = write(tmp_path / "s.xtrec.gz", samples)
    out = io.StringIO()
    assert batch.replay(ReplayPlayer.open(path), BatchOptions(format="json"), out) == 0
    frames = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [f["iteration"] for f in frames] == [1, 2, 3]
    live = build_snapshot(samples[0], samples[1], 2)
    assert frames[0]["domains"][0]["cpu_pct_of_one_pcpu"] == round(live.domains[0].rates.cpu_pct, 2)
    code, text, err = run_cli(["-b", "--replay", str(path), "-i", "1"])
    assert code == 0 and "NAME" in text and text.count("NAME") == 1 and err == ""


def damaged(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what its one line must say)."""
    good = write(tmp_path / "good.xtrec.gz", synthetic_samples(count=4, domains=3))
    data = good.read_bytes()
    lines = gzip.decompress(data).splitlines(keepends=True)
    cases = {
        "missing": (tmp_path / "absent.xtrec.gz", "no such file"),
        "empty": (tmp_path / "empty.xtrec.gz", "empty file"),
        "empty gzip": (tmp_path / "empty2.xtrec.gz", "empty file"),
        "truncated": (tmp_path / "cut.xtrec.gz", "truncated"),
        "not gzip": (tmp_path / "plain.xtrec.gz", "not gzip-compressed"),
        "corrupt line": (tmp_path / "corrupt.xtrec.gz", "line 3 is not JSON"),
        "wrong version": (tmp_path / "v9.xtrec.gz", "version 9; this xentui reads version 1"),
        "not a recording": (tmp_path / "other.xtrec.gz", "not a xentui recording"),
        "no ticks": (tmp_path / "header.xtrec.gz", "no ticks"),
        "bad field": (tmp_path / "field.xtrec.gz", "line 2: domain state"),
        "delta field not ASCII": (tmp_path / "super.xtrec.gz", "line 3: domain delta field"),
        "delta field too long": (tmp_path / "digits.xtrec.gz", "line 3: domain delta field"),
        "directory": (tmp_path, "is a directory"),
    }
    cases["empty"][0].write_bytes(b"")
    cases["empty gzip"][0].write_bytes(gzip.compress(b""))
    cases["truncated"][0].write_bytes(data[: len(data) // 2])
    cases["not gzip"][0].write_bytes(b"".join(lines))
    cases["corrupt line"][0].write_bytes(gzip.compress(b"".join([*lines[:2], lines[2][:40] + b"\n", *lines[3:]])))
    head = json.loads(lines[0])
    cases["wrong version"][0].write_bytes(gzip.compress(json.dumps(head | {"version": 9}).encode() + b"\n"
                                                       + b"".join(lines[1:])))
    cases["not a recording"][0].write_bytes(gzip.compress(b'{"format": "xentui-batch", "version": 1}\n'))
    cases["no ticks"][0].write_bytes(gzip.compress(lines[0]))
    cases["bad field"][0].write_bytes(gzip.compress(lines[0] + lines[1].replace(b'"running"', b'"jogging"')))
    for name, key in (("delta field not ASCII", b'"\\u00b2"'), ("delta field too long", b'"' + b"1" * 5000 + b'"')):
        assert b'{"=":' in lines[2]  # the second tick's domains are deltas
        hostile = lines[2].replace(b'{"=":', b"{" + key + b':1,"=":', 1)
        cases[name][0].write_bytes(gzip.compress(b"".join([*lines[:2], hostile, *lines[3:]])))
    return cases


def test_damaged_files_each_give_one_line_and_exit_2(tmp_path):
    for name, (path, expected) in damaged(tmp_path).items():
        with pytest.raises(ReplayError) as err:
            load(path)
        assert expected in str(err.value) and str(path) in str(err.value), name
        code, out, text = run_cli(["-b", "--replay", str(path)])
        assert code == 2 and out == "", name
        assert text.count("\n") == 1 and text.startswith(f"xentui: {path}") and expected in text, name
        assert "Traceback" not in text


def test_replay_and_live_options_conflict():
    for argv in (["--demo", "--replay", "x"], ["--replay", "x", "-w"], ["--demo", "-c", "test:///default"]):
        code, _, err = run_cli(argv)
        assert code == 2 and err.count("\n") == 1


def test_batch_without_a_hypervisor_fails_with_one_line_naming_the_uri():
    code, out, err = run_cli(["-b", "-c", "qemu+tcp://192.0.2.1:1/system", "-i", "1"])
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "qemu+tcp://192.0.2.1:1/system" in err and "xentui --demo" in err


def test_format_fields_in_header_match_the_encoders():
    samples = synthetic_samples(count=1, domains=1)
    head = recformat.header("synthetic://", 1.0, 0.0, "test")
    assert len(recformat.encode_domain(samples[0].domains[0])) == len(head["fields"]["domain"])
    assert len(recformat.encode_host(samples[0].host)) == len(head["fields"]["host"])


def test_bundled_demo_is_in_the_package_and_reads():
    path = demo_path()
    if not path.exists():
        pytest.skip("the demo is recorded from the lab guests (xentui record); not bundled yet")
    source = ReplaySource.open(path, demo=True)
    assert len(source) >= 30 and path.stat().st_size <= 200_000
    assert source.recording.sample(0).host.hypervisor in ("QEMU", "KVM")  # real guests, not the synthetic host


def test_no_hypervisor_shows_the_demo_and_says_why(tmp_path, monkeypatch):
    import xentui.recording.reader as replay_mod
    import xentui.ui.app as app_mod

    demo = write(tmp_path / "demo.xtrec.gz", synthetic_samples(count=3, domains=2))
    monkeypatch.setattr(replay_mod, "demo_path", lambda: demo)
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///nonexistent/host.xml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    shown = []
    monkeypatch.setattr(app_mod, "run_app", lambda source, *a, player, **kw: shown.append(player) or 0)
    code, out, err = run_cli([])
    assert code == 0 and len(shown) == 1 and shown[0].demo
    assert "test:///nonexistent/host.xml" in shown[0].fallback
    lines = err.splitlines()
    assert len(lines) == 2 and "test:///nonexistent/host.xml" in lines[0] and "bundled demo" in lines[1]
    code, out, err = run_cli(["-b", "-i", "1"])  # batch: one line and status 1, never a demo
    assert code == 1 and out == "" and err.count("\n") == 1 and "xentui --demo" in err


def test_large_recordings_are_decoded_when_shown(tmp_path, monkeypatch):
    import xentui.recording.reader as replay_mod

    monkeypatch.setattr(replay_mod, "EAGER_DOMAIN_TICKS", 10)
    samples = synthetic_samples(count=6, domains=4)
    recording = load(write(tmp_path / "big.xtrec.gz", samples))
    assert not recording.eager and len(recording) == 6 and list(recording.times) == [s.monotonic for s in samples]
    assert list(recording.samples) == samples
    # a bad value in a large file: found when that tick is read, one line naming file and tick
    lines = gzip.decompress((tmp_path / "big.xtrec.gz").read_bytes()).splitlines(keepends=True)
    lines[4] = lines[4].replace(b'"f":', b'"f":-', 1)
    bad = tmp_path / "bad.xtrec.gz"
    bad.write_bytes(gzip.compress(b"".join(lines)))
    source = ReplayPlayer.open(bad)
    with pytest.raises(ReplayError, match=r"bad.xtrec.gz: tick 4: free memory"):
        source.snapshot(3)
    code, out, err = run_cli(["-b", "--replay", str(bad)])
    assert code == 2 and out.count("NAME") == 2 and err.count("\n") == 1 and "tick 4" in err


def test_a_failed_write_stops_the_recording_with_one_line_and_keeps_what_came_before(tmp_path):
    """Disk full mid-recording: the tap closes the file (earlier ticks still read back), says why once, and
    later ticks are dropped without raising."""
    import errno

    from xentui.recording.writer import Recorder, recording_tap
    from xentui.sources.synthetic import SyntheticSource

    source, path = SyntheticSource(count=3), tmp_path / "full.xtrec.gz"
    recorder, told = Recorder(path, source.uri, 1.0), []
    tap = recording_tap(recorder, told.append)
    tap(source.collect())
    recorder._file.flush()  # what came before is on disk
    recorder._file.write = lambda data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))
    for _ in range(3):
        tap(source.collect())
    assert told == [f"recording to {path} stopped: No space left on device (1 ticks kept)"]
    recorder.close()  # no-op: already stopped
    assert len(load(path)) == 1


def test_a_tick_that_cannot_be_encoded_stops_the_recording_and_never_breaks_the_next_deltas(tmp_path):
    """A sample json refuses (here a NaN time) is said once and stops the recording; the delta base stays the
    last tick written, so the file reads back whole."""
    import dataclasses

    from xentui.recording import delta
    from xentui.recording.writer import Recorder, recording_tap
    from xentui.sources.synthetic import SyntheticSource

    source = SyntheticSource(count=3)
    first, second = source.collect(), source.collect()
    previous: dict = {}
    delta.encode_tick(first, None, previous)
    base = dict(previous)
    with pytest.raises(ValueError):
        delta.encode_tick(dataclasses.replace(second, monotonic=float("nan")), None, previous)
    assert previous == base  # not moved to a tick that was never written

    path = tmp_path / "nan.xtrec.gz"
    recorder, told = Recorder(path, source.uri, 1.0), []
    tap = recording_tap(recorder, told.append)
    tap(first)
    tap(dataclasses.replace(second, monotonic=float("nan")))
    tap(source.collect())  # dropped: the recording has stopped
    assert told == [f"recording to {path} stopped: Out of range float values are not JSON compliant "
                    "(1 ticks kept)"]
    assert len(load(path)) == 1


def test_a_disk_that_refuses_the_last_bytes_when_the_view_quits_is_one_line(tmp_path, monkeypatch):
    """--record: the file is closed when the UI ends; a full disk then is said in one line, as by 'record'."""
    import errno

    import xentui.ui.app as app_mod

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))

    def run_app(source, *a, recorder, **kw):
        recorder.write(source.collect())
        recorder._file.close = lambda: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))
        return 0

    monkeypatch.setattr(app_mod, "run_app", run_app)
    path = tmp_path / "w.xtrec.gz"
    code, _, err = run_cli(["-c", "synthetic://2", "--record", str(path)])
    assert code == 0 and err == f"xentui: cannot finish {path}: No space left on device\n"


def test_record_while_watching_has_the_recorders_safety(tmp_path, monkeypatch):
    """--record FILE: exclusive and 0600 like 'xentui record'; --force to replace; refused before the UI starts."""
    import xentui.ui.app as app_mod

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    started = []

    def run_app(source, *a, recorder, **kw):
        recorder.write(source.collect())
        started.append(recorder)
        return 0

    monkeypatch.setattr(app_mod, "run_app", run_app)
    path = tmp_path / "w.xtrec.gz"
    code, _, err = run_cli(["-c", "synthetic://2", "--record", str(path)])
    assert code == 0 and len(started) == 1 and "1 ticks written to" in err
    assert path.stat().st_mode & 0o777 == 0o600 and len(load(path)) == 1
    code, _, err = run_cli(["-c", "synthetic://2", "--record", str(path)])
    assert code == 2 and err.count("\n") == 1 and "--force" in err and len(started) == 1
    code, _, err = run_cli(["-c", "synthetic://2", "--record", str(path), "--force"])
    assert code == 0 and len(started) == 2
    for argv in (["-b", "--record", str(path)], ["--force"], ["--demo", "--record", str(path)]):
        code, _, err = run_cli(argv)
        assert code == 2 and err.count("\n") == 1, argv
