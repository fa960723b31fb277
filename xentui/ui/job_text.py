"""A job's figures as the table's STATE cell and the detail pane's line show them (pure: no Textual)."""

from __future__ import annotations

from xentui.model import JobSample
from xentui.units import human_bytes

# operation -> (the STATE cell's code before a percentage, its word without one); STATE is 6 cells wide.
CODES = {"save": ("sav", "save"), "restore": ("rst", "restor"), "dump": ("dmp", "dump"), "snapshot": ("snp", "snap"),
         "snapshot revert": ("rev", "revert"), "snapshot delete": ("del", "snapdl"), "backup": ("bak", "backup"),
         "start": ("sta", "start"), "block pull": ("blk", "blkjob"), "block copy": ("blk", "blkjob"),
         "block commit": ("blk", "blkjob"), "block backup": ("blk", "blkjob")}


def job_cell(job: JobSample) -> str:
    """The STATE cell while a domain is in a job: a migration ``→ 97%`` leaving, ``← 97%`` arriving (``→ mig``
    before figures); else a code and the percentage (``sav45%``, ``blk 7%``, ``dmp100``), or a word (``dump``)."""
    done = job.percent
    if job.operation.startswith("migration"):
        arrow = "←" if job.operation.endswith(" in") else "→"
        return f"{arrow} {done:.0f}%" if done is not None else f"{arrow} mig"
    code, word = CODES.get(job.operation, ("job", "job"))
    if done is None:
        return word
    return f"{code}{done:2.0f}%" if round(done) < 100 else f"{code}100"


def job_line(job: JobSample) -> str:
    """One line of the job's figures, those libvirt gave (numbers and fixed words only)."""
    moved = "sent" if job.operation.startswith("migration") else "processed"
    figures = ((job.percent, lambda v: f"{v:.0f}% done"), (job.data_processed, lambda v: f"{human_bytes(v)} {moved}"),
               (job.data_remaining, lambda v: f"{human_bytes(v)} left"),
               (job.dirty_rate_bytes_s, lambda v: f"dirtied {human_bytes(v)}/s"),
               (job.iteration, lambda v: f"iteration {v}"), (job.downtime_ms, lambda v: f"downtime {v} ms"),
               (job.elapsed_ms, lambda v: f"{v / 1000:.1f} s"), (job.data_total, lambda v: f"total {human_bytes(v)}"))
    return ", ".join([job.operation, *(shown(value) for value, shown in figures if value is not None)])
