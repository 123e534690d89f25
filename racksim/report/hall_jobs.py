"""A hall job mix's run as the report reads it: the per-job table, the placements, the failure events, the hall table.

From the run directory of a fleet run (racksim.run.fleet_metrics): jobs.parquet (one row per job), placements.parquet
(each stretch a job held a set of racks), events.json (faults, interruptions, cleared outages) and metrics.json's
`hall` and `reliability` groups. Runs without a jobs.parquet are not job mixes: `read_hall_jobs` gives None.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from racksim._types import FloatArray, IndexArray
from racksim.report.plotkit import FigureContext, RunData
from racksim.report.rundir import read_json
from racksim.run.components import read_table
from racksim.run.results import JOBS_FILE, PLACEMENTS_FILE

RACKS_IN = re.compile(r"racks? \[?([\d, ]+)\]?")
"""The racks an event's detail names: 'gpu on rack 7', 'feed_loss on racks 0, 1, ...', 'job (racks [2, 3])'."""


@dataclass(frozen=True)
class Mark:
    """An event on racks: its time, s, and the racks (hall-wide indices) its detail names."""

    time_s: float
    racks: tuple[int, ...]


@dataclass(frozen=True)
class HallJobs:
    """One job-mix run: its jobs, the stretches they held racks, and the events on racks."""

    jobs: dict[str, list[Any]]
    """jobs.parquet's columns (name, kind, racks, gpus, run_s, ettr, interruptions, checkpoint_interval_s, ...)."""
    stretch_job: IndexArray
    """Each placement stretch's job (index into the jobs' rows)."""
    stretch_start_s: FloatArray
    stretch_end_s: FloatArray
    stretch_racks: list[list[int]]
    faults: list[Mark]
    interruptions: list[Mark]
    repairs: list[Mark]
    racks: int
    """Racks of the hall (metrics.json hall.racks)."""

    def held_s(self) -> FloatArray:
        """Time each job held racks, s: the sum of its stretches (the exposure its interruptions happen in)."""
        return np.asarray(np.bincount(self.stretch_job, weights=self.stretch_end_s - self.stretch_start_s,
                                      minlength=len(self.jobs["name"])), dtype=float)

    def column(self, name: str) -> FloatArray:
        """A numeric column of the per-job table."""
        return np.asarray(self.jobs[name], dtype=float)


def event_racks(detail: str) -> tuple[int, ...]:
    """The rack indices an event's detail names (an elided list keeps the ones it shows)."""
    found = RACKS_IN.search(detail)
    return tuple(int(part) for part in found.group(1).replace(" ", "").split(",") if part) if found else ()


def read_hall_jobs(directory: Path) -> HallJobs | None:
    """A job-mix run's jobs, placements and events; None for a run without a readable jobs.parquet."""
    directory = Path(directory)
    jobs, placements = read_table(directory / JOBS_FILE), read_table(directory / PLACEMENTS_FILE)
    if jobs is None or placements is None or not {"name", "gpus", "ettr"} <= set(jobs):
        return None
    events, metrics = read_json(directory / "events.json"), read_json(directory / "metrics.json")
    if events is None or not isinstance(metrics, dict):
        return None
    try:
        racks = int(metrics["hall"]["racks"])
    except (ValueError, KeyError, TypeError):
        return None
    marks: dict[str, list[Mark]] = {"fault": [], "interruption": [], "repair": []}
    for event in events if isinstance(events, list) else []:
        if isinstance(event, dict) and event.get("kind") in marks:
            marks[event["kind"]].append(Mark(float(event["time_s"]), event_racks(str(event.get("detail", "")))))
    index = {name: i for i, name in enumerate(jobs["name"])}
    return HallJobs(jobs, np.array([index[name] for name in placements["job"]], dtype=np.intp),
                    np.asarray(placements["start_s"], dtype=float), np.asarray(placements["end_s"], dtype=float),
                    [list(r) for r in placements["racks"]], marks["fault"], marks["interruption"], marks["repair"],
                    racks)


def job_mix_runs(runs: Sequence[RunData], context: FigureContext) -> dict[str, HallJobs]:
    """Each design's job mix among one scenario's runs (runs without a jobs table left out).

    Read once per scenario: kept in the figure context for the other figure modules of job mixes.
    """
    if "job_mixes" not in context.shared:
        found = {run.design: read_hall_jobs(run.directory) for run in runs}
        context.shared["job_mixes"] = {design: jobs for design, jobs in found.items() if jobs is not None}
    halls: dict[str, HallJobs] = context.shared["job_mixes"]
    return halls


HALL_HEADINGS = ("design", "jobs completed / started / all", "utilization", "fragmentation", "work per kWh",
                 "mean ETTR", "failures", "interruptions", "MTTR (queue)")
"""Columns of the report's hall table."""


def _number(value: float, fmt: str) -> str:
    return format(value, fmt) if math.isfinite(value) else "–"


def hall_table(metrics: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """One row per design with a job mix (metrics.json's `hall` group): HALL_HEADINGS' cells.

    MTTR is from a failure to its repair's end, the wait for a technician or a part included (the wait in brackets).
    """
    rows = []
    for design, run in metrics.items():
        hall, reliability = run.get("hall"), run.get("reliability", {})
        if not isinstance(hall, Mapping):
            continue
        performance = run.get("performance", {})
        repair_h = float(reliability.get("repair_time_s_mean", math.nan)) / 3600.0
        wait_h = float(reliability.get("repair_wait_s_mean", math.nan)) / 3600.0
        rows.append([
            design, f"{hall.get('jobs_completed', 0)} / {hall.get('jobs_started', 0)} / {hall.get('jobs', 0)}",
            _number(100.0 * hall.get("utilization", math.nan), ".1f") + " %",
            _number(100.0 * hall.get("fragmentation", math.nan), ".1f") + " %",
            _number(hall.get("work_per_kwh", math.nan) / 1e6, ".2f") + f" M {performance.get('work_unit', 'units')}",
            _number(hall.get("ettr_mean", math.nan), ".3f"),
            str(reliability.get("failures", "–")), str(reliability.get("interruptions", "–")),
            f"{_number(repair_h, '.1f')} h ({_number(wait_h, '.1f')} h)" if reliability.get("repairs") else "–"])
    return rows

