"""Job traces: the Parallel Workloads Archive's Standard Workload Format (SWF) and a plain CSV, read as jobs.

SWF (Feitelson et al., https://www.cs.huji.ac.il/labs/parallel/workload/swf.html): one job per line, 18
whitespace-separated fields, header and comment lines start with `;`, -1 means missing. racksim reads field 2
(submit time, s), 4 (run time, s), 5 (allocated processors) else 8 (requested processors), as GPUs ×
`gpus_per_processor`; field 3 (wait time) is the archived system's own scheduling, which racksim's scheduler
replaces (every field is still checked to be a number). A job without a run time or processors is an error
(racksim cannot guess its size or length); a cancelled job (run time 0) is skipped.

CSV: a header line naming the columns, `#` comments; `submit_s`, `gpus`, and `duration_s` (s of training or
serving) or `work` (optimizer steps of a training job), optional `kind` (training or inference) and `model`.

Every bad line is a one-line InputError naming file:line and the field.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from racksim.design.jobs_schema import JobTrace, TraceModel
from racksim.errors import InputError

SWF_FIELDS = 18
SWF_NAMES = ("job", "submit", "wait", "run_time", "allocated_processors", "cpu_time", "memory",
             "requested_processors", "requested_time", "requested_memory", "status", "user", "group", "executable",
             "queue", "partition", "preceding_job", "think_time")
"""The 18 SWF fields in order (1-based in the format's documentation)."""
CSV_KINDS = ("training", "inference")


@dataclass(frozen=True)
class TraceJob:
    """One job of a trace: when it arrives, how many GPUs, how long or how much, what it runs."""

    line: int
    submit_s: float
    gpus: int
    duration_s: float | None
    """Training or serving time the trace gives (its run time), s; None when it gives `steps`."""
    steps: int | None
    kind: Literal["training", "inference"]
    model: str
    batch_sequences_per_gpu: float
    """Sequences per GPU in its global batch (its `models` entry's; the batch scales with the racks' GPUs)."""


def model_for(models: list[TraceModel], gpus: int) -> TraceModel:
    """The first entry whose `up_to_gpus` holds a job of `gpus` GPUs (the last one for larger jobs)."""
    return next((entry for entry in models if gpus <= entry.up_to_gpus), models[-1])


def _job(trace: JobTrace, line: int, submit_s: float, gpus: int, duration_s: float | None, steps: int | None,
         kind: Literal["training", "inference"], model: str | None) -> TraceJob:
    entry = model_for(trace.models, gpus)
    return TraceJob(line, submit_s * trace.time_scale, gpus,
                    None if duration_s is None else duration_s * trace.time_scale, steps, kind,
                    model or entry.model, entry.global_batch_sequences_per_gpu)


def _number(text: str, where: str, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(where, field, f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise InputError(where, field, f"not a finite number: {text!r}")
    return value


def read_swf(trace: JobTrace) -> list[TraceJob]:
    """The SWF trace's jobs in file order (module docstring)."""
    path, jobs = trace.path, []
    for number, raw in enumerate(_lines(path), start=1):
        text = raw.strip()
        if not text or text.startswith(";"):
            continue
        where = f"{path}:{number}"
        parts = text.split()
        if len(parts) != SWF_FIELDS:
            raise InputError(where, "", f"{len(parts)} fields, SWF has {SWF_FIELDS}")
        values = {name: _number(part, where, f"field {i + 1} ({name})")
                  for i, (name, part) in enumerate(zip(SWF_NAMES, parts, strict=True))}
        if values["submit"] < 0:
            raise InputError(where, "field 2 (submit)", "missing (-1) or negative submit time")
        run_s = values["run_time"]
        if run_s == 0:
            continue
        if run_s < 0:
            raise InputError(where, "field 4 (run_time)", "missing (-1): racksim needs each job's run time")
        processors = values["allocated_processors"]
        if processors <= 0:
            processors = values["requested_processors"]
        if processors <= 0:
            raise InputError(where, "field 5 (allocated_processors)", "missing, and field 8 (requested_processors) "
                             "too: racksim needs each job's size")
        gpus = max(1, round(processors * trace.gpus_per_processor))
        jobs.append(_job(trace, number, values["submit"], gpus, run_s, None, trace.kind, None))
        if trace.max_jobs is not None and len(jobs) >= trace.max_jobs:
            break
    return jobs


def read_csv(trace: JobTrace) -> list[TraceJob]:
    """The CSV trace's jobs in file order (module docstring)."""
    path = trace.path
    numbered = [(n, line) for n, line in enumerate(_lines(path), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise InputError(str(path), "", "no header line (submit_s, gpus, duration_s or work)")
    header_line, header = numbered[0]
    columns = [name.strip() for name in next(csv.reader([header]))]
    missing = sorted({"submit_s", "gpus"} - set(columns))
    if missing or not {"duration_s", "work"} & set(columns):
        need = ", ".join(missing) if missing else "duration_s or work"
        raise InputError(f"{path}:{header_line}", "header", f"needs column(s) {need}")
    jobs = []
    for number, line in numbered[1:]:
        where = f"{path}:{number}"
        cells = next(csv.reader([line]))
        if len(cells) != len(columns):
            raise InputError(where, "", f"{len(cells)} cells, the header has {len(columns)}")
        row = {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}
        submit_s = _number(row["submit_s"], where, "submit_s")
        gpus = _number(row["gpus"], where, "gpus")
        if submit_s < 0:
            raise InputError(where, "submit_s", "must be at least 0")
        if gpus < 1 or gpus != int(gpus):
            raise InputError(where, "gpus", f"a whole number from 1 ({row['gpus']} given)")
        duration = row.get("duration_s", "")
        work = row.get("work", "")
        if bool(duration) == bool(work):
            raise InputError(where, "duration_s", "give exactly one of duration_s and work")
        duration_s = _number(duration, where, "duration_s") if duration else None
        steps = _number(work, where, "work") if work else None
        if (duration_s is not None and duration_s <= 0) or (steps is not None and (steps < 1 or steps != int(steps))):
            raise InputError(where, "duration_s" if duration else "work", "must be positive (work: whole steps)")
        kind = row.get("kind") or trace.kind
        if kind not in CSV_KINDS:
            raise InputError(where, "kind", f"training or inference, not {kind!r}")
        if kind == "inference" and duration_s is None:
            raise InputError(where, "duration_s", "an inference job serves for a duration_s")
        jobs.append(_job(trace, number, submit_s, int(gpus), duration_s, None if steps is None else int(steps),
                         "training" if kind == "training" else "inference", row.get("model") or None))
        if trace.max_jobs is not None and len(jobs) >= trace.max_jobs:
            break
    return jobs


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InputError(str(path), "job_trace.path", f"cannot read the trace: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "job_trace.path", "not a UTF-8 text file") from None


def read_trace(trace: JobTrace) -> list[TraceJob]:
    """The trace's jobs (SWF by a .swf suffix, else CSV), sorted by submit time (stable)."""
    jobs = read_swf(trace) if trace.path.suffix.lower() == ".swf" else read_csv(trace)
    if not jobs:
        raise InputError(str(trace.path), "", "no jobs in the trace")
    return sorted(jobs, key=lambda job: job.submit_s)
