"""A training workload compiled from racksim.perf's prediction: one step's phases, their power, their traffic.

`compile_training` predicts the step of the scenario's model on every GPU of the job's racks (the layout searched
where the scenario leaves it open; a layout that does not fit is `perf`'s one-line error, needed versus available
GB) and turns its breakdown into the step's phases (`step_phases`):

    bubble/2 → G × [compute_s/G, layer communication/G] → bubble/2 → exposed data-parallel reduction → optimizer

The 1F1B schedule's warm-up and cool-down bubble sit at the step's two ends; the m micro-batches' forward and
backward compute alternate with their per-layer tensor-, context-, expert- and pipeline-parallel communication in G
= min(m, MAX_GROUPS) segment pairs; the data-parallel reduction not hidden under the last backward and the optimizer
close the step. **Bound**: at most 2·MAX_GROUPS + 4 = 36 phases per step. The engine's cost grows with events, and
the real alternation (a few hundred µs per layer) is far below what the power chain, the feed statistics and the
thermal model resolve; 16 segment pairs per step keep the swing's shape (a dip per group of micro-batches, the
deep dip of the gradient reduction and the bubble at the step's end) at tens of events per step.

Each phase's GPU utilization is the activity `racksim.perf.power` derives from its work (compute segments from
the layers' roofline busy times, communication near idle, the optimizer HBM-bound); CPU and network utilizations
stay the synthetic step's assumptions. The bytes each GPU moves per step over the scale-up links and the scale-out
NICs are the step model's own (`perf.training.StepTraffic`, counted from the collectives it times). A pinned
`calibration` stretches every phase by one factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from racksim.design.workload_schema import TrainingWorkload
from racksim.network import compile_topology
from racksim.perf.hardware import accelerator_from_design, gpus_per_rack
from racksim.perf.layout import Layout
from racksim.perf.memory import stage_params
from racksim.perf.model import ModelConfig
from racksim.perf.ops import BYTES_ACT
from racksim.perf.power import LINK_ACTIVITY, WAIT_ACTIVITY, optimizer_busy, training_compute_busy
from racksim.perf.predict import TrainingPrediction, predict_training, resolve_model
from racksim.perf.search import describe
from racksim.perf.training import StepBreakdown, StepTraffic, tp_collectives
from racksim.physics.operating_point import Activity
from racksim.workload.phases import Phase, activity_of
from racksim.workload.training import DEFAULT_ACTIVITY, Collective, LinkPacing, TrainingSchedule

if TYPE_CHECKING:
    from racksim.design.schema import Design

MAX_GROUPS = 16
"""Compute/communication segment pairs per step at most (module docstring)."""
MAX_PHASES_PER_STEP = 2 * MAX_GROUPS + 4
"""Phases of one step at most: the segment pairs, two bubble halves, the data-parallel reduction, the optimizer."""
NO_TRAFFIC = StepTraffic()
"""A step that moves no bytes."""


@dataclass(frozen=True)
class StepActivity:
    """What the engine runs each kind of phase of a predicted step at."""

    compute: Activity
    communication: Activity
    bubble: Activity
    optimizer: Activity


def step_phases(breakdown: StepBreakdown, microbatches: int, activity: StepActivity,
                traffic: StepTraffic = NO_TRAFFIC, scale: float = 1.0) -> tuple[Phase, ...]:
    """One step's phases from its predicted breakdown (module docstring); durations × `scale` (calibration).

    Their durations sum to scale × breakdown.total_s; at most MAX_PHASES_PER_STEP phases, none of zero length;
    without layer communication (tp = cp = ep = pp = 1) the compute is one phase. The step's traffic
    (`perf.training.StepTraffic`) rides on the phases of its communication: the layers' on the layer communication,
    the data-parallel on the reduction; a part with no exposed time (all hidden under the compute) on the compute
    segments, so the phases carry all of it.
    """
    b = breakdown
    layer_comm_s = scale * (b.tp_comm_s + b.cp_comm_s + b.ep_comm_s + b.pp_comm_s)
    groups = max(1, min(microbatches, MAX_GROUPS)) if layer_comm_s > 0 else 1  # nothing to alternate with: one block
    half_bubble = Phase("bubble", activity.bubble, scale * b.bubble_s / 2, "compute")
    dp_s = scale * b.dp_comm_s
    hidden = np.add(traffic.layers_gbyte if layer_comm_s <= 0 else (0.0, 0.0),
                    traffic.dp_gbyte if dp_s <= 0 else (0.0, 0.0)) / groups
    compute = Phase("compute", activity.compute, scale * b.compute_s / groups, "compute",
                    scale_up_gbyte_per_gpu=float(hidden[0]), scale_out_gbyte_per_gpu=float(hidden[1]))
    layers = Phase("communication", activity.communication, layer_comm_s / groups, "network",
                   collective_s=layer_comm_s / groups, scale_up_gbyte_per_gpu=traffic.layers_gbyte[0] / groups,
                   scale_out_gbyte_per_gpu=traffic.layers_gbyte[1] / groups)
    reduce = Phase("communication", activity.communication, dp_s, "network", collective_s=dp_s,
                   scale_up_gbyte_per_gpu=traffic.dp_gbyte[0], scale_out_gbyte_per_gpu=traffic.dp_gbyte[1])
    optimizer = Phase("optimizer", activity.optimizer, scale * b.optimizer_s, "compute")
    phases = [half_bubble, *[compute, layers] * groups, half_bubble, reduce, optimizer]
    return tuple(phase for phase in phases if phase.nominal_s > 0)


def link_pacing(m: ModelConfig, layout: Layout, design: Design, n_racks: int) -> LinkPacing | None:
    """The step's scale-up collectives on the design's topology, None without any.

    TP of every layer, expert all-to-alls, and the data-parallel reduction when it stays inside one rack (Megatron's
    rank order: tp fastest, then cp, dp, pp).
    """
    n, per_rack = layout.gpus, gpus_per_rack(design)
    ranks = np.arange(n).reshape(layout.pp, layout.dp, layout.cp, layout.tp)
    message = layout.micro_batch * layout.seq_len / layout.cp * m.hidden_size * BYTES_ACT
    calls = m.num_hidden_layers / layout.pp * layout.microbatches
    collectives: list[Collective] = []
    if layout.tp > 1:
        tp_groups = ranks.reshape(-1, layout.tp)
        kinds = [k for fwd_bwd in tp_collectives(layout) for k in fwd_bwd]
        collectives += [Collective("tensor", kind, tp_groups, message, calls * kinds.count(kind))
                        for kind in sorted(set(kinds))]
    if layout.ep > 1:
        ep_groups = ranks.reshape(layout.pp, layout.dp // layout.ep, layout.ep, layout.cp, layout.tp)
        ep_groups = ep_groups.transpose(0, 1, 3, 4, 2).reshape(-1, layout.ep)
        collectives.append(Collective("expert", "all-to-all", ep_groups, message * m.top_k / layout.tp,
                                      4 * m.moe_layers / layout.pp * layout.microbatches))
    if layout.dp > 1 and layout.group_span("dp") <= per_rack:
        dense, _ = stage_params(m, layout)
        dp_groups = ranks.transpose(0, 2, 3, 1).reshape(-1, layout.dp)
        collectives.append(Collective("data", "all-reduce", dp_groups, dense * (4.0 if layout.fp32_grads else 2.0), 1))
    if not collectives:
        return None
    return LinkPacing(tuple(collectives), design, compile_topology(design, n_racks))


def _scale(workload: TrainingWorkload, prediction: TrainingPrediction) -> float:
    """Calibration factor k: pinned step time / predicted, or predicted MFU / pinned MFU (1 without a pin)."""
    pin, step = workload.calibration, prediction.step
    if pin is None:
        return 1.0
    return pin.step_time_s / step.step_time_s if pin.step_time_s is not None else step.mfu / float(pin.mfu or 1.0)


def predicted_metrics(prediction: TrainingPrediction, scale: float, pinned: bool) -> dict[str, Any]:
    """performance.* of a training run: step time, MFU, HFU, tokens/s per GPU, memory per GPU, layout, breakdown.

    The memory is the peak and its parts (memory_gb_per_gpu_by_part: weights_gb, gradients_gb, optimizer_gb,
    activations_gb, buffers_gb).
    """
    step = prediction.step
    return {
        "step_time_s": scale * step.step_time_s, "mfu": step.mfu / scale, "hfu": step.hfu / scale,
        "tokens_per_s_per_gpu": step.tokens_per_s_per_gpu / scale,
        "memory_gb_per_gpu_peak": step.memory.total_gb, "hbm_gb_per_gpu": prediction.hbm_gb,
        "memory_gb_per_gpu_by_part": dict(step.memory.__dict__),
        "pinned": pinned, "predicted_step_time_s": step.step_time_s, "layout": describe(prediction.layout),
        "step_breakdown_s": {name: scale * value for name, value in step.breakdown.__dict__.items()},
    }


def compile_training(workload: TrainingWorkload, design: Design, n_racks: int = 1,
                     source: str = "") -> TrainingSchedule:
    """The scenario's training step predicted on `n_racks` racks of `design`, as phases (module docstring)."""
    pins = workload.layout
    config, _ = resolve_model(workload.model)
    prediction = predict_training(
        design, config, gpus_per_rack(design) * n_racks, workload.sequences, workload.seq_len,
        precision=workload.precision, tp=pins.tp, pp=pins.pp, vpp=pins.vpp, dp=pins.dp, cp=pins.cp, ep=pins.ep,
        micro_batch=pins.micro_batch, recompute=pins.recompute, sequence_parallel=pins.sequence_parallel,
        zero=pins.zero, pp_schedule=pins.pp_schedule, source=source or design.name)
    layout, step = prediction.layout, prediction.step
    acc = accelerator_from_design(design, source)

    def at(gpu: float, like: Activity) -> Activity:
        return Activity(gpu, like.cpu_utilization, like.network_utilization)

    activity = StepActivity(
        compute=at(training_compute_busy(config, layout, acc).activity, DEFAULT_ACTIVITY["compute"]),
        communication=at(LINK_ACTIVITY, DEFAULT_ACTIVITY["communication"]),
        bubble=at(WAIT_ACTIVITY, DEFAULT_ACTIVITY["bubble"]),
        optimizer=at(optimizer_busy(config, layout, acc).activity, DEFAULT_ACTIVITY["compute"]))
    scale = _scale(workload, prediction)
    phases = step_phases(step.breakdown, layout.microbatches, activity, step.traffic, scale)
    b = step.breakdown
    return TrainingSchedule(
        compute_s=scale * b.compute_s, communication_s=scale * (b.total_s - b.compute_s - b.bubble_s),
        checkpoint_every_steps=workload.checkpoint_every_steps, checkpoint_s=workload.checkpoint_time_s,
        compute=activity.compute, communication=activity.communication, bubble=activity.bubble,
        checkpoint=activity_of(workload.checkpoint), bubble_s=scale * b.bubble_s,
        traffic_gbyte_per_gpu=step.traffic.total_gbyte,
        design=design, step=phases, links=link_pacing(config, layout, design, n_racks),
        predicted=predicted_metrics(prediction, scale, workload.calibration is not None),
        tokens_per_work_unit=float(layout.global_batch * layout.seq_len))
