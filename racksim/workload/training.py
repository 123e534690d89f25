"""Training as phases: one step's phases from the performance model, a checkpoint every N steps.

A `TrainingSchedule` holds one step as a sequence of phases (`step`, compiled from racksim.perf's prediction by
`racksim.workload.training_model`) or, for the engine's own tests, the plain synthetic step compute → bubble →
communication with typed-in times. Failed scale-up links slow the step's network-paced phases by the rate its
collectives (`Collective`, on the design's topology) keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from racksim.network import (
    CollectiveModel,
    allreduce_rate_with_links_down,
    bus_factor,
    concurrent_time_s,
    with_scale_up_links_down,
)
from racksim.network.topology import Topology
from racksim.physics.operating_point import Activity
from racksim.workload.phases import Phase

if TYPE_CHECKING:
    from racksim.design.schema import Design

GBYTE = 1e9
DEFAULT_ACTIVITY = {"compute": Activity(1.0, 0.3, 0.1), "communication": Activity(0.3, 0.3, 1.0),
                    "checkpoint": Activity(0.05, 0.6, 0.2), "bubble": Activity(0.1, 0.3, 0.3)}
"""Utilizations of the synthetic step's phases (the engine tests' schedules; A)."""


@dataclass(frozen=True)
class Collective:
    """One collective a training step runs, on every group of the layout at once."""

    name: str
    """The parallelism it serves: tensor, data, expert or pipeline."""
    op: str
    groups: np.ndarray
    """(groups, ranks) GPU indices; rows run concurrently."""
    size_bytes: float
    """Message size in nccl-tests' convention (per-rank buffer for all-reduce, total exchanged otherwise)."""
    count: float
    """Times it runs per step."""

    def time_s(self, model: CollectiveModel) -> float:
        """Time of all `count` calls, s."""
        return self.count * concurrent_time_s(model, self.op, self.groups, self.size_bytes)

    def gbyte_per_gpu(self, gpus_per_rack: int) -> tuple[float, float]:
        """Bytes each member sends per step over (scale-up, scale-out), GB.

        Bus-factor bytes F·S per call; a group spanning R racks sends R of its n ring hops across racks.
        """
        total = self.count * bus_factor(self.op, self.groups.shape[1]) * self.size_bytes / GBYTE
        racks = np.unique(self.groups[0] // gpus_per_rack).size
        cross = 0.0 if racks == 1 else racks / self.groups.shape[1]
        return total * (1 - cross), total * cross


def _groups(n_gpus: int, size: int) -> np.ndarray:
    """Consecutive groups of `size` GPUs, every GPU in one: (groups, size)."""
    return np.arange(n_gpus).reshape(-1, size)


@dataclass(frozen=True)
class LinkPacing:
    """The scale-up collectives of a step, to time them again with links failed."""

    collectives: tuple[Collective, ...]
    design: Design = field(repr=False)
    topology: Topology = field(repr=False)

    def nominal_s(self) -> float:
        """Their time per step with every link up, s."""
        model = CollectiveModel(self.design, self.topology)
        return sum(c.time_s(model) for c in self.collectives)

    def rate(self, scale_up_links_down: np.ndarray) -> float:
        """Speed of these collectives with the links failed, relative to none (≤ 1): T_nominal / T_degraded."""
        degraded = with_scale_up_links_down(self.topology, scale_up_links_down)
        slow_s = sum(c.time_s(CollectiveModel(self.design, degraded)) for c in self.collectives)
        return min(1.0, self.nominal_s() / slow_s) if slow_s > 0 else 1.0


@dataclass(frozen=True)
class TrainingSchedule:
    """A training workload's phase times on one design, s.

    With `step` (the model form) a step is those phases in order, the last crediting the step; without it, the
    synthetic step compute → bubble → communication of the times given.
    """

    compute_s: float
    communication_s: float
    checkpoint_every_steps: int
    checkpoint_s: float
    compute: Activity = DEFAULT_ACTIVITY["compute"]
    communication: Activity = DEFAULT_ACTIVITY["communication"]
    checkpoint: Activity = DEFAULT_ACTIVITY["checkpoint"]
    bubble: Activity = DEFAULT_ACTIVITY["bubble"]
    bubble_s: float = 0.0
    """Pipeline bubble per step, s."""
    hidden_collective_s: float = 0.0
    """Collective time per step hidden behind compute, s."""
    traffic_gbyte_per_gpu: tuple[float, float] = (0.0, 0.0)
    """Bytes each GPU moves per step over (scale-up, scale-out), GB."""
    design: Design | None = field(default=None, compare=False, repr=False)
    step: tuple[Phase, ...] = ()
    """One step's phases (model form); empty: the synthetic step."""
    links: LinkPacing | None = field(default=None, compare=False, repr=False)
    """The step's scale-up collectives, to pace its network phases with links failed (model form)."""
    predicted: dict[str, Any] = field(default_factory=dict, compare=False)
    """The prediction's performance metrics (step_time_s, mfu, ...), for metrics.json."""
    tokens_per_work_unit: float = 0.0
    """Tokens one step trains (0: not a model's step)."""
    work_unit: str = "steps"

    @property
    def step_s(self) -> float:
        """Nominal step time, s."""
        if self.step:
            return sum(phase.nominal_s for phase in self.step)
        return self.compute_s + self.bubble_s + self.communication_s

    @property
    def checkpoint_interval_s(self) -> float:
        """Nominal time between checkpoints, s."""
        return self.checkpoint_every_steps * self.step_s

    def _synthetic_step(self, ends_cycle: bool) -> tuple[Phase, ...]:
        """Compute → bubble → communication, the traffic split by the share of collective time hidden under compute."""
        up_gbyte, out_gbyte = self.traffic_gbyte_per_gpu
        collective_s = self.communication_s + self.hidden_collective_s
        hidden = self.hidden_collective_s / collective_s if collective_s else 0.0
        compute = Phase("compute", self.compute, self.compute_s, "compute", collective_s=self.hidden_collective_s,
                        scale_up_gbyte_per_gpu=up_gbyte * hidden, scale_out_gbyte_per_gpu=out_gbyte * hidden)
        bubble = Phase("bubble", self.bubble, self.bubble_s, "compute")
        communication = Phase("communication", self.communication, self.communication_s, "network", work_units=1.0,
                              collective_s=self.communication_s, scale_up_gbyte_per_gpu=up_gbyte * (1 - hidden),
                              scale_out_gbyte_per_gpu=out_gbyte * (1 - hidden), ends_cycle=ends_cycle)
        return (compute, bubble, communication) if self.bubble_s > 0 else (compute, communication)

    def phases(self) -> Iterator[Phase]:
        """Endless step cycle: the step's phases (the last one finishes the step), every N steps a checkpoint.

        The cycle ends at each checkpoint (or at each step's last phase without checkpoints).
        """
        checkpoints = self.checkpoint_s > 0
        if self.step:
            *body, last = self.step
            step = (*body, replace(last, work_units=1.0, ends_cycle=not checkpoints))
        else:
            step = self._synthetic_step(not checkpoints)
        checkpoint = Phase("checkpoint", self.checkpoint, self.checkpoint_s, saves_checkpoint=True, ends_cycle=True)
        done = 0
        while True:
            yield from step
            done += 1
            if done % self.checkpoint_every_steps == 0 and checkpoints:
                yield checkpoint

    def nominal_steps(self, duration_s: float) -> int:
        """Steps completed in `duration_s` at nominal throughput (no throttling, no faults).

        With step time s, N steps per checkpoint and cycle = N·s + t_ckpt:
        steps = N·⌊D / cycle⌋ + min(N, ⌊(D mod cycle) / s⌋).
        """
        per_cycle = self.checkpoint_every_steps
        cycle_s = per_cycle * self.step_s + self.checkpoint_s
        cycles = np.floor(duration_s / cycle_s + 1e-12)
        remainder_s = duration_s - cycles * cycle_s
        return int(per_cycle * cycles + min(per_cycle, np.floor(remainder_s / self.step_s + 1e-12)))

    def nominal_work_units(self, duration_s: float) -> float:
        """Steps completed in `duration_s` at nominal throughput."""
        return float(self.nominal_steps(duration_s))

    def performance_metrics(self, duration_s: float) -> dict[str, Any]:
        """The prediction's performance metrics (empty for the synthetic step)."""
        return dict(self.predicted)

    def serving_curve(self) -> dict[str, Any] | None:
        """Training serves nothing: no serving curve."""
        return None

    def network_rate(self, scale_up_links_down: np.ndarray) -> float:
        """Speed of the step's network-paced phases with these links failed, relative to none (≤ 1)."""
        if scale_up_links_down.size == 0:
            return 1.0
        if self.links is not None:
            return self.links.rate(scale_up_links_down)
        if self.step or self.communication_s == 0 or self.design is None:
            return 1.0
        return allreduce_rate_with_links_down(self.design, scale_up_links_down)
