"""The table-driven format writes and reads exactly what the hand-written one did: old files byte for byte."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.recordings import write
from tests.unit.test_replay import synthetic_samples
from xentui.model import JobSample
from xentui.model.samples import JOB_OPERATIONS
from xentui.recording import delta
from xentui.recording import format as recformat
from xentui.recording.reader import demo_path, load

# The wire format's names, in order, as every recording's header has carried them (append-only).
WIRE = {
    "host": ["hostname", "hypervisor", "hypervisor_version", "uri", "pcpus", "mhz", "mem_total_kib", "cpu_model",
             "libvirt_version", "cache_monitoring", "boot_time", "topology", "l3_caches", "cache_rmids"],
    "pcpu": ["number", "node", "socket", "core", "online"],
    "domain": ["uuid", "name", "domid", "state", "cpu_ns", "vcpus_current", "vcpus_max", "mem_kib", "maxmem_kib",
               "rss_kib", "vcpus", "nets", "blocks", "ssid", "flags", "cache", "stale", "overhead_ns",
               "domain_type", "device_model", "hostdevs", "job", "agent", "balloon"],
    "vcpu": ["number", "online", "time_ns", "delay_ns", "pcpu", "hard_affinity", "soft_affinity"],
    "net": ["name", "rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes", "tx_packets", "tx_errs", "tx_drop"],
    "block": ["name", "path", "rd_reqs", "rd_bytes", "wr_reqs", "wr_bytes", "oo_reqs", "errors", "kind", "devno",
              "rd_times_ns", "wr_times_ns", "fl_reqs", "fl_times_ns"],
    "l3": ["cache_id", "size_bytes"],
    "cache": ["source", "group", "banks", "status", "counter_bits"],
    "bank": ["cache_id", "occupancy_bytes", "mbm_total_bytes", "mbm_local_bytes", "mbm_total_bytes_s",
             "mbm_local_bytes_s"],
    "job": ["operation", "elapsed_ms", "data_processed", "data_remaining", "data_total", "dirty_rate_bytes_s",
            "iteration", "downtime_ms"],
    # revision 6: the guest's own view (xentui/recording/guest_tables.py)
    "agent": ["status", "read_wall", "error", "hostname", "os_name", "os_version", "os_id", "kernel", "machine",
              "timezone", "timezone_offset_s", "users", "interfaces", "filesystems", "time_offset_s", "checked_wall"],
    "interface": ["name", "hwaddr", "addresses"],
    "address": ["address", "prefix", "family"],
    "filesystem": ["mountpoint", "fstype", "device", "used_bytes", "total_bytes"],
    "user": ["name", "domain", "login_wall"],
    "balloon": ["available_kib", "usable_kib", "unused_kib", "disk_caches_kib", "swap_in_kib", "swap_out_kib",
                "major_faults", "minor_faults", "last_update"],
}


def test_the_header_names_the_fields_as_before():
    assert recformat.header("x", 1.0, 0.0, "t")["fields"] == WIRE
    assert (recformat.HOST.first_length, recformat.DOMAIN.first_length) == (12, 15)  # the first files' arrays


OLD_DEMO = Path(__file__).parents[1] / "data" / "demo-rev1.xtrec.gz"


def _as_revision_1(line: str) -> str:
    """A tick as the first writer (revision 1: shorter host and domain arrays) wrote it."""
    tick: dict[str, Any] = json.loads(line)
    hosts, domains = recformat.HOST.first_length, recformat.DOMAIN.first_length
    if "h" in tick:
        tick["h"] = tick["h"][:hosts]
    tick["d"] = [_blocks_as_revision_1(d[:domains]) if type(d) is list
                 else _blocks_as_revision_1({k: v for k, v in d.items() if k == "=" or int(k) < domains})
                 for d in tick["d"]]
    tick["d"] = [d for d in tick["d"] if type(d) is list or len(d) > 0]
    return json.dumps(tick, separators=(",", ":"), allow_nan=False) + "\n"


def _blocks_as_revision_1(d: Any) -> Any:
    """A domain array or delta with its disks' arrays as long as revision 1's."""
    at, length = str(WIRE["domain"].index("blocks")), recformat.BLOCK.first_length
    if type(d) is list:
        d[int(at)] = [b[:length] for b in d[int(at)]]
    elif at in d:
        d[at] = [b[:length] for b in d[at]]
    return d


def _lines(path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)


def _encoded(recording) -> list[str]:
    previous: dict[str, list[Any]] = {}
    host = None
    out = []
    for i in range(len(recording)):
        raw = recording.sample(i)
        encoded = recformat.encode_host(raw.host)
        out.append(delta.encode_tick(raw, encoded if encoded != host else None, previous))
        host = encoded
    return out


def test_the_old_bundled_demo_reencodes_byte_for_byte():
    """An old file (revision 1, real lab guests: the demo bundled until revision 6): what is read, written again,
    is its own bytes."""
    path = OLD_DEMO
    lines = _lines(path)
    assert len(json.loads(lines[0])["fields"]["domain"]) == recformat.DOMAIN.first_length  # an old file indeed
    assert [_as_revision_1(line) for line in _encoded(load(path))] == lines[1:]


def test_the_bundled_demo_reencodes_byte_for_byte():
    """The demo as bundled (a revision-1 file until it was re-recorded with revision 6's figures)."""
    path = demo_path()
    if not path.exists():
        pytest.skip("the demo is not bundled")
    lines = _lines(path)
    old = len(json.loads(lines[0])["fields"]["domain"]) == recformat.DOMAIN.first_length
    assert [_as_revision_1(line) if old else line for line in _encoded(load(path))] == lines[1:]


def test_a_recording_of_today_rereads_and_reencodes_byte_for_byte(tmp_path):
    samples = synthetic_samples(count=8, domains=5, cache=True)
    path = write(tmp_path / "now.xtrec.gz", samples)
    recording = load(path)
    assert list(recording.samples) == samples
    assert _encoded(recording) == _lines(path)[1:]


def test_a_new_field_is_one_line_in_a_table():
    """Encoding and decoding read the same tables: every field of a domain round-trips by name."""
    sample = synthetic_samples(count=1, domains=1, cache=True)[0].domains[0]
    encoded = recformat.encode_domain(sample)
    assert len(encoded) == len(recformat.DOMAIN.fields) == len(WIRE["domain"])
    assert recformat.decode_domain(json.loads(json.dumps(encoded))) == sample
    for overhead in (1_234_567_890, -3_000_000):  # revision 3: OVH(%) in a replay; a vCPU-tick step below 0
        with_overhead = dataclasses.replace(sample, overhead_ns=overhead)
        assert recformat.decode_domain(json.loads(json.dumps(recformat.encode_domain(with_overhead)))) == with_overhead
    at = WIRE["domain"].index("overhead_ns")
    with pytest.raises(recformat.FormatError, match="overhead time is not a whole number"):
        recformat.decode_domain([*encoded[:at], 2.5, *encoded[at + 1:]])


def test_revision_4_keeps_what_the_guest_is_and_older_files_read_it_as_unknown():
    sample = synthetic_samples(count=1, domains=1)[0].domains[0]
    guest = dataclasses.replace(sample, domain_type="hvm", device_model="qemu-xen",
                                hostdevs=("0000:03:00.1", "0000:04:10.2 VF"))
    encoded = json.loads(json.dumps(recformat.encode_domain(guest)))[:WIRE["domain"].index("hostdevs") + 1]
    assert encoded[-3:] == ["hvm", "qemu-xen", ["0000:03:00.1", "0000:04:10.2 VF"]]
    assert recformat.decode_domain(encoded) == guest
    old = recformat.decode_domain(encoded[:WIRE["domain"].index("overhead_ns") + 1])  # a revision-3 file's array
    assert (old.domain_type, old.device_model, old.hostdevs) == (None, None, ())
    for bad, said in ((["hvm", "qemu", "0000:03:00.1"], "host devices is not a list"),
                      (["x" * 65, None, []], "domain type 'x+.* is not one of pv, pvh, hvm"),
                      (["hvm", 7, []], "device model 7 is not one of qemu, "),
                      (["hvm", "\x1b]0;owned\x07", []], "device model .* is not one of"),  # a hostile file
                      (["hvm", None, ["0" * 65]], "host devices '0+.* is not a PCI address"),
                      (["hvm", None, ["0000:03:00.1\x1b[31m"]], "host devices .* is not a PCI address"),
                      (["hvm", None, ["0000:03:00.1 VF VF"]], "is not a PCI address"),
                      (["hvm", None, ["0000:03:00.1"] * 257], "host devices: 257 entries")):
        with pytest.raises(recformat.FormatError, match=said):
            recformat.decode_domain([*encoded[:-3], *bad])
    # An address comes back as the model holds it, rebuilt from its numbers.
    assert recformat.decode_domain([*encoded[:-3], "pvh", "none", ["3:0:1.1 VF"]]).hostdevs == ("0003:00:01.1 VF",)


def test_revision_5_keeps_a_domain_s_job_and_refuses_an_operation_no_source_writes():
    sample = synthetic_samples(count=1, domains=1)[0].domains[0]
    saving = dataclasses.replace(sample, job=JobSample("save", elapsed_ms=1500, data_processed=10 << 20,
                                                       data_remaining=30 << 20, data_total=40 << 20))
    job = WIRE["domain"].index("job")
    encoded = json.loads(json.dumps(recformat.encode_domain(saving)))[:job + 1]  # a revision-5 file's array
    assert encoded[-1] == ["save", 1500, 10 << 20, 30 << 20, 40 << 20, None, None, None]
    assert recformat.decode_domain(encoded) == saving
    assert recformat.decode_domain(encoded[:-1]).job is None  # a revision-4 file's array: no job known
    for bad, said in ((["save\x1b]0;owned\x07", 1, 2, 3, 4, None, None, None], "job operation .* is not one of"),
                      ([None, 1, 2, 3, 4, None, None, None], "job operation None is not one of"),
                      (["dump", -1, 2, 3, 4, None, None, None], "job figure"),
                      (["dump", 1, 2, 3], "job has 4 fields")):
        with pytest.raises(recformat.FormatError, match=said):
            recformat.decode_domain([*encoded[:-1], bad])


def test_every_operation_the_sources_write_is_one_a_recording_accepts():
    from xentui.sources.libvirt import jobs
    assert {*jobs.OPERATIONS.values(), *jobs.BLOCK_JOBS.values()} <= set(JOB_OPERATIONS)


def test_what_a_recording_does_not_keep_is_named_and_everything_else_is_kept():
    """A model field is either in a table or named in NOT_RECORDED (a replay shows it unknown): never silently lost."""
    tables = {"domain": recformat.DOMAIN, "block": recformat.BLOCK}
    for kind, table in tables.items():
        unkept = {f.name for f in dataclasses.fields(table.cls) if f.init} - set(table.names) - {"host"}
        assert unkept == set(recformat.NOT_RECORDED[kind]), kind
