"""Workloads: what the racks are asked to do, compiled per design into phases the engine runs.

`schedule_for(workload, design, ...)` gives a `Schedule`: training of a model (its step predicted by racksim.perf),
inference (the model served under Poisson arrivals with a daily cycle) or a replayed trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from racksim.design.workload_schema import InferenceWorkload, TrainingWorkload, Workload
from racksim.workload.inference import InferenceSchedule
from racksim.workload.phases import Phase, Schedule, nominal_work
from racksim.workload.trace import TraceSchedule
from racksim.workload.training import DEFAULT_ACTIVITY, TrainingSchedule
from racksim.workload.training_model import compile_training

if TYPE_CHECKING:
    from racksim.design.schema import Design


def schedule_for(workload: Workload, design: Design, *, n_racks: int = 1, seed: int = 0,
                 source: str = "") -> Schedule:
    """The workload compiled for `n_racks` racks of `design`; `seed` drives random arrivals."""
    gpus = design.compute_tray.gpus
    gpus_per_rack = design.slot_count("compute") * gpus.count
    if isinstance(workload, TrainingWorkload):
        return compile_training(workload, design, n_racks, source)
    if isinstance(workload, InferenceWorkload):
        return InferenceSchedule.for_design(workload, design, n_racks, seed, source)
    return TraceSchedule.for_design(workload, gpus_per_rack, n_racks, gpus.idle_w, gpus.tdp_w)


__all__ = [
    "DEFAULT_ACTIVITY",
    "InferenceSchedule",
    "Phase",
    "Schedule",
    "TraceSchedule",
    "TrainingSchedule",
    "Workload",
    "nominal_work",
    "schedule_for",
]
