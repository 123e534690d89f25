"""A hall's job mix, its scheduler and its repair crew: the scenario fields the fleet engine reads.

A hall scenario lists `jobs` (training jobs and inference services) or reads a `job_trace` (the Parallel Workloads
Archive's SWF, or a CSV), placed on whole racks by a `scheduler` (FIFO with EASY backfill, row packing, hot-spare
racks); failed racks queue for a `repair` crew. Validated like a design: frozen models, unknown keys refused,
one-line errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from racksim.design.base import Model, NonNegativeFloat, PositiveFloat, PositiveInt
from racksim.design.workload_schema import Precision


class TrainingJob(Model):
    """A synchronous training job on whole racks: its step, tokens per step and power predicted by racksim.perf.

    It trains `tokens` (or `steps`) and checkpoints every `checkpoint_every_steps` steps or `checkpoint_every_s`
    seconds; a failure on any of its racks loses the work since its last checkpoint.
    """

    kind: Literal["training"] = "training"
    """Job kind (training is the default)."""
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] | None = None
    """Names the job in the per-job table (default: job<index>)."""
    model: str
    """Bundled model name (e.g. llama3-70b) or path to a Hugging Face config.json / YAML."""
    gpus: PositiveInt
    """GPUs the job asks for; it gets whole racks (rounded up)."""
    global_batch_sequences: PositiveInt
    """Sequences per optimizer step."""
    seq_len: PositiveInt = 8192
    """Tokens per sequence."""
    precision: Precision = "bf16"
    """Matmul precision (the GPU must have it)."""
    tokens: PositiveFloat | None = None
    """Tokens to train (or give `steps`)."""
    steps: PositiveInt | None = None
    """Optimizer steps to train (or give `tokens`)."""
    submit_s: NonNegativeFloat = 0.0
    """When the job is submitted, s from the start of the run."""
    checkpoint_every_steps: PositiveInt | None = None
    """Steps between checkpoints (or give `checkpoint_every_s`)."""
    checkpoint_every_s: PositiveFloat | None = None
    """Training time between checkpoints, s (rounded to whole steps, at least one)."""
    checkpoint_time_s: NonNegativeFloat = 60.0
    """Time the job pauses to write a checkpoint, s."""
    restart_time_s: PositiveFloat | None = None
    """Time from getting its racks back to training again from the last checkpoint, s (default: the rack design's
    `reliability.restart_time_s`)."""
    design: str | None = None
    """Run on racks of this design (a hall group's design name); default: any group that holds it, chosen when it is
    scheduled (racksim.workload.scheduler)."""

    @model_validator(mode="after")
    def _one_each(self) -> TrainingJob:
        if (self.tokens is None) == (self.steps is None):
            raise ValueError("give exactly one of tokens and steps")
        if (self.checkpoint_every_steps is None) == (self.checkpoint_every_s is None):
            raise ValueError("give exactly one of checkpoint_every_steps and checkpoint_every_s")
        return self


class InferenceService(Model):
    """An inference service: `replicas` replicas of `racks_per_replica` racks each, serving at a mean `demand`.

    The racks run the served model's decode at `demand` of their GPU capacity (the share of GPU time busy) for
    `duration_s`; work is counted in busy GPU-hours. A failed rack stops its replica only until repaired or swapped.
    """

    kind: Literal["inference"]
    """Job kind."""
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] | None = None
    """Names the service in the per-job table (default: job<index>)."""
    model: str
    """Bundled model name or path to a Hugging Face config.json / YAML (named in the per-job table)."""
    replicas: PositiveInt
    """Replicas of the service."""
    racks_per_replica: PositiveInt = 1
    """Racks each replica runs on."""
    demand: Annotated[float, Field(gt=0, le=1)] = 0.6
    """Mean share of the service's GPU time busy serving (the GPU utilization its racks run at)."""
    submit_s: NonNegativeFloat = 0.0
    """When the service starts asking for racks, s."""
    duration_s: PositiveFloat | None = None
    """How long it serves, s (absent: to the end of the run)."""
    design: str | None = None
    """Serve on racks of this design (a hall group's design name); default: any group that holds it, chosen when it
    is scheduled (racksim.workload.scheduler)."""


def _kind(value: Any) -> str | None:  # noqa: ANN401 - raw YAML or a model
    """The job's kind; training when the YAML leaves it out."""
    return value.get("kind", "training") if isinstance(value, dict) else getattr(value, "kind", None)


Job = Annotated[
    Annotated[TrainingJob, Tag("training")] | Annotated[InferenceService, Tag("inference")],
    Discriminator(_kind),
]


class TraceModel(Model):
    """The model a trace's jobs train up to a size (the trace names no model)."""

    up_to_gpus: PositiveInt
    """Jobs of at most this many GPUs train `model` (the first entry that holds a job's size wins)."""
    model: str
    """Bundled model name or config path."""
    global_batch_sequences_per_gpu: PositiveFloat = 1.0
    """Global batch = this × the job's GPUs, in sequences (at least one)."""


def _default_trace_models() -> list[TraceModel]:
    return [TraceModel(up_to_gpus=288, model="llama3-8b"), TraceModel(up_to_gpus=4608, model="llama3-70b"),
            TraceModel(up_to_gpus=1_000_000, model="llama3-405b")]


class JobTrace(Model):
    """A job trace: SWF (Parallel Workloads Archive) or CSV, with defaults for what a trace does not say."""

    path: Path
    """Trace file (.swf or .csv); a relative path is relative to the suite file."""
    models: list[TraceModel] = Field(default_factory=_default_trace_models, min_length=1)
    """Model trained by a job by its size (A: small jobs train small models), in increasing `up_to_gpus`."""
    kind: Literal["training", "inference"] = "training"
    """Kind of the trace's jobs when the trace does not say (SWF never does)."""
    seq_len: PositiveInt = 8192
    """Tokens per sequence of every trace job."""
    precision: Precision = "bf16"
    """Matmul precision of every trace job (the GPU must have it)."""
    checkpoint_every_s: PositiveFloat = 1800.0
    """Training time between checkpoints of every trace job, s."""
    checkpoint_time_s: NonNegativeFloat = 60.0
    """Time a trace job pauses to write a checkpoint, s."""
    gpus_per_processor: PositiveFloat = 1.0
    """GPUs per SWF processor (a CPU trace replayed as GPUs: scale it)."""
    time_scale: PositiveFloat = 1.0
    """Multiplies the trace's submit and run times."""
    max_jobs: PositiveInt | None = None
    """Read at most this many jobs (the first ones)."""

    @model_validator(mode="after")
    def _sizes_grow(self) -> JobTrace:
        sizes = [entry.up_to_gpus for entry in self.models]
        if sizes != sorted(sizes) or len(set(sizes)) != len(sizes):
            raise ValueError("models: up_to_gpus must increase from entry to entry")
        if self.path.suffix.lower() not in (".swf", ".csv"):
            raise ValueError(f"a job trace is a .swf or .csv file, not {self.path.name}")
        return self


class Scheduler(Model):
    """How jobs get racks: FIFO (optionally with EASY backfill), whole racks, row packing, hot-spare racks."""

    policy: Literal["fifo", "easy_backfill"] = "easy_backfill"
    """fifo: jobs start in submit order; easy_backfill: a later job may start now if it does not delay the
    reservation of the queue's head (computed from the running jobs' expected ends and the racks' expected returns
    from repair, racksim.engine.fleet)."""
    row_packing: bool = True
    """Place a job in as few rows as possible (best fit into one row, else the rows with most free racks first);
    off: the lowest-numbered free racks."""
    queue_depth: PositiveInt = 100
    """Queued jobs considered per scheduling pass, from the head (S: Slurm's default_queue_depth, 100 jobs,
    slurm.schedmd.com/sched_config.html); bounds each pass's cost when thousands wait."""
    hot_spare_racks: Annotated[int, Field(ge=0)] = 0
    """Racks held idle per design group; a job whose rack fails swaps one in (`repair.swap_time_s`) instead of
    waiting for the repair."""


class RepairCrew(Model):
    """Technicians who repair failed racks one failure each, working shifts; spare parts from a stock."""

    technicians: PositiveInt = 4
    """Technicians on each shift (repairs in parallel)."""
    shift_h: Annotated[float, Field(gt=0, le=24)] = 24.0
    """Hours a day covered by shifts, from midnight (24: round the clock); a repair waits for the next shift."""
    parts_on_hand: Annotated[int, Field(ge=0)] = 20
    """Spare parts (field-replaceable units) in stock at the start; a repair takes one."""
    restock_time_h: PositiveFloat = 48.0
    """Time for a used part to be replaced in stock, h."""
    swap_time_s: PositiveFloat = 900.0
    """Time to move a job from a failed rack onto a hot-spare rack, s."""
    mttr_scale: PositiveFloat = 1.0
    """Multiplies the hands-on repair times (the rack design's `reliability` mttr_h per class)."""


FLEET_FIELDS = ("jobs", "job_trace", "scheduler", "repair")
"""Scenario fields that only a hall's fleet run reads."""
TRIP_RESET_DELAY_S = 600.0
"""Default time until an operator resets a tripped rack, s. A: 10 minutes. Basis: a tripped breaker is reclosed by
hand only after someone has determined the circuit can be safely re-energized (OSHA 29 CFR 1910.334(b)(2)), so a
reset waits for a technician on the floor, not for an automatic recloser; colocation remote-hands SLAs put a
production-down (P1) response at 10-60 min (docs.clouddigit.ai/colocation/remote-hands, plan tiers) and a
managed P1 response at 15-30 min (awd.com.au, typical response-time SLAs). 10 min assumes staff on site 24/7 and
the cause (a sag, an overload) already gone; it is at the fast end of those figures."""


def check_fleet_fields(jobs: list[Any] | None, job_trace: JobTrace | None, has_workload: bool,
                       fields_set: set[str]) -> None:
    """Raise ValueError (a one-line rule) when a scenario mixes a fleet job mix and a single workload wrongly."""
    if jobs is not None and job_trace is not None:
        raise ValueError("give jobs or job_trace, not both")
    fleet = jobs is not None or job_trace is not None
    if not fleet and not has_workload:
        raise ValueError("give a workload (one job over every rack) or jobs / job_trace (a hall's job mix)")
    if fleet and has_workload:
        raise ValueError("give a workload or jobs / job_trace, not both")
    orphans = sorted(set(FLEET_FIELDS[2:]) & fields_set)
    if orphans and not fleet:
        raise ValueError(f"{', '.join(orphans)} apply to a job mix (jobs or job_trace)")
    if jobs is not None and not jobs:
        raise ValueError("jobs: list at least one job")
