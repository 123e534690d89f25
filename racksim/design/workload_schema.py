"""What a scenario asks the racks to do, validated like a design file.

Training (per GPU, or from a model and its parallel layout), inference under a daily request cycle, or a
replayed utilization trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from racksim.design.base import Fraction, Model, NonNegativeFloat, PositiveFloat, PositiveInt


class PhaseActivity(Model):
    """Utilizations during one workload phase."""

    gpu_utilization: Fraction
    cpu_utilization: Fraction
    network_utilization: Fraction


class ParallelLayout(Model):
    """How the model is split over the job's GPUs (Megatron-style 3D/4D parallelism).

    Tensor × pipeline ranks form one model replica inside a scale-up domain; data parallelism fills the rest
    (dp = GPUs / (tp · pp)). Expert parallelism groups `expert` consecutive GPUs for the MoE all-to-all.
    """

    tensor: PositiveInt = 1
    """Tensor-parallel degree (all-reduce of activations over scale-up, each layer)."""
    pipeline: PositiveInt = 1
    """Pipeline stages (point-to-point activations between stages, a bubble of (pp−1)/microbatches)."""
    expert: PositiveInt = 1
    """Expert-parallel degree (all-to-all dispatch and combine in each MoE layer)."""
    microbatches: PositiveInt = 8
    """Microbatches per step and pipeline (1F1B schedule)."""


class ModelSpec(Model):
    """A transformer described by its size, its batch and its parallel layout.

    Compute per step: 6 · N_active · tokens FLOPs (forward and backward, Kaplan et al. 2020), shared by the GPUs.
    """

    parameters: PositiveFloat
    """Total parameters N (all experts), e.g. 405e9."""
    active_parameters: PositiveFloat | None = None
    """Parameters active per token (MoE: shared + top-k experts); default: all."""
    layers: PositiveInt
    hidden_size: PositiveInt
    tokens_per_step: PositiveFloat
    """Global batch, tokens per optimizer step."""
    moe_layers: Annotated[int, Field(ge=0)] = 0
    """Layers with a mixture of experts (0: a dense model)."""
    experts_per_token: PositiveInt = 1
    """Top-k experts each token is routed to (MoE)."""
    bytes_per_value: PositiveFloat = 2.0
    """Activation and gradient precision, bytes (bf16)."""
    layout: ParallelLayout = ParallelLayout()
    data_parallel_overlap: Fraction = 0.8
    """Share of the data-parallel gradient all-reduce hidden behind the backward pass (bucketed overlap)."""

    @property
    def active(self) -> float:
        """Active parameters per token."""
        return self.active_parameters or self.parameters

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.active_parameters is not None and self.active_parameters > self.parameters:
            raise ValueError("active_parameters cannot exceed parameters")
        if self.moe_layers > self.layers:
            raise ValueError("moe_layers cannot exceed layers")
        if self.layout.expert > 1 and self.moe_layers == 0:
            raise ValueError("layout.expert > 1 needs moe_layers > 0")
        return self


class TrainingWorkload(Model):
    """Synchronous training: compute, then communication, each step; a checkpoint every N steps.

    Either per GPU (`compute_pflop_per_gpu_step` and `exposed_communication_gbyte_per_gpu_step`) or from a
    `model` and its parallel layout; either way each design's step time follows from its own GPUs and links.
    """

    kind: Literal["training"] = "training"
    compute_pflop_per_gpu_step: PositiveFloat | None = None
    """Model FLOPs each GPU computes per step, PFLOP."""
    exposed_communication_gbyte_per_gpu_step: NonNegativeFloat | None = None
    """Scale-up traffic per GPU and step that does not overlap compute, GB, timed at the reference all-reduce."""
    model: ModelSpec | None = None
    """A transformer and its parallel layout, in place of the per-GPU figures."""
    model_flops_utilization: Annotated[float, Field(gt=0, le=1)]
    """Achieved share of the GPU's dense throughput in the compute phase (MFU)."""
    checkpoint_every_steps: PositiveInt
    checkpoint_time_s: NonNegativeFloat
    """Time the job pauses to write a checkpoint, s."""
    compute: PhaseActivity = PhaseActivity(gpu_utilization=1.0, cpu_utilization=0.3, network_utilization=0.1)
    communication: PhaseActivity = PhaseActivity(gpu_utilization=0.3, cpu_utilization=0.3, network_utilization=1.0)
    checkpoint: PhaseActivity = PhaseActivity(gpu_utilization=0.05, cpu_utilization=0.6, network_utilization=0.2)
    bubble: PhaseActivity = PhaseActivity(gpu_utilization=0.1, cpu_utilization=0.3, network_utilization=0.3)
    """Pipeline bubble: GPUs waiting for their stage's neighbours."""

    @model_validator(mode="after")
    def _one_form(self) -> TrainingWorkload:
        per_gpu = (self.compute_pflop_per_gpu_step, self.exposed_communication_gbyte_per_gpu_step)
        if self.model is None and None in per_gpu:
            raise ValueError("give compute_pflop_per_gpu_step and exposed_communication_gbyte_per_gpu_step, "
                             "or a model")
        if self.model is not None and per_gpu != (None, None):
            raise ValueError("give either a model or the per-GPU figures, not both")
        return self


