"""Jobs whoever started them, without the lab: jobStats() asked of busy domains only (events, a paused-for-a-job
state, the slow jobInfo() sweep), a job that ends cleared at the next tick, the STATE cell and detail line, the
batch JSON/CSV fields.  (A real save of a lab guest: tests/integration/test_jobs_live.py.)"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from typing import Any

import libvirt
import pytest

from tests.factories import LibvirtFailure, dom, raw
from xentui.model import JobSample, build_snapshot
from xentui.output import records
from xentui.sources import deadlines
from xentui.sources.libvirt import LibvirtSource, jobs
from xentui.ui.job_text import job_cell, job_line

# A real jobStats() of a 128 MiB lab guest 4 s into `virsh save` to a slowly read FIFO (libvirt 9.0, QEMU 7.2).
SAVING = {"operation": 2, "time_elapsed": 4008, "downtime": 300, "setup_time": 0, "data_total": 135012352,
          "data_processed": 23058472, "data_remaining": 111075328, "memory_total": 135012352,
          "memory_processed": 23058472, "memory_remaining": 111075328, "memory_bps": 5247492, "memory_dirty_rate": 0,
          "memory_iteration": 2, "memory_postcopy_requests": 0, "memory_page_size": 4096, "type": 2}
NONE = {"type": libvirt.VIR_DOMAIN_JOB_NONE}
RUNNING = {"state.state": libvirt.VIR_DOMAIN_RUNNING, "state.reason": 1, "block.count": 1, "block.0.name": "vda"}


class FakeDomain:
    """A virDomain's job calls, counted: its domain job's stats and its disks' block jobs."""

    def __init__(self, n: int, stats: dict[str, Any] | None = None, block: dict[str, Any] | None = None) -> None:
        self.uuid = f"00000000-0000-0000-0000-{n:012d}"
        self.stats = stats or NONE
        self.block = block or {}
        self.calls: Counter[str] = Counter()

    def UUIDString(self) -> str:
        return self.uuid

    def jobInfo(self) -> list[int]:
        self.calls["jobInfo"] += 1
        return [self.stats["type"], *[0] * 11]

    def jobStats(self) -> dict[str, Any]:
        self.calls["jobStats"] += 1
        return self.stats

    def blockJobInfo(self, disk: str, flags: int) -> dict[str, Any]:
        self.calls["blockJobInfo"] += 1
        return self.block if disk == "vda" else {}


def entries(domains: list[FakeDomain], rec: dict[str, Any] = RUNNING) -> list[Any]:
    return [(d, rec, (d.uuid, n + 1)) for n, d in enumerate(domains)]


def watch() -> jobs.JobWatch:
    """Calls made at once, on a clock that stands still: these tests check which domains are asked and what their
    jobs are, never a deadline (a loaded machine made a call thread miss the tick's 0.5 s once: a flake); the
    deadline's own tests below give their own calls and clock."""
    return jobs.JobWatch(lambda _key, call, _deadline_s: call(), clock=lambda: 0.0)


def test_jobstats_is_never_asked_of_idle_domains_and_the_sweep_is_a_slice_a_tick():
    domains = [FakeDomain(n) for n in range(100)]
    w = watch()
    budget = math.ceil(100 / jobs.SWEEP_TICKS)
    for tick in range(jobs.SWEEP_TICKS):
        before = sum(d.calls["jobInfo"] for d in domains)
        assert w.read(entries(domains), set(), set()) == {}
        assert sum(d.calls["jobInfo"] for d in domains) - before == budget, tick
    assert sum(d.calls["jobStats"] for d in domains) == 0
    assert all(d.calls["jobInfo"] == 1 for d in domains)  # each looked at once in SWEEP_TICKS ticks
    big = [FakeDomain(n) for n in range(1000)]
    w.read(entries(big), set(), set())
    assert sum(d.calls["jobInfo"] for d in big) == jobs.SWEEP_MAX  # a big host: a bounded slice a tick


