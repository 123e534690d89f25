"""Workloads as sequences of phases: what the hardware is asked to do, and how work is counted."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from racksim.design.schema import Design
from racksim.network import allreduce_busbw_gbyte_s
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
    saves_checkpoint: bool = False
    """True when finishing the phase saves the job's state (work up to here survives a crash)."""
    network_bound: bool = False
    """True when the phase stretches as failed links slow the collectives (communication)."""


def _activity(phase: PhaseActivity) -> Activity:
    return Activity(phase.gpu_utilization, phase.cpu_utilization, phase.network_utilization)


DEFAULT_ACTIVITY = {name: _activity(TrainingWorkload.model_fields[name].default)
                    for name in ("compute", "communication", "checkpoint")}
"""The suite schema's default utilizations of each training phase."""


@dataclass(frozen=True)
class TrainingSchedule:
    """A training workload's phase times on one design, s."""

    compute_s: float
    communication_s: float
    checkpoint_every_steps: int
    checkpoint_s: float
    compute: Activity = DEFAULT_ACTIVITY["compute"]
    communication: Activity = DEFAULT_ACTIVITY["communication"]
    checkpoint: Activity = DEFAULT_ACTIVITY["checkpoint"]

    @classmethod
    def for_design(cls, workload: TrainingWorkload, design: Design) -> TrainingSchedule:
        """Step times from the workload's per-GPU FLOPs and bytes and the design's GPUs and links.

        t_compute = F · 10³ / (Θ_dense · MFU)  [PFLOP → TFLOP, TFLOP/s];
        t_comm = B / busbw  [GB, GB/s], busbw of the design's reference all-reduce over its scale-up domain.
        """
        gpu = design.compute_tray.gpus
        return cls(
            compute_s=workload.compute_pflop_per_gpu_step * 1e3 / (gpu.dense_tflops * workload.model_flops_utilization),
            communication_s=workload.exposed_communication_gbyte_per_gpu_step / allreduce_busbw_gbyte_s(design),
            checkpoint_every_steps=workload.checkpoint_every_steps,
            checkpoint_s=workload.checkpoint_time_s,
            compute=_activity(workload.compute),
            communication=_activity(workload.communication),
            checkpoint=_activity(workload.checkpoint),
        )

    def phases(self) -> Iterator[Phase]:
        """Endless step cycle: compute → communication (one step done) → every N steps a checkpoint."""
        compute = Phase("compute", self.compute, self.compute_s, True, False)
        communication = Phase("communication", self.communication, self.communication_s, False, True,
                              network_bound=True)
        checkpoint = Phase("checkpoint", self.checkpoint, self.checkpoint_s, False, False, saves_checkpoint=True)
        step = 0
        while True:
            yield compute
            yield communication
            step += 1
            if step % self.checkpoint_every_steps == 0 and self.checkpoint_s > 0:
                yield checkpoint

    def nominal_steps(self, duration_s: float) -> int:
        """Steps completed in `duration_s` at nominal throughput (no throttling, no faults).

        With step time s = t_compute + t_comm, N steps per checkpoint and cycle = N·s + t_ckpt:
        steps = N·⌊D / cycle⌋ + min(N, ⌊(D mod cycle) / s⌋).
        """
        step_s = self.compute_s + self.communication_s
        per_cycle = self.checkpoint_every_steps
        cycle_s = per_cycle * step_s + self.checkpoint_s
        cycles = math.floor(duration_s / cycle_s + 1e-12)
        remainder_s = duration_s - cycles * cycle_s
        return per_cycle * cycles + min(per_cycle, math.floor(remainder_s / step_s + 1e-12))
