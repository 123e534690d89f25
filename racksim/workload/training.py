"""Training as phases: compute, pipeline bubble, exposed communication, a checkpoint every N steps.

The per-GPU form times the step from the GPU's FLOPs and the reference all-reduce; the model form from a
transformer's size and its parallel layout, each collective timed on the design's links.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from racksim.design.workload_schema import ModelSpec, TrainingWorkload
from racksim.errors import InputError
from racksim.network import (
    CollectiveModel,
    allreduce_busbw_gbyte_s,
    allreduce_rate_with_links_down,
    bus_factor,
    compile_topology,
    concurrent_time_s,
    with_scale_up_links_down,
)
from racksim.network.topology import Topology
from racksim.physics.operating_point import Activity
from racksim.workload.phases import Phase, activity_of

if TYPE_CHECKING:
    from racksim.design.schema import Design

GBYTE = 1e9
TRAINING_FLOPS_PER_PARAMETER_TOKEN = 6.0
"""Forward (2) and backward (4) FLOPs per parameter and token (Kaplan et al. 2020)."""
DEFAULT_ACTIVITY = {name: activity_of(TrainingWorkload.model_fields[name].default)
                    for name in ("compute", "communication", "checkpoint", "bubble")}
"""The suite schema's default utilizations of each training phase."""


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


@dataclass(frozen=True)
class LayoutPlan:
    """The collectives of one step of a model under its parallel layout; times on a given topology."""

    collectives: tuple[Collective, ...]
    data_overlap: float
    compute_s: float
    gpus_per_rack: int

    def times_s(self, model: CollectiveModel) -> tuple[float, float]:
        """(exposed, hidden) collective time per step, s.

        The data-parallel all-reduce hides up to `data_overlap` of itself behind compute (never more than the
        compute time); the tensor, expert and pipeline transfers sit on the critical path.
        """
        exposed, hidden = 0.0, 0.0
        for collective in self.collectives:
            time_s = collective.time_s(model)
            if collective.name == "data":
                overlapped = min(self.data_overlap * time_s, self.compute_s)
                exposed, hidden = exposed + time_s - overlapped, hidden + overlapped
            else:
                exposed += time_s
        return exposed, hidden

    def traffic_gbyte_per_gpu(self) -> tuple[float, float]:
        """Bytes each GPU moves per step over (scale-up, scale-out), GB."""
        parts = [c.gbyte_per_gpu(self.gpus_per_rack) for c in self.collectives]
        return sum(p[0] for p in parts), sum(p[1] for p in parts)


def _groups(n_gpus: int, size: int) -> np.ndarray:
    """Consecutive groups of `size` GPUs, every GPU in one: (groups, size)."""
    return np.arange(n_gpus).reshape(-1, size)