def test_a_job_the_sweep_finds_is_read_each_tick_and_clears_at_the_next_tick_after_it_ends():
    domains = [FakeDomain(n) for n in range(40)]
    saving = domains[-1]
    saving.stats = SAVING
    w = watch()
    found: dict[Any, JobSample] = {}
    for _ in range(jobs.SWEEP_TICKS):
        if found := w.read(entries(domains), set(), set()):
            break
    assert list(found) == [(saving.uuid, 40)]
    assert found[(saving.uuid, 40)] == JobSample("save", elapsed_ms=4008, data_processed=23058472,
                                                 data_remaining=111075328, data_total=135012352,
                                                 dirty_rate_bytes_s=0, iteration=2, downtime_ms=300)
    stats_calls = saving.calls["jobStats"]
    assert w.read(entries(domains), set(), set()) == found and saving.calls["jobStats"] == stats_calls + 1
    saving.stats = NONE  # the save ended
    assert w.read(entries(domains), set(), set()) == {}
    calls = saving.calls["jobStats"]
    w.read(entries(domains), set(), set())
    assert saving.calls["jobStats"] == calls  # idle again: no more jobStats
    assert all(d.calls["jobStats"] == 0 for d in domains[:-1])


def test_a_paused_for_a_job_state_or_an_event_has_the_domain_read_at_once():
    paused, flagged, idle = FakeDomain(1, SAVING), FakeDomain(2, SAVING), FakeDomain(3)
    w = watch()
    saving_state = {**RUNNING, "state.state": libvirt.VIR_DOMAIN_PAUSED, "state.reason": libvirt.VIR_DOMAIN_PAUSED_SAVE}
    found = w.read([(paused, saving_state, (paused.uuid, 1))], set(), set())
    assert found[(paused.uuid, 1)].operation == "save" and paused.calls["jobInfo"] == 0  # no sweep needed
    # An event (here: a migration's iteration, from libvirt's event loop) flags its domain for the next tick.
    woken: list[str] = []
    callbacks = dict(w.event_callbacks(woken.append))
    callbacks[libvirt.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION](None, flagged, 3, None)
    assert woken == [flagged.uuid]
    many = [FakeDomain(n) for n in range(10, 200)]  # the sweep's slice is elsewhere
    found = w.read([*entries(many), (flagged, RUNNING, (flagged.uuid, 2)), (idle, RUNNING, (idle.uuid, 3))],
                   set(), set())
    assert (flagged.uuid, 2) in found and flagged.calls["jobStats"] == 1 and idle.calls["jobStats"] == 0
    # A suspension flags too; the lifecycle's own callback wakes the poller.
    callbacks[libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE](None, idle, libvirt.VIR_DOMAIN_EVENT_SUSPENDED, 0, None)
    assert w.read([*entries(many), (idle, RUNNING, (idle.uuid, 3))], set(), set()) == {}
    assert idle.calls["jobStats"] == 1 and woken == [flagged.uuid]


def test_hanging_skipped_and_shut_off_domains_are_not_asked():
    hanging, migrating, off = FakeDomain(1, SAVING), FakeDomain(2, SAVING), FakeDomain(3, SAVING)
    paused = {**RUNNING, "state.state": libvirt.VIR_DOMAIN_PAUSED, "state.reason": libvirt.VIR_DOMAIN_PAUSED_SAVE}
    shutoff = {"state.state": libvirt.VIR_DOMAIN_SHUTOFF, "state.reason": 2}
    w = watch()
    for _ in range(jobs.SWEEP_TICKS):
        w.read([(hanging, paused, (hanging.uuid, 1)), (migrating, paused, (migrating.uuid, 2)),
                (off, shutoff, (off.uuid, None))], {(hanging.uuid, 1)}, {migrating.uuid})
    assert not (hanging.calls or migrating.calls or off.calls)


def test_block_jobs_and_the_incoming_side_of_a_migration():
    copying = FakeDomain(1, block={"type": libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY, "bandwidth": 0, "cur": 120 << 20,
                                   "end": 1000 << 20})
    w = watch()
    found = {}
    for _ in range(2):
        found = found or w.read(entries([copying]), set(), set())
    job = found[(copying.uuid, 1)]
    assert job.operation == "block copy" and job.percent == 12.0 and job.data_remaining == 880 << 20
    assert job_cell(job) == "blk12%"
    assert jobs.block_job_sample({}) is None and jobs.block_job_sample({"type": 2, "cur": 5, "end": 1}).percent is None

    class Incoming(FakeDomain):
        def jobStats(self) -> dict[str, Any]:
            raise LibvirtFailure("migration statistics are available only on the source host",
                                 libvirt.VIR_ERR_OPERATION_UNSUPPORTED)

    incoming = Incoming(2)
    arriving = {**RUNNING, "state.state": libvirt.VIR_DOMAIN_PAUSED,
                "state.reason": libvirt.VIR_DOMAIN_PAUSED_MIGRATION}
    found = w.read([(incoming, arriving, (incoming.uuid, 2))], set(), set())
    assert found[(incoming.uuid, 2)] == JobSample("migration in") and job_cell(found[(incoming.uuid, 2)]) == "← mig"


