"""Workloads: what the racks are asked to do, compiled per design into phases the engine runs.

`schedule_for(workload, design, ...)` gives a `Schedule`: training (per GPU, or a model under its parallel
layout), inference (Poisson arrivals under a daily cycle) or a replayed trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from racksim.design.workload_schema import InferenceWorkload, TrainingWorkload, Workload
from racksim.workload.inference import InferenceSchedule
from racksim.workload.phases import Phase, Schedule, nominal_work
from racksim.workload.trace import TraceSchedule
from racksim.workload.training import DEFAULT_ACTIVITY, TrainingSchedule

if TYPE_CHECKING:
    from racksim.design.schema import Design


def schedule_for(workload: Workload, design: Design, *, n_racks: int = 1, seed: int = 0,
                 source: str = "") -> Schedule:
    """The workload compiled for `n_racks` racks of `design`; `seed` drives random arrivals."""
    gpus = design.compute_tray.gpus
    gpus_per_rack = design.slot_count("compute") * gpus.count
    if isinstance(workload, TrainingWorkload):
        return TrainingSchedule.for_design(workload, design, n_racks, source)
    if isinstance(workload, InferenceWorkload):
        tflops = gpus.fp4_dense_tflops if workload.precision == "fp4" and gpus.fp4_dense_tflops else gpus.dense_tflops
        return InferenceSchedule.for_design(workload, gpus_per_rack * n_racks, tflops, seed)
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
