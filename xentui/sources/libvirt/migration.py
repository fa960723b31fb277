"""Live migration to another libvirt host, and the job's progress while it runs.

The migration is peer-to-peer (``virDomainMigrateToURI3`` with LIVE | PEER2PEER, and the domain's definition
moved with it: UNDEFINE_SOURCE, PERSIST_DEST when persistent): the source host's libvirtd connects to the
destination's URI itself, so xentui holds no second connection and the job survives a slow
client.  The call blocks for the migration's duration: it runs in a thread of its own (never a tick's, never
the event loop's), given MIGRATE_DEADLINE_S (longer for a big guest: :func:`deadline_for`), past which the job
is aborted (``abortJob``).  While it runs, the
thread that waits for it reads ``jobStats()`` every POLL_S under a deadline, and every libvirt source of this
process that lists the domain (the source host, and the destination's paused incoming domain) shows the last
figures in its tick (:func:`with_jobs`): a tick makes no call for them (jobs.py reads every other job, and
leaves these alone; both turn libvirt's figures into a JobSample with :func:`jobs.job_sample`).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import libvirt

from xentui.actions import ActionError
from xentui.model import DomainSample, DomainState, JobSample
from xentui.sources import deadlines
from xentui.sources.libvirt.errors import error_line
from xentui.sources.libvirt.jobs import job_sample

__all__ = ["deadline_for", "migrate", "migrating", "with_jobs"]

MIGRATE_DEADLINE_S = 600.0  # a migration not done by then is aborted (a busy guest may never converge) ...
MIN_RATE_BYTES_S = 32 << 20  # ... unless its memory needs longer at this rate (64 GiB: 34 min at 32 MiB/s)
POLL_S = 0.25  # the job's figures are read this often while it runs
READ_S = 1.0  # each read given this long (a hung one is not asked again until it returns)
ABORT_GRACE_S = 30.0  # after abortJob, how long the migration call is given to return
# Once it has moved, the domain is defined on its new host only: a copy left defined (shut off) on the old host
# could be started there too, two machines on one shared disk.  (Undefining happens on success only.)
FLAGS = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
PERSISTENT = libvirt.VIR_MIGRATE_PERSIST_DEST  # added for a persistent domain: it stays persistent (not transient)

_lock = threading.Lock()
_migrating: dict[str, list[Any]] = {}  # uuid -> [destination URI, its last JobSample], for this process's migrations


def migrating() -> dict[str, tuple[str, JobSample | None]]:
    """uuid -> (the destination's URI, the job's last figures) of the migrations this process runs."""
    with _lock:
        return {uuid: (dest, job) for uuid, (dest, job) in _migrating.items()}


def with_jobs(samples: tuple[DomainSample, ...], uri: str,
              moving: Mapping[str, tuple[str, JobSample | None]]) -> tuple[DomainSample, ...]:
    """``samples`` with the job of each domain this process is migrating (``moving``: :func:`migrating`, read once
    a tick): its last figures (read by the thread that runs it, not by the tick), as "migration out" on the source
    host and "migration in" on the destination ``uri`` (its paused incoming domain: libvirt gives migration
    statistics on the source host only)."""
    if not moving:
        return samples
    out = []
    for sample in samples:
        if sample.uuid in moving and sample.state is not DomainState.SHUTOFF:
            dest, last = moving[sample.uuid]
            operation = "migration in" if dest == uri else "migration out"
            sample = replace(sample, job=replace(last, operation=operation) if last else JobSample(operation))
        out.append(sample)
    return tuple(out)


def deadline_for(domain: DomainSample) -> float:
    """How long the migration of ``domain`` is given: MIGRATE_DEADLINE_S, or its memory at MIN_RATE_BYTES_S when
    that is longer (a big guest on a slow link is not aborted for its size)."""
    kib = max(domain.maxmem_kib or 0, domain.mem_kib or 0)
    return max(MIGRATE_DEADLINE_S, kib * 1024 / MIN_RATE_BYTES_S)


def migrate(conn: libvirt.virConnect, domain: DomainSample, dest_uri: str, dest_name: str,
            deadline_s: float | None = None) -> None:
    """Live-migrate ``domain`` to ``dest_uri``, blocking until done (call it from a worker thread); ActionError
    (one line, libvirt's words) when it fails, the domain then still on its host; aborted past ``deadline_s``
    (default: :func:`deadline_for`), unless it ends before the abort takes: then it is done."""
    what = f"migrate {domain.name} to {dest_name}"
    deadline_s = deadline_for(domain) if deadline_s is None else deadline_s
    try:
        dom = deadlines.call(lambda: conn.lookupByUUIDString(domain.uuid), deadlines.QUICK_S, f"look up {domain.name}")
        flags = FLAGS | (PERSISTENT if deadlines.call(dom.isPersistent, deadlines.QUICK_S,
                                                      f"ask whether {domain.name} is persistent") == 1 else 0)
    except libvirt.libvirtError as err:
        raise ActionError(f"{what}: {error_line(err)}; nothing done") from None
    except deadlines.NoAnswer as err:
        raise ActionError(f"{what}: {err}; nothing done") from None
    with _lock:
        if domain.uuid in _migrating:
            raise ActionError(f"{what}: a migration of it is already running; nothing done")
        _migrating[domain.uuid] = [dest_uri, None]
    try:
        call = deadlines.start(lambda: dom.migrateToURI3(dest_uri, {}, flags), what)
        _follow(dom, domain.uuid, call, time.monotonic() + deadline_s)
        if not call.done() and (trouble := _abort(dom, call)) is not None:
            raise ActionError(f"{what}: not done within {deadline_s:g} s; {trouble}")
        call.wait(0)  # its result: libvirt's error, if it failed
    except deadlines.AtCap as err:
        raise ActionError(f"{err}; nothing done") from None
    except libvirt.libvirtError as err:
        raise ActionError(f"{what} failed: {error_line(err)} ({domain.name} stays where it was)") from None
    finally:
        with _lock:
            _migrating.pop(domain.uuid, None)


def _follow(dom: libvirt.virDomain, uuid: str, call: deadlines.Call[Any], deadline: float) -> None:
    """Read the job's figures every POLL_S (each read under a deadline, never two at once) until the migration
    returns or ``deadline`` passes; the ticks of every host show the last figures."""
    reads = deadlines.OnePerKey()
    while time.monotonic() < deadline:
        done, _ = concurrent.futures.wait([call.future], timeout=min(POLL_S, max(0.0, deadline - time.monotonic())))
        if done:
            return
        try:
            job = job_sample(reads.call("job", dom.jobStats, READ_S, "migration figures"), "migration")
        except (libvirt.libvirtError, deadlines.NoAnswer):
            continue  # finishing, or not answering now: the last figures stay
        with _lock:
            if job is not None and uuid in _migrating:
                _migrating[uuid][1] = job


def _abort(dom: libvirt.virDomain, call: deadlines.Call[Any]) -> str | None:
    """Abort the job and wait for the migration call: how that went, or None when the migration succeeded all the
    same (it ended as the abort came: libvirt refuses the abort of a domain that has left, or takes it too late)."""
    not_taken = None  # why the abort was not taken, when it was not
    try:
        deadlines.call(dom.abortJob, deadlines.QUICK_S, "abort the migration")
    except libvirt.libvirtError as err:
        not_taken = f"abort refused: {error_line(err)}"
    except deadlines.NoAnswer as err:  # AtCap too: then it was never asked
        not_taken = str(err)
    try:
        failed = call.future.exception(timeout=ABORT_GRACE_S)
    except TimeoutError:
        call.abandoned = True  # counted among the hung calls, as a Call.wait past its deadline is
        return f"{not_taken or 'aborted'}, but the migration has not returned (the domain may still move)"
    if failed is None:
        return None
    if not_taken is None:
        return "aborted (the domain stays where it was)"
    why = error_line(failed) if isinstance(failed, libvirt.libvirtError) else type(failed).__name__
    return f"{not_taken}; the migration then failed: {why} (the domain stays where it was)"
