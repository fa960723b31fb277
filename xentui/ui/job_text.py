"""A migration's figures as the table's STATE cell and the detail pane's line show them (pure: no Textual)."""

from __future__ import annotations

from xentui.model import JobSample
from xentui.units import human_bytes


def job_cell(job: JobSample) -> str:
    """The STATE cell while a domain migrates: ``→ 97%`` leaving, ``← 97%`` arriving (``→ mig`` before figures)."""
    arrow = "←" if job.operation.endswith(" in") else "→"
    done = job.percent
    return f"{arrow} {done:.0f}%" if done is not None else f"{arrow} mig"


def job_line(job: JobSample) -> str:
    """One line of the job's figures, those libvirt gave (numbers and fixed words only)."""
    parts = [job.operation]
    if job.percent is not None:
        parts.append(f"{job.percent:.0f}% done")
    if job.data_processed is not None:
        parts.append(f"{human_bytes(job.data_processed)} sent")
    if job.data_remaining is not None:
        parts.append(f"{human_bytes(job.data_remaining)} left")
    if job.dirty_rate_bytes_s is not None:
        parts.append(f"dirtied {human_bytes(job.dirty_rate_bytes_s)}/s")
    if job.iteration is not None:
        parts.append(f"iteration {job.iteration}")
    if job.downtime_ms is not None:
        parts.append(f"downtime {job.downtime_ms} ms")
    if job.elapsed_ms is not None:
        parts.append(f"{job.elapsed_ms / 1000:.1f} s")
    return ", ".join(parts)
