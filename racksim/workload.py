"""Workloads as sequences of phases: what the hardware is asked to do, and how work is counted."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from racksim.operating_point import Activity
from racksim.suite import PhaseActivity, TrainingWorkload


@dataclass(frozen=True)
class Phase:
    """One phase of a workload."""

    name: str
    activity: Activity
    nominal_s: float
    """Duration at nominal throughput, s."""
    rate_bound: bool
    """True when the phase stretches as the GPUs' work rate drops (compute); else fixed time."""
    completes_step: bool
    """True when finishing the phase completes one unit of work."""


def _activity(phase: PhaseActivity) -> Activity:
    return Activity(phase.gpu_utilization, phase.cpu_utilization, phase.network_utilization)


def training_phases(workload: TrainingWorkload) -> Iterator[Phase]:
    """Endless step cycle: compute → communication (one step done) → every N steps a checkpoint."""
    compute = Phase("compute", _activity(workload.compute), workload.compute_time_s, True, False)
    communication = Phase("communication", _activity(workload.communication), workload.communication_time_s,
                          False, True)
    checkpoint = Phase("checkpoint", _activity(workload.checkpoint), workload.checkpoint_time_s, False, False)
    step = 0
    while True:
        yield compute
        yield communication
        step += 1
        if step % workload.checkpoint_every_steps == 0 and workload.checkpoint_time_s > 0:
            yield checkpoint


def nominal_training_steps(workload: TrainingWorkload, duration_s: float) -> int:
    """Steps completed in `duration_s` at nominal throughput (no throttling, no faults).

    With step time s = t_compute + t_comm, N steps per checkpoint and cycle = N·s + t_ckpt:
    steps = N·⌊D / cycle⌋ + min(N, ⌊(D mod cycle) / s⌋).
    """
    step_s = workload.compute_time_s + workload.communication_time_s
    per_cycle = workload.checkpoint_every_steps
    cycle_s = per_cycle * step_s + workload.checkpoint_time_s
    cycles = math.floor(duration_s / cycle_s + 1e-12)
    remainder_s = duration_s - cycles * cycle_s
    return per_cycle * cycles + min(per_cycle, math.floor(remainder_s / step_s + 1e-12))
