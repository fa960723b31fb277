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
    figures = ((job.percent, lambda v: f"{v:.0f}% done"), (job.data_processed, lambda v: f"{human_bytes(v)} sent"),
               (job.data_remaining, lambda v: f"{human_bytes(v)} left"),
               (job.dirty_rate_bytes_s, lambda v: f"dirtied {human_bytes(v)}/s"),
               (job.iteration, lambda v: f"iteration {v}"), (job.downtime_ms, lambda v: f"downtime {v} ms"),
               (job.elapsed_ms, lambda v: f"{v / 1000:.1f} s"))
    return ", ".join([job.operation, *(shown(value) for value, shown in figures if value is not None)])
