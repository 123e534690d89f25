"""A workload as a sequence of phases: what the hardware is asked to do, how long, and what it earns."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from racksim.design.workload_schema import PhaseActivity
from racksim.physics.operating_point import Activity

Pace = Literal["compute", "network", "fixed"]
"""What stretches a phase: the GPUs' work rate (throttling, capping, lost GPUs), the collectives' speed
(failed links), or nothing."""


@dataclass(frozen=True)
class Phase:
    """One phase of a workload."""

    name: str
    """The phase's share of the step-time breakdown: compute, communication, bubble, optimizer, checkpoint, serve,
    trace."""
    activity: Activity
    nominal_s: float
    """Duration at nominal throughput, s."""
    pace: Pace = "fixed"
    work_units: float = 0.0
    """Work credited when the phase finishes (a training step, served tokens, busy GPU-hours)."""
    saves_checkpoint: bool = False
    """True when finishing the phase saves the job's state (work up to here survives a crash)."""
    ends_cycle: bool = False
    """True when the phases after this one repeat, in order and in full, those after its previous occurrence
    (a periodic workload's cycle ends here): the engine may then skip cycles that repeat exactly."""
    collective_s: float = 0.0
    """Nominal time the job's collectives run during the phase, exposed or hidden behind compute, s."""
    scale_up_gbyte_per_gpu: float = 0.0
    """Bytes each GPU moves over its scale-up links during the phase, GB."""
    scale_out_gbyte_per_gpu: float = 0.0
    """Bytes each GPU moves over its scale-out NICs during the phase, GB."""


def activity_of(phase: PhaseActivity) -> Activity:
    """The engine's activity for a phase's utilizations."""
    return Activity(phase.gpu_utilization, phase.cpu_utilization, phase.network_utilization)


class Schedule(Protocol):
    """A workload compiled for one design: its phases and the yardsticks its metrics are measured against."""

    @property
    def work_unit(self) -> str:
        """What performance.work_units counts: steps, tokens or GPU-hours."""
        ...

    @property
    def checkpoint_s(self) -> float:
        """Time to write one checkpoint, s (0: the workload keeps no state worth saving)."""
        ...

    def phases(self) -> Iterator[Phase]:
        """The job's phases from its start (or from a restart after an interruption)."""
        ...

    def nominal_work_units(self, duration_s: float) -> float:
        """Work done in `duration_s` without faults, throttling or capping."""
        ...

    def network_rate(self, scale_up_links_down: np.ndarray) -> float:
        """Speed of the workload's collectives with these scale-up links failed, relative to none (≤ 1)."""
        ...

    @property
    def tokens_per_work_unit(self) -> float:
        """Tokens one work unit stands for (a step's global batch, 1 for a served token; 0: not tokens)."""
        ...

    def performance_metrics(self, duration_s: float) -> dict[str, Any]:
        """The predicted performance metrics of the run (performance.step_time_s, ttft_s_p50, ...)."""
        ...

    def serving_curve(self) -> dict[str, Any] | None:
        """The throughput-interactivity curve the workload's operating point was chosen on, JSON-ready (None: none)."""
        ...

    @property
    def checkpoint_interval_s(self) -> float:
        """Nominal time between checkpoints, s (inf: none)."""
        ...


def nominal_work(phases: Iterator[Phase], duration_s: float) -> float:
    """Work the phases credit within `duration_s` at nominal speed (phases end when their time is up)."""
    time_s, work = 0.0, 0.0
    for phase in phases:
        time_s += phase.nominal_s
        if time_s > duration_s * (1 + 1e-12):
            return work
        work += phase.work_units
    return work


class UncheckpointedSchedule:
    """What inference and trace schedules share: no checkpoints, a pace no failed link sets, work from phases."""

    checkpoint_s = 0.0
    checkpoint_interval_s = math.inf
    tokens_per_work_unit = 0.0

    def phases(self) -> Iterator[Phase]:
        """The workload's phases from its start."""
        raise NotImplementedError

    def nominal_work_units(self, duration_s: float) -> float:
        """Work the phases credit in `duration_s` without faults, throttling or capping."""
        return nominal_work(self.phases(), duration_s)

    def network_rate(self, scale_up_links_down: np.ndarray) -> float:
        """Compute-paced: failed links do not slow it."""
        return 1.0

    def performance_metrics(self, duration_s: float) -> dict[str, Any]:
        """None predicted."""
        return {}

    def serving_curve(self) -> dict[str, Any] | None:
        """No serving curve."""
        return None
