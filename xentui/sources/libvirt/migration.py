"""Live migration to another libvirt host, and the job's progress while it runs.

The migration is peer-to-peer (``virDomainMigrateToURI3`` with LIVE | PEER2PEER): the source host's libvirtd
connects to the destination's URI itself, so xentui holds no second connection and the job survives a slow
client.  The call blocks for the migration's duration: it runs in a thread of its own (never a tick's, never
the event loop's), given MIGRATE_DEADLINE_S, past which the job is aborted (``abortJob``).  While it runs, every
libvirt source of this process that lists the domain (the source host and the destination, whose incoming
domain is paused) reads its ``jobStats()`` each tick under a deadline: :func:`with_jobs`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import libvirt

from xentui.actions import ActionError
from xentui.model import DomainSample, DomainState, JobSample
from xentui.sources import deadlines
from xentui.sources.libvirt.errors import error_line

MIGRATE_DEADLINE_S = 600.0  # a migration not done by then is aborted (a busy guest may never converge)
ABORT_GRACE_S = 30.0  # after abortJob, how long the migration call is given to return
FLAGS = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER

_lock = threading.Lock()
_migrating: dict[str, list[Any]] = {}  # uuid -> [destination URI, its last JobSample], for this process's migrations


def migrating() -> dict[str, tuple[str, JobSample | None]]:
    """uuid -> (the destination's URI, the job's last figures) of the migrations this process runs."""
    with _lock:
        return {uuid: (dest, job) for uuid, (dest, job) in _migrating.items()}


def job_sample(stats: Mapping[str, Any], operation: str) -> JobSample | None:
    """libvirt's ``jobStats()`` dict as a JobSample; None when no job runs.  A field libvirt leaves out is None."""
    if not stats or stats.get("type", libvirt.VIR_DOMAIN_JOB_NONE) == libvirt.VIR_DOMAIN_JOB_NONE:
        return None

    def num(key: str) -> int | None:
        value = stats.get(key)
        return value if type(value) is int and value >= 0 else None

    pages, page_size = num("memory_dirty_rate"), num("memory_page_size")
    return JobSample(operation=operation, elapsed_ms=num("time_elapsed"), data_processed=num("data_processed"),
                     data_remaining=num("data_remaining"), data_total=num("data_total"),
                     dirty_rate_bytes_s=None if pages is None or page_size is None else pages * page_size,
                     iteration=num("memory_iteration"), downtime_ms=num("downtime"))


def with_jobs(samples: tuple[DomainSample, ...], filled: Iterable[tuple[libvirt.virDomain, dict[str, Any], Any]],
              uri: str, bounded: Callable[[object, Callable[[], Any]], Any]) -> tuple[DomainSample, ...]:
    """``samples`` with the job of each domain this process is migrating.  The source host's domain reads its
    ``jobStats()`` (``bounded(key, call)``: under a deadline, NoAnswer: no figures this tick); the destination's
    paused incoming domain shows the source's last figures (libvirt gives migration statistics on the source
    host only)."""
    moving = migrating()
    if not moving:
        return samples
    doms = {key[0]: dom for dom, _rec, key in filled if key[0] in moving}
    out = []
    for sample in samples:
        if sample.uuid in doms and sample.state is not DomainState.SHUTOFF:
            dest, last = moving[sample.uuid]
            if dest == uri:
                job: JobSample | None = replace(last, operation="migration in") if last else JobSample("migration in")
            else:
                try:
                    job = job_sample(bounded(("job", sample.uuid), doms[sample.uuid].jobStats), "migration out")
                except (libvirt.libvirtError, deadlines.NoAnswer):
                    job = None  # finished meanwhile, or not answering: no figures this tick
                job = job or JobSample("migration out")  # known to move, figures not (yet) given
                with _lock:
                    if sample.uuid in _migrating:
                        _migrating[sample.uuid][1] = job
            sample = replace(sample, job=job)
        out.append(sample)
    return tuple(out)


def migrate(conn: libvirt.virConnect, domain: DomainSample, dest_uri: str, dest_name: str,
            deadline_s: float = MIGRATE_DEADLINE_S) -> None:
    """Live-migrate ``domain`` to ``dest_uri``, blocking until done (call it from a worker thread); ActionError
    (one line, libvirt's words) when it fails, the domain then still on its host; aborted past ``deadline_s``."""
    what = f"migrate {domain.name} to {dest_name}"
    try:
        dom = deadlines.call(lambda: conn.lookupByUUIDString(domain.uuid), deadlines.QUICK_S, f"look up {domain.name}")
    except libvirt.libvirtError as err:
        raise ActionError(f"{what}: {error_line(err)}; nothing done") from None
    except deadlines.NoAnswer as err:
        raise ActionError(f"{what}: {err}; nothing done") from None
    with _lock:
        if domain.uuid in _migrating:
            raise ActionError(f"{what}: a migration of it is already running; nothing done")
        _migrating[domain.uuid] = [dest_uri, None]
    try:
        call = deadlines.start(lambda: dom.migrateToURI3(dest_uri, {}, FLAGS), what)
        try:
            call.wait(deadline_s)
        except deadlines.NoAnswer:
            raise ActionError(f"{what}: not done within {deadline_s:.0f} s; {_abort(dom, call)}") from None
    except deadlines.AtCap as err:
        raise ActionError(f"{err}; nothing done") from None
    except libvirt.libvirtError as err:
        raise ActionError(f"{what} failed: {error_line(err)} ({domain.name} stays where it was)") from None
    finally:
        with _lock:
            _migrating.pop(domain.uuid, None)


def _abort(dom: libvirt.virDomain, call: deadlines.Call[Any]) -> str:
    """Abort the job, and say how that went."""
    try:
        deadlines.call(dom.abortJob, deadlines.QUICK_S, "abort the migration")
        call.future.exception(timeout=ABORT_GRACE_S)
    except libvirt.libvirtError as err:
        return f"abort refused: {error_line(err)}"
    except (deadlines.NoAnswer, TimeoutError):
        return "aborted, but libvirt has not confirmed it yet (the domain may still move)"
    return "aborted (the domain stays where it was)"