class InferenceWorkload(Model):
    """Serving a model: Poisson request arrivals whose rate follows a daily cycle, batched in windows.

    λ(t) = λ̄ · (1 + a · cos(2π (t − t_peak) / 1 day)); each window's arrivals join a queue, the GPUs serve up to
    their capacity (2 · N_active FLOPs per token at `model_flops_utilization`), and their utilization (so their
    power) follows the share of capacity used.
    """

    kind: Literal["inference"]
    active_parameters: PositiveFloat
    """Parameters active per generated or prefilled token."""
    model_flops_utilization: Annotated[float, Field(gt=0, le=1)]
    """Achieved share of dense throughput at full batch."""
    precision: Literal["fp8", "fp4"] = "fp8"
    """Tensor precision served at: FP4 runs at the GPU's fp4_dense_tflops where the design gives it."""
    requests_per_s_mean: PositiveFloat
    """Mean request rate λ̄ over the day, 1/s."""
    daily_amplitude: Annotated[float, Field(ge=0, lt=1)] = 0.5
    """Relative swing a of the rate over the day."""
    peak_hour: Annotated[float, Field(ge=0, lt=24)] = 14.0
    """Hour of the day the rate peaks, h (the run starts at midnight)."""
    tokens_per_request: PositiveFloat
    """Prompt and generated tokens per request."""
    window_s: PositiveFloat = 60.0
    """Batching window: arrivals are gathered and served window by window, s."""
    busy: PhaseActivity = PhaseActivity(gpu_utilization=1.0, cpu_utilization=0.3, network_utilization=0.3)
    """Utilizations while serving at full capacity; they scale with the share of capacity used."""
    idle_gpu_utilization: Fraction = 0.05
    """GPU utilization with an empty queue (the model resident, KV cache kept)."""


class TraceWorkload(Model):
    """Replay a CSV of utilization (or GPU power) over time: each row holds until the next.

    Lines starting with # are comments. Columns: `time_s`, then either `gpu_utilization` (every GPU),
    `gpu0 … gpuK` (per GPU of a rack, or of the job), or `gpu_power_w` (per-GPU power, inverted through the
    GPU's power curve); optional `cpu_utilization` and `network_utilization`. Work is counted in busy GPU-hours.
    """

    kind: Literal["trace"]
    path: Path
    """CSV file; a relative path is relative to the suite file."""
    loop: bool = True
    """Start over at the end of the trace."""


def _kind(value: Any) -> str | None:  # noqa: ANN401 - raw YAML or a model
    """The workload's kind; training when the YAML leaves it out."""
    return value.get("kind", "training") if isinstance(value, dict) else getattr(value, "kind", None)


Workload = Annotated[
    Annotated[TrainingWorkload, Tag("training")] | Annotated[InferenceWorkload, Tag("inference")]
    | Annotated[TraceWorkload, Tag("trace")],
    Discriminator(_kind),
]
