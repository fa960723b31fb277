"""Jobs on a domain, whoever started them: a migration, a save or managed save, a dump, a snapshot, a backup
(libvirt's domain job: ``jobStats()``), and block jobs (copy, commit, pull: ``blockJobInfo()`` per disk).

``jobStats()`` is never asked of every domain every tick, only of the domains that are *busy*:

- in a job at the last read (so a job that ends clears at the next tick);
- flagged by libvirt's events (a migration's iteration, a job completed, a block job's event, a suspension);
- paused for a migration, a save, a dump or a snapshot (the bulk call's ``state.reason``: no extra call);
- found by the sweep: each tick, ``jobInfo()`` (the job's type alone) and ``blockJobInfo()`` of a slice of the
  running domains, so each is looked at every SWEEP_TICKS ticks (fewer on a big host: SWEEP_MAX a tick) even
  without events (batch mode; a live migration another tool started, its domain running on).

Each read is one call under a deadline, never made on top of a hung one; a domain whose monitor hangs (stale)
is left alone.  The migrations this process runs are read by their own thread (migration.py), not here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection, Mapping
from functools import partial
from typing import Any

import libvirt

from xentui.limits import MAX_DEVICES, count
from xentui.model import DomainSample, DomainState, JobSample, evolve
from xentui.sources import deadlines
from xentui.sources.cache_qos.libvirt import Record
from xentui.sources.libvirt.bulk_stats import STATE_BY_CODE, active
from xentui.sources.libvirt.errors import UNSUPPORTED

Key = tuple[str, int | None]  # (uuid, domid), as the source keys its domains
Entry = tuple[libvirt.virDomain, Record, Key]
Bounded = Callable[[object, Callable[[], Any], float], Any]

SWEEP_TICKS = 20  # every running domain's job type is looked at once in this many ticks ...
SWEEP_MAX = 16  # ... but no more than this many a tick (1000 domains: each every 63 ticks)
# A tick's job reads together, the sweep's included, are given this long; past it, the rest keep their last
# figures.  Short: a read may wait on a domain's job lock (blockJobInfo behind an action QEMU never answers, up
# to libvirt's 30 s), and the tick, its frame and every other domain's figures must not wait with it.
TICK_READS_S = 0.5

OPERATIONS = {  # libvirt's VIR_DOMAIN_JOB_OPERATION_*: what the job does
    libvirt.VIR_DOMAIN_JOB_OPERATION_START: "start",
    libvirt.VIR_DOMAIN_JOB_OPERATION_SAVE: "save",
    libvirt.VIR_DOMAIN_JOB_OPERATION_RESTORE: "restore",
    libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN: "migration in",
    libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT: "migration out",
    libvirt.VIR_DOMAIN_JOB_OPERATION_SNAPSHOT: "snapshot",
    libvirt.VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_REVERT: "snapshot revert",
    libvirt.VIR_DOMAIN_JOB_OPERATION_DUMP: "dump",
    libvirt.VIR_DOMAIN_JOB_OPERATION_BACKUP: "backup",
    10: "snapshot delete",  # VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_DELETE (libvirt 9.0)
}
BLOCK_JOBS = {libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL: "block pull",
              libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY: "block copy",
              libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COMMIT: "block commit",
              libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT: "block commit", 5: "block backup"}
# Paused for a job: the domain is read without waiting for an event or the sweep.
BUSY_PAUSES = {libvirt.VIR_DOMAIN_PAUSED_MIGRATION, libvirt.VIR_DOMAIN_PAUSED_SAVE, libvirt.VIR_DOMAIN_PAUSED_DUMP,
               libvirt.VIR_DOMAIN_PAUSED_SNAPSHOT, libvirt.VIR_DOMAIN_PAUSED_POSTCOPY}
# Events after which a domain is read at the next tick (the lifecycle's: a suspension only).
JOB_EVENTS = (libvirt.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
              libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2)


def job_sample(stats: Mapping[str, Any], operation: str | None = None) -> JobSample | None:
    """libvirt's ``jobStats()`` dict as a JobSample (``operation``: libvirt's own when None); None when no job
    runs.  A field libvirt leaves out, or gives as no non-negative integer, is None."""
    if not stats or stats.get("type", libvirt.VIR_DOMAIN_JOB_NONE) == libvirt.VIR_DOMAIN_JOB_NONE:
        return None

    def num(key: str) -> int | None:
        value = stats.get(key)
        return value if type(value) is int and value >= 0 else None

    if operation is None:
        operation = OPERATIONS.get(stats.get("operation"), "job")
    pages, page_size = num("memory_dirty_rate"), num("memory_page_size")
    return JobSample(operation=operation, elapsed_ms=num("time_elapsed"), data_processed=num("data_processed"),
                     data_remaining=num("data_remaining"), data_total=num("data_total"),
                     dirty_rate_bytes_s=None if pages is None or page_size is None else pages * page_size,
                     iteration=num("memory_iteration"), downtime_ms=num("downtime"))


def block_job_sample(info: Mapping[str, Any]) -> JobSample | None:
    """``blockJobInfo()`` (``{}`` when none) as a JobSample: bytes done of the disk's total."""
    if not info or type(kind := info.get("type")) is not int:
        return None
    cur, end = info.get("cur"), info.get("end")
    if type(cur) is not int or type(end) is not int or not 0 <= cur <= end:
        cur = end = None
    return JobSample(operation=BLOCK_JOBS.get(kind, "block job"), data_processed=cur, data_total=end,
                     data_remaining=None if end is None or cur is None else end - cur)