def test_a_driver_without_jobs_is_asked_once():
    """The test driver has neither jobInfo nor blockJobInfo: one try each, then never again."""
    source = LibvirtSource("test:///default")
    try:
        for _ in range(3):
            domains = source.collect().domains
            assert domains and all(d.job is None for d in domains)
        assert not source._jobs.has_jobs and not source._jobs.has_block_jobs
    finally:
        source.close()


@pytest.mark.parametrize(("job", "cell"), [
    (JobSample("save", data_total=100, data_remaining=55), "sav45%"),
    (JobSample("save", data_total=100, data_remaining=95), "sav 5%"),
    (JobSample("save", data_total=100, data_remaining=0), "sav100"),
    (JobSample("dump"), "dump"),
    (JobSample("managed"), "job"),
    (JobSample("migration out", data_total=100, data_remaining=55), "→ 45%"),
    (JobSample("migration out"), "→ mig"),
    (JobSample("snapshot", data_total=4, data_remaining=1), "snp75%"),
])
def test_the_state_cell_fits_six_cells(job: JobSample, cell: str):
    assert job_cell(job) == cell and len(cell) <= 6


def test_the_detail_line_and_the_batch_fields():
    saving = jobs.job_sample(SAVING)
    assert saving is not None
    assert job_line(saving) == ("save, 18% done, 22.0MiB processed, 105.9MiB left, dirtied 0B/s, iteration 2, "
                                "downtime 300 ms, 4.0 s, total 128.8MiB")
    snap = build_snapshot(raw(0.0, dom(10)), raw(2.0, dom(12, job=saving)))
    record = json.loads(records.json_frame(snap, 1))["domains"][0]
    assert record["job"] == {"operation": "save", "percent": 17.73, "elapsed_ms": 4008,
                             "data_processed_bytes": 23058472, "data_remaining_bytes": 111075328,
                             "data_total_bytes": 135012352, "memory_dirty_rate_bytes_per_s": 0,
                             "memory_iteration": 2, "expected_downtime_ms": 300}
    idle = build_snapshot(raw(0.0, dom(10)), raw(2.0, dom(12)))
    assert json.loads(records.json_frame(idle, 1))["domains"][0]["job"] is None
    rows = list(csv.DictReader(io.StringIO(records.csv_header() + records.csv_rows(snap, 1)
                                           + records.csv_rows(idle, 2))))
    assert (rows[0]["job"], rows[0]["job_percent"], rows[0]["job_data_total_bytes"]) == ("save", "17.73", "135012352")
    assert rows[1]["job"] == "" and rows[1]["job_percent"] == ""


def test_a_hung_libvirtd_holds_a_tick_s_job_reads_once_not_once_per_busy_domain():
    saving = [FakeDomain(n, SAVING) for n in range(1, 11)]
    now = [0.0]
    asked: list[float] = []

    def hung(_key: object, _call: object, deadline_s: float) -> object:
        asked.append(deadline_s)
        now[0] += deadline_s  # the call never answers: its whole deadline passes
        raise deadlines.NoAnswer("hung")

    w = jobs.JobWatch(deadlines.OnePerKey().call, clock=lambda: now[0])
    paused = {**RUNNING, "state.state": libvirt.VIR_DOMAIN_PAUSED, "state.reason": libvirt.VIR_DOMAIN_PAUSED_SAVE}
    known = w.read(entries(saving, paused), set(), set())
    assert len(known) == 10
    w._bounded = hung
    began = now[0]
    still = w.read(entries(saving, paused), set(), set())
    assert asked == [jobs.TICK_READS_S] and now[0] - began == jobs.TICK_READS_S  # one deadline for the tick, not ten
    assert still == known  # every busy domain keeps its last figures, read again next tick
