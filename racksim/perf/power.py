"""GPU activity from what the performance model says the GPU is doing: the input to the power curve.

The engine draws P = P_idle + u · (P_TDP − P_idle) per GPU (`racksim.physics.power.utilization_power_w`); this
module says what u is for a phase of work, from the busy time of each unit during the phase:

    u = min(1, (a_T · t_tensor + a_V · t_vector + a_H · t_HBM + a_L · t_link) / T)

with T the phase's time, t_tensor the time the tensor cores need for its matmuls at their achieved rate
(F / (P · η_gemm)), t_vector the same for vector ops, t_HBM the time HBM needs for its bytes (bytes / (BW · η_mem)),
t_link the time its collectives run (each op takes max(compute, memory) in `ops.op_times_s`, so each t ≤ T).

Weights (dimensionless):

- a_T = 1.0: matmul-bound work runs the GPU at its power limit. Compute-heavy training phases draw near TDP
  (P: Choukse et al., "Power Stabilization for AI Training Datacenters", Microsoft/OpenAI/NVIDIA, arXiv 2508.14318,
  2025); the prompt (prefill) phase of inference spikes to TDP and beyond (P: Patel et al., "Characterizing Power
  Management Opportunities for LLMs in the Cloud", ASPLOS 2024, §4).
- a_H = 0.35: HBM-bound work (decode, elementwise ops, the optimizer step) at full achievable bandwidth.
  **Calibrated** on decode on an H200 (700 W TDP): 137-300 W across attention kinds with HBM saturated
  (S: "power capping illusion" study of decode on H200, 2026 preprint abstract), idle 80 W (S: a published H200 vLLM
  power ladder, 80.3 W idle): (300 − 80) / (700 − 80) = 0.355, rounded to 0.35 (the top of the range: a
  decode step at a serving batch also reads the KV cache and runs some matmuls). **Checked** against Patel et al.
  (P): the token phase runs "stable, lower" than the prompt phase, and inference clusters peak well below
  provisioned power.
- a_V = 0.5: compute-bound vector (CUDA-core) work: an assumption (A) between the two; the model's vector ops
  are nearly all HBM-bound, so a_V rarely matters.
- a_L = 0.10: collectives in flight: copy engines, NCCL's few SMs and the NVLink/NIC SerDes on top of a GPU that
  holds the job's context. **Checked**: communication-heavy phases run "near idle" (P: Choukse et al. 2025, as
  above: compute phases near TDP, communication phases near idle power; P: NVIDIA, "How New GB300 NVL72 Features
  Provide Steady Power for AI", technical blog 2025: training makes "abrupt transitions between idle and
  high-power states"), and it lies above the context-held floor below. The value 0.10 is an assumption (A):
  no published per-collective power figure was found.
- WAIT_ACTIVITY = 0.06: a GPU waiting on its pipeline neighbours (the bubble) holds its CUDA context and polls.
  **Calibrated** on the context-held idle step: a CUDA context lifts an HBM GPU (H100, A100) 26-50 W above bare
  idle whatever the memory it holds (S: Vadari, "idle GPU power as a function of VRAM allocation", arXiv
  2605.23918, 2026, abstract); the midpoint 38 W on the HGX-H100 reference (700 W TDP, 90 W idle):
  38 / (700 − 90) = 0.062, rounded to 0.06 (the range 0.043-0.082). The polling recv kernel's own draw (a few SMs
  spinning) is left out (A: small); the figure is then a floor for the bubble, not a measurement of it.
  **Doubtful** against S: arXiv 2604.04745 (2026, per-second telemetry of an academic cluster) finds
  "execution-idle" GPUs spending 10.7 % of the energy in 19.7 % of the time, about half the power of the rest;
  that mix of workloads and 1 s sampling does not isolate a bubble, so it is not used.

The check of the whole: a Llama-class training step comes out between a_H and 1 (compute segments ≈ 0.9-1,
communication ≈ 0.1), so the feed swings by most of the GPUs' idle-to-TDP range every step, as Choukse et al.
measure on DGX-H100 racks (their fig. 1), and prefill ≈ 1 versus decode ≈ 0.35-0.5 as Patel et al. measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racksim.perf.accelerator import Accelerator
from racksim.perf.inference import Iteration, Replica, iteration_time_s, layer_parts
from racksim.perf.layout import Layout
from racksim.perf.memory import recomputed_ops, stage_params
from racksim.perf.model import ModelConfig
from racksim.perf.ops import ATTENTION_CORE, OpTable, op_times_s, optimizer_ops
from racksim.perf.training import System, layer_mix, optimizer_params, step_shard

TENSOR_ACTIVITY = 1.0
"""a_T: weight of tensor-core busy time (P: Choukse et al. 2025; Patel et al. 2024)."""
HBM_ACTIVITY = 0.35
"""a_H: weight of HBM busy time (calibrated on H200 decode, S; see the module docstring)."""
VECTOR_ACTIVITY = 0.5
"""a_V: weight of compute-bound vector time (A)."""
LINK_ACTIVITY = 0.10
"""a_L: weight of collective time, near idle (checked: P, Choukse et al. 2025; NVIDIA 2025; the value A)."""
WAIT_ACTIVITY = 0.06
"""Activity of a GPU waiting on its pipeline neighbours (calibrated on the context-held idle step, S)."""


@dataclass(frozen=True)
class Busy:
    """How long a phase takes and how long each unit of the GPU is busy in it, s."""

    time_s: float
    tensor_s: float = 0.0
    vector_s: float = 0.0
    hbm_s: float = 0.0
    link_s: float = 0.0

    def __add__(self, other: Busy) -> Busy:
        """Two phases one after the other."""
        return Busy(*(a + b for a, b in zip(self.__dict__.values(), other.__dict__.values(), strict=True)))

    def __mul__(self, factor: float) -> Busy:
        """The phase run `factor` times."""
        return Busy(*(factor * a for a in self.__dict__.values()))

    __rmul__ = __mul__

    @property
    def activity(self) -> float:
        """U = min(1, (a_T·t_tensor + a_V·t_vector + a_H·t_HBM + a_L·t_link) / T), in [0, 1] (0 for an empty phase)."""
        if self.time_s <= 0:
            return 0.0
        weighted = (TENSOR_ACTIVITY * self.tensor_s + VECTOR_ACTIVITY * self.vector_s + HBM_ACTIVITY * self.hbm_s
                    + LINK_ACTIVITY * self.link_s)
        return min(1.0, weighted / self.time_s)


def ops_busy(ops: OpTable, acc: Accelerator, precision: str, attention_precision: str | None = None) -> Busy:
    """Busy times of running `ops` once, each op for max(compute, memory) on the roofline (`ops.op_times_s`), s."""
    compute_s, memory_s = op_times_s(ops, acc, precision, attention_precision)
    return Busy(time_s=float(np.maximum(compute_s, memory_s).sum()), tensor_s=float(compute_s[ops.matmul].sum()),
                vector_s=float(compute_s[~ops.matmul].sum()), hbm_s=float(memory_s.sum()))


def link_busy(time_s: float) -> Busy:
    """A phase of `time_s` spent in collectives, s."""
    return Busy(time_s=time_s, link_s=time_s)


def training_compute_busy(m: ModelConfig, layout: Layout, acc: Accelerator) -> Busy:
    """One micro-batch's forward, backward (2× forward) and recompute on one GPU's layers, s (no communication).

    Dense and MoE layers weighted by their share of the layers, as `training.train_step` times them; the recompute
    is the mode's plus `memory.recomputed_ops` (norms, MLA projections, activations), as train_step adds it.
    """
    prec, attn, per_stage = layout.matmul_precision, layout.attention_precision, m.num_hidden_layers / layout.pp
    busy = Busy(0.0)
    again = recomputed_ops(m, layout)
    for fraction, ops in layer_mix(m, step_shard(layout, acc), m.experts // layout.ep if m.moe else 0):
        recompute = {"none": None, "selective": ops.select(ATTENTION_CORE), "full": ops}[layout.recompute]
        layer = ops_busy(ops, acc, prec, attn) + ops_busy(ops.backward(), acc, prec, attn)
        if recompute is not None:
            layer = layer + ops_busy(recompute, acc, prec, attn)
        if again:
            layer = layer + ops_busy(ops.select(again), acc, prec)  # as train_step: norms, MLA, activations
        busy = busy + fraction * per_stage * layer
    return busy


def optimizer_busy(m: ModelConfig, layout: Layout, acc: Accelerator) -> Busy:
    """The Adam step over the parameters one GPU updates (sharded over data parallelism with ZeRO ≥ 1), s."""
    return ops_busy(optimizer_ops(optimizer_params(layout, *stage_params(m, layout))), acc, layout.precision)


def iteration_busy(m: ModelConfig, replica: Replica, system: System, step: Iteration) -> Busy:
    """One serving iteration (`inference.iteration_time_s`): its layers' ops; the rest (all-reduces, logits) as link."""
    acc = system.accelerator
    busy = Busy(0.0)
    for times, ops, precision in layer_parts(m, replica, step):
        busy = busy + times * ops_busy(ops, acc, precision)
    total_s = iteration_time_s(m, replica, system, step)
    return busy + link_busy(max(0.0, total_s - busy.time_s))