def with_found(samples: tuple[DomainSample, ...], found: Mapping[Key, JobSample]) -> tuple[DomainSample, ...]:
    """``samples`` with the jobs ``found`` (by (uuid, domid)); the others as they were."""
    if not found:
        return samples
    return tuple(evolve(s, job=found[key]) if (key := (s.uuid, s.domid)) in found else s for s in samples)


def paused_for(rec: Record, reasons: Collection[int]) -> bool:
    """Whether the bulk record is of a domain paused for one of ``reasons``."""
    state = rec.get("state.state")
    return (type(state) is int and STATE_BY_CODE.get(state) is DomainState.PAUSED
            and rec.get("state.reason") in reasons)


def disks(rec: Record) -> list[str]:
    """The disks' target names (``vda``) of a bulk record."""
    names = (rec.get(f"block.{i}.name") for i in range(count(rec.get("block.count"), MAX_DEVICES)))
    return [name for name in names if type(name) is str and name]


class JobWatch:
    """Which domains are in a job, and the job's figures, read at each tick (from the tick's thread)."""

    def __init__(self, bounded: Bounded, clock: Callable[[], float] = time.monotonic) -> None:
        self._bounded = bounded  # (key, call, deadline_s) -> call's result: deadlines.OnePerKey's, or NoAnswer
        self._clock = clock
        self._lock = threading.Lock()
        self._flagged: set[str] = set()  # uuids events named since the last tick (libvirt's events thread)
        self.busy: dict[Key, JobSample] = {}  # in a job at the last read
        self._looked: dict[Key, int] = {}  # when the sweep last looked at a domain (tick number)
        self._tick = 0
        self.has_jobs = True  # False: the driver has no jobs (the test driver): not asked again
        self.has_block_jobs = True

    def flag(self, uuid: str) -> None:
        """Read ``uuid``'s job at the next tick (an event said it may have one); any thread."""
        with self._lock:
            self._flagged.add(uuid)

    def clear(self) -> None:
        """A new connection (perhaps to a newer libvirtd): nothing known."""
        self.busy.clear()
        self._looked.clear()
        self.has_jobs = self.has_block_jobs = True

    def read(self, filled: list[Entry], stale: Collection[Key], skip: Collection[str]) -> dict[Key, JobSample]:
        """This tick's jobs, by domain key, of the running domains in ``filled`` but those ``stale`` (hanging)
        and those in ``skip`` (uuids whose job another thread reads)."""
        self._tick += 1
        with self._lock:
            flagged, self._flagged = self._flagged, set()
        if not (self.has_jobs or self.has_block_jobs):
            return {}
        running = [e for e in filled if active(e[1]) and e[2] not in stale and e[2][0] not in skip]
        suspects = {key for _dom, rec, key in running
                    if key in self.busy or key[0] in flagged or paused_for(rec, BUSY_PAUSES)}
        spent_by = self._clock() + TICK_READS_S
        suspects |= self._sweep([e for e in running if e[2] not in suspects], TICK_READS_S)
        found: dict[Key, JobSample] = {}
        for dom, rec, key in running:
            if key in suspects:
                left = spent_by - self._clock()
                try:
                    if left <= 0:
                        raise deadlines.NoAnswer("this tick's job reads took their time")
                    job = self._bounded(("job", key), partial(self._job_of, dom, rec), left)
                except deadlines.NoAnswer:
                    job = self.busy.get(key)  # not answering now: the last figures stay, read again next tick
                if job is not None:
                    found[key] = job
        self.busy = found
        live = {key for _dom, _rec, key in running}
        self._looked = {key: tick for key, tick in self._looked.items() if key in live}
        return found

    def _sweep(self, idle: list[Entry], deadline_s: float) -> set[Key]:
        """The slice of ``idle`` domains due this tick that ``jobInfo()`` or ``blockJobInfo()`` says are busy."""
        if not idle:
            return set()
        budget = min(SWEEP_MAX, math.ceil(len(idle) / SWEEP_TICKS))
        due = sorted(idle, key=lambda e: self._looked.get(e[2], -1))[:budget]
        for _dom, _rec, key in due:
            self._looked[key] = self._tick
        try:
            return self._bounded(("jobs", "sweep"), lambda: self._busy_among(due), deadline_s)  # type: ignore[no-any-return]
        except deadlines.NoAnswer:
            return set()

    def _busy_among(self, due: list[Entry]) -> set[Key]:
        busy = set()
        for dom, rec, key in due:
            try:
                in_job = self.has_jobs and self._ask(partial(_job_type, dom), "has_jobs") not in (
                    None, libvirt.VIR_DOMAIN_JOB_NONE)
                if in_job or self._block_job(dom, rec) is not None:
                    busy.add(key)
            except libvirt.libvirtError:
                continue  # gone meanwhile
        return busy

    def _job_of(self, dom: libvirt.virDomain, rec: Record) -> JobSample | None:
        """The domain's job: its domain job, else a block job of one of its disks, else None."""
        try:
            job = job_sample(self._ask(dom.jobStats, "has_jobs") or {}) if self.has_jobs else None
        except libvirt.libvirtError:
            # The destination of a migration has no statistics (libvirt gives them on the source host only).
            return JobSample("migration in") if paused_for(rec, {libvirt.VIR_DOMAIN_PAUSED_MIGRATION}) else None
        if job is not None:
            return job
        try:
            return self._block_job(dom, rec)
        except libvirt.libvirtError:
            return None

    def _block_job(self, dom: libvirt.virDomain, rec: Record) -> JobSample | None:
        for disk in disks(rec) if self.has_block_jobs else ():
            job = block_job_sample(self._ask(partial(dom.blockJobInfo, disk, 0), "has_block_jobs") or {})
            if job is not None:
                return job
        return None

    def _ask(self, call: Callable[[], Any], capability: str) -> Any:
        """``call()``; None, and never asked again on this connection, when the driver lacks it."""
        try:
            return call()
        except libvirt.libvirtError as err:
            if err.get_error_code() not in UNSUPPORTED:
                raise
            setattr(self, capability, False)
            return None

    def event_callbacks(self, on_change: Callable[[str], None]) -> list[tuple[int, Callable[..., None]]]:
        """(event id, libvirt callback) pairs that flag the domain and wake the poller (``on_change``): job
        events, and a lifecycle suspension (a save or a migration pauses the domain)."""

        def job_event(_conn: object, dom: libvirt.virDomain, *_rest: object) -> None:
            self.flag(uuid := dom.UUIDString())
            on_change(uuid)

        def lifecycle(_conn: object, dom: libvirt.virDomain, event: int, _detail: int, _opaque: object) -> None:
            if event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED:
                self.flag(dom.UUIDString())  # the lifecycle's own callback wakes the poller

        return [*((event_id, job_event) for event_id in JOB_EVENTS),
                (libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle)]


def _job_type(dom: libvirt.virDomain) -> int:
    """``jobInfo()``'s first figure: the job's type (VIR_DOMAIN_JOB_NONE: no job)."""
    return int(dom.jobInfo()[0])
