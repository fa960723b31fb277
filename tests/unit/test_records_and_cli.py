"""CSV/JSON batch records, the command line's one-line errors, URI defaults, bulk-stat parsing."""

import csv
import io
import json

import pytest

from tests.factories import XEN_HOST as HOST
from tests.factories import capture_domains
from xentui.cli import main
from xentui.model import DomainSample, DomainState, RawSample, VcpuSample, build_snapshot
from xentui.output import records
from xentui.sources import default_uri


def two_snapshots():
    a = RawSample(0.0, 1_700_000_000.0, HOST, capture_domains())
    b = RawSample(2.0, 1_700_000_002.0, HOST, capture_domains(cpu_extra_ns=1_000_000_000))
    return build_snapshot(a, b, seq=2)


def test_json_frame_has_every_field_with_units():
    frame = json.loads(records.json_frame(two_snapshots(), iteration=3))
    assert frame["format"] == "xentui-batch" and frame["version"] == 1 and frame["iteration"] == 3
    assert frame["interval_s"] == 2.0
    assert frame["host"]["mem_used_kib"] == 2 * 1024 * 1024
    dom0 = next(d for d in frame["domains"] if d["name"] == "Domain-0")
    assert dom0["cpu_pct_of_one_pcpu"] == 50.0
    assert dom0["cpu_pct_of_host"] == 25.0
    assert dom0["mem_kib"] == 1048576
    assert dom0["vcpu_list"][0]["time_ns"] == 66_000_000_001
    probe1 = next(d for d in frame["domains"] if d["name"] == "probe1")
    assert probe1["vbd_rd_sectors"] == 108824 and probe1["net_tx_bytes"] == 6978
    assert probe1["net_rx_bytes_per_s"] == 0.0
    assert probe1["state_flags"] == "------"


def test_json_host_memory_used_is_null_when_the_source_does_not_know_the_size():
    from dataclasses import replace

    unsized = replace(HOST, mem_total_kib=0, mem_free_kib=0)  # e.g. Prometheus without node_exporter
    shot = build_snapshot(None, RawSample(0.0, 1_700_000_000.0, unsized, capture_domains()), seq=1)
    assert json.loads(records.json_frame(shot, iteration=1))["host"]["mem_used_kib"] is None


def test_csv_rows_match_header():
    snap = two_snapshots()
    text = records.csv_header() + records.csv_rows(snap, 1)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3
    assert {r["name"] for r in rows} == {"Domain-0", "probe1", "probe2"}
    assert all(r["iteration"] == "1" for r in rows)
    assert next(r for r in rows if r["name"] == "Domain-0")["cpu_pct_of_one_pcpu"] == "50.0"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-d", "abc"], "not a number of seconds from 0.2 to 3600"),
        (["-d", "0.01"], "not a number of seconds from 0.2 to 3600"),
        (["-d", "nan"], "not a number of seconds"),
        (["-i", "0"], "whole number of 1 or more"),
        (["-i", "x"], "whole number of 1 or more"),
        (["--format", "xml"], "invalid choice"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_default_uri(tmp_path):
    assert default_uri({"LIBVIRT_DEFAULT_URI": "qemu+ssh://h/system"}) == "qemu+ssh://h/system"
    assert default_uri({}, proc_xen=str(tmp_path / "absent")) == "qemu:///system"
    (tmp_path / "xen").mkdir()
    assert default_uri({}, proc_xen=str(tmp_path / "xen")) == "xen:///system"


def test_parse_real_kvm_domstats(data_dir):
    """`virsh domstats --raw` of a real 2-vCPU guest, parsed as the bulk call returns it."""
    from xentui.sources.libvirt.bulk_stats import parse_stats

    rec = {}
    for line in (data_dir / "kvm-domstats-raw.txt").read_text().splitlines():
        if "=" in line:
            key, value = line.strip().split("=", 1)
            rec[key] = int(value) if value.lstrip("-").isdigit() else value
    d = parse_stats("u", "demo-idle", 3, rec)
    assert d.state is DomainState.RUNNING
    assert d.cpu_ns == 16997310000
    assert (d.mem_kib, d.maxmem_kib, d.rss_kib) == (32768, 32768, 37128)
    assert d.vcpus_current == 2 and len(d.vcpus) == 2
    assert d.vcpus[0] == VcpuSample(0, online=True, time_ns=12740000000, delay_ns=734800890)
    assert isinstance(d, DomainSample)


def test_dom0_detection(tmp_path):
    from xentui.sources.xen import is_dom0

    caps = tmp_path / "capabilities"
    assert not is_dom0(caps)  # absent: not Xen
    caps.write_text("")
    assert not is_dom0(caps)  # a domU
    caps.write_text("control_d\n")
    assert is_dom0(caps)


def test_a_devices_record_is_every_field_as_asdict_gives_it() -> None:
    from dataclasses import asdict

    from xentui.model import BlockSample, NetSample
    from xentui.output.records import flat_record

    block = BlockSample("vda", "/img/\u202eweb.img", 1, 2, 3, 4, 5, 6, "BlkBack", 51712, 7, 8, 9, 10)
    net = NetSample("vnet0", 1, 2, 3, 4, 5, 6, 7, 8)
    for sample in (block, net, BlockSample("hdc"), NetSample("tap0")):
        assert flat_record(sample) == asdict(sample)
        assert list(flat_record(sample)) == list(asdict(sample))  # in the same order


def test_record_and_export_read_the_host_paths_of_the_config_as_the_live_view_does(tmp_path, monkeypatch) -> None:
    from pathlib import Path

    from tests.factories import run_cli
    from xentui.sources import hostside

    monkeypatch.setattr(hostside, "_configured", hostside.configured())  # put back after the test
    (tmp_path / "xentui").mkdir()
    (tmp_path / "xentui" / "config.toml").write_text('proc_root = "/srv/proc"\ncgroup_root = "cgroup"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("XENTUI_QEMU_RUN", "/srv/run/qemu")
    taken = tmp_path / "taken.xtrec.gz"
    taken.write_bytes(b"")
    for argv in (["record", "-o", str(taken)], ["export", "-c", "nosuch:///x"]):
        hostside.configure(hostside.HostPaths())
        code, _out, err = run_cli(argv)
        assert code in (1, 2) and "Traceback" not in err
        paths = hostside.configured()
        assert (paths.proc, paths.qemu_run) == (Path("/srv/proc"), Path("/srv/run/qemu")), argv
        assert "cgroup_root 'cgroup' must be an absolute directory path" in err  # the config's problem: one line