def layout_plan(spec: ModelSpec, design: Design, n_racks: int, compute_s: float, source: str = "") -> LayoutPlan:
    """Map tensor × pipeline onto the scale-up domain, data parallelism over the rest, experts in-domain.

    Per step, with T tokens, dp replicas, M microbatches, L layers, h hidden, b bytes per value:
    tensor: 4 all-reduces per layer and microbatch of (T/dp/M)·h·b over tp GPUs (2 forward, 2 backward);
    expert: 4 all-to-alls per MoE layer and microbatch of (T/dp/M/tp)·k·h·b over ep GPUs;
    data: one all-reduce of the gradients, N/(tp·pp·ep)·b, over dp GPUs (expert weights sharded by ep);
    pipeline: 2·M point-to-point activations (T/dp/M)·h·b/tp between neighbouring stages (timed as a
    two-rank all-gather of twice that, which sends it once).
    """
    layout = spec.layout
    m = design.slot_count("compute") * design.compute_tray.gpus.count
    n = m * n_racks
    tp, pp, ep = layout.tensor, layout.pipeline, layout.expert
    where = "workload.model.layout"
    if m % (tp * pp):
        raise InputError(source, f"{where}.tensor", f"tensor × pipeline = {tp * pp} must divide the {m}-GPU "
                         f"scale-up domain of {design.name}")
    if m % ep:
        raise InputError(source, f"{where}.expert", f"expert = {ep} must divide the {m}-GPU scale-up domain "
                         f"of {design.name}")
    if spec.layers % pp:
        raise InputError(source, f"{where}.pipeline", f"pipeline = {pp} must divide layers = {spec.layers}")
    dp = n // (tp * pp)
    micro = layout.microbatches
    tokens_micro = spec.tokens_per_step / dp / micro
    activation = tokens_micro * spec.hidden_size * spec.bytes_per_value
    collectives = []
    if tp > 1:
        collectives.append(Collective("tensor", "all-reduce", _groups(m, tp), activation,
                                      4 * spec.layers / pp * micro))
    if ep > 1:
        collectives.append(Collective("expert", "all-to-all", _groups(m, ep),
                                      activation / tp * spec.experts_per_token, 4 * spec.moe_layers / pp * micro))
    if dp > 1:
        members = np.arange(n).reshape(n_racks, m // (tp * pp), tp * pp)  # same model-parallel rank, every replica
        collectives.append(Collective("data", "all-reduce", members.transpose(2, 0, 1).reshape(tp * pp, dp),
                                      spec.parameters / (tp * pp * ep) * spec.bytes_per_value, 1))
    if pp > 1:
        stages = np.arange(m).reshape(-1, pp, tp).transpose(0, 2, 1).reshape(-1, pp)  # one pipeline per row
        neighbours = np.stack([stages[:, :-1], stages[:, 1:]], axis=-1).reshape(-1, 2)
        collectives.append(Collective("pipeline", "all-gather", neighbours, 2 * activation / tp, 2 * micro))
    return LayoutPlan(tuple(collectives), spec.data_parallel_overlap, compute_s, m)


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
    bubble: Activity = DEFAULT_ACTIVITY["bubble"]
    bubble_s: float = 0.0
    """Pipeline bubble per step, s."""
    hidden_collective_s: float = 0.0
    """Collective time per step hidden behind compute, s."""
    traffic_gbyte_per_gpu: tuple[float, float] = (0.0, 0.0)
    """Bytes each GPU moves per step over (scale-up, scale-out), GB."""
    design: Design | None = field(default=None, compare=False, repr=False)
    plan: LayoutPlan | None = field(default=None, compare=False, repr=False)
    topology: Topology | None = field(default=None, compare=False, repr=False)
    work_unit: str = "steps"

    @classmethod
    def for_design(cls, workload: TrainingWorkload, design: Design, n_racks: int = 1,
                   source: str = "") -> TrainingSchedule:
        """Step times from the workload and the design's GPUs and links.

        Per GPU: t_compute = F · 10³ / (Θ_dense · MFU) [PFLOP → TFLOP, TFLOP/s]; t_comm = B / busbw [GB, GB/s].
        Model: t_compute = 6 · N_active · T / (n · Θ_dense · 10¹² · MFU) [s]; bubble t_compute · (pp − 1)/M;
        exposed communication from `layout_plan`.
        """
        gpu = design.compute_tray.gpus
        throughput_tflops = gpu.dense_tflops * workload.model_flops_utilization
        common = cls(compute_s=0.0, communication_s=0.0, checkpoint_every_steps=workload.checkpoint_every_steps,
                     checkpoint_s=workload.checkpoint_time_s, compute=activity_of(workload.compute),
                     communication=activity_of(workload.communication), checkpoint=activity_of(workload.checkpoint),
                     bubble=activity_of(workload.bubble), design=design)
        spec = workload.model
        if spec is None:
            assert workload.compute_pflop_per_gpu_step is not None
            assert workload.exposed_communication_gbyte_per_gpu_step is not None
            gbyte = workload.exposed_communication_gbyte_per_gpu_step
            return replace(common, compute_s=workload.compute_pflop_per_gpu_step * 1e3 / throughput_tflops,
                           communication_s=gbyte / allreduce_busbw_gbyte_s(design), traffic_gbyte_per_gpu=(gbyte, 0.0))
        n_gpus = design.slot_count("compute") * gpu.count * n_racks
        compute_s = TRAINING_FLOPS_PER_PARAMETER_TOKEN * spec.active * spec.tokens_per_step / (
            n_gpus * throughput_tflops * 1e12)
        plan = layout_plan(spec, design, n_racks, compute_s, source)
        topology = compile_topology(design, n_racks)
        exposed_s, hidden_s = plan.times_s(CollectiveModel(design, topology))
        return replace(common, compute_s=compute_s, communication_s=exposed_s, hidden_collective_s=hidden_s,
                       bubble_s=compute_s * (spec.layout.pipeline - 1) / spec.layout.microbatches,
                       traffic_gbyte_per_gpu=plan.traffic_gbyte_per_gpu(), plan=plan, topology=topology)

    @property
    def step_s(self) -> float:
        """Nominal step time, s."""
        return self.compute_s + self.bubble_s + self.communication_s

    @property
    def checkpoint_interval_s(self) -> float:
        """Nominal time between checkpoints, s."""
        return self.checkpoint_every_steps * self.step_s

    def phases(self) -> Iterator[Phase]:
        """Endless step cycle: compute → bubble → communication (one step done) → every N steps a checkpoint.

        The cycle ends at each checkpoint (or at each step's communication without checkpoints).
        """
        up_gbyte, out_gbyte = self.traffic_gbyte_per_gpu
        collective_s = self.communication_s + self.hidden_collective_s
        hidden = self.hidden_collective_s / collective_s if collective_s else 0.0  # share of traffic under compute
        compute = Phase("compute", self.compute, self.compute_s, "compute", collective_s=self.hidden_collective_s,
                        scale_up_gbyte_per_gpu=up_gbyte * hidden, scale_out_gbyte_per_gpu=out_gbyte * hidden)
        bubble = Phase("bubble", self.bubble, self.bubble_s, "compute")
        checkpoints = self.checkpoint_s > 0
        communication = Phase("communication", self.communication, self.communication_s, "network", work_units=1.0,
                              collective_s=self.communication_s, scale_up_gbyte_per_gpu=up_gbyte * (1 - hidden),
                              scale_out_gbyte_per_gpu=out_gbyte * (1 - hidden), ends_cycle=not checkpoints)
        checkpoint = Phase("checkpoint", self.checkpoint, self.checkpoint_s, saves_checkpoint=True, ends_cycle=True)
        step = 0
        while True:
            yield compute
            if self.bubble_s > 0:
                yield bubble
            yield communication
            step += 1
            if step % self.checkpoint_every_steps == 0 and checkpoints:
                yield checkpoint

    def nominal_steps(self, duration_s: float) -> int:
        """Steps completed in `duration_s` at nominal throughput (no throttling, no faults).

        With step time s = t_compute + t_bubble + t_comm, N steps per checkpoint and cycle = N·s + t_ckpt:
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

    def network_rate(self, scale_up_links_down: np.ndarray) -> float:
        """Speed of the step's exposed communication with these links failed, relative to none (≤ 1)."""
        if scale_up_links_down.size == 0 or self.communication_s == 0:
            return 1.0
        if self.plan is None or self.topology is None or self.design is None:
            return allreduce_rate_with_links_down(self.design, scale_up_links_down) if self.design else 1.0
        degraded = with_scale_up_links_down(self.topology, scale_up_links_down)
        exposed_s, _ = self.plan.times_s(CollectiveModel(self.design, degraded))
        return min(1.0, self.communication_s / exposed_s) if exposed_s > 0 else 1.0
