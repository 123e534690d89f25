"""What a scenario asks the racks to do, validated like a design file.

Training of a model (Hugging Face config) and inference serving a model under a daily request cycle, both predicted
per design by racksim.perf, or a replayed utilization trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from racksim.design.base import Fraction, Model, NonNegativeFloat, PositiveFloat, PositiveInt


class PhaseActivity(Model):
    """Utilizations during one workload phase."""

    gpu_utilization: Fraction
    """Share of the GPUs' dynamic power range they run at (0: idle, 1: TDP)."""
    cpu_utilization: Fraction
    """Share of the CPUs' dynamic power range they run at."""
    network_utilization: Fraction
    """Share of the NICs' and switches' dynamic power range they run at."""


Precision = Literal["bf16", "fp8", "fp4"]


class LayoutPins(Model):
    """Parallel layout options the scenario fixes; any left out are searched (`racksim perf train`'s flags).

    Megatron-style: tp × cp × pp GPUs hold one model replica, data parallelism fills the rest (dp = GPUs /
    (tp · cp · pp)), expert parallelism is carved out of the data-parallel ranks.
    """

    tp: PositiveInt | None = None
    """Tensor-parallel degree (divides the attention heads and the scale-up domain)."""
    pp: PositiveInt | None = None
    """Pipeline stages (divides the layers)."""
    vpp: PositiveInt | None = None
    """Virtual pipeline stages per GPU (interleaved 1F1B)."""
    dp: PositiveInt | None = None
    """Data-parallel degree."""
    cp: PositiveInt | None = None
    """Context-parallel degree."""
    ep: PositiveInt | None = None
    """Expert-parallel degree (MoE)."""
    micro_batch: PositiveInt | None = None
    """Sequences per micro-batch."""
    recompute: Literal["none", "selective", "full"] | None = None
    """Activation recomputation."""
    sequence_parallel: bool | None = None
    """Megatron sequence parallelism."""
    zero: Annotated[int, Field(ge=0, le=3)] | None = None
    """ZeRO stage over the data-parallel group (3 = FSDP)."""
    pp_schedule: Literal["1f1b", "dualpipe"] = "1f1b"
    """Pipeline schedule: 1f1b (interleaved with vpp) or dualpipe (DeepSeek-V3's bidirectional one; not searched)."""


class Calibration(Model):
    """A measured efficiency the user pins to calibrate against their own run; the report marks it as pinned.

    The predicted step keeps its shape (the breakdown's proportions) and is stretched to the pinned time:
    step_time_s directly, or from an MFU as predicted_step × predicted_MFU / mfu.
    """

    step_time_s: PositiveFloat | None = None
    """Measured step time on this design, s."""
    mfu: Annotated[float, Field(gt=0, le=1)] | None = None
    """Measured model FLOPs utilization on this design (model FLOPs / (GPUs · dense peak · step time))."""

    @model_validator(mode="after")
    def _one(self) -> Calibration:
        if (self.step_time_s is None) == (self.mfu is None):
            raise ValueError("pin exactly one of step_time_s and mfu")
        return self


class TrainingWorkload(Model):
    """Synchronous training of a model: each step's phases predicted by racksim.perf; a checkpoint every N steps.

    The model is a Hugging Face config (a bundled name, `racksim perf train --help` lists them, or a path to a
    config.json/YAML, relative to the suite file); the job spans every GPU of the racks it runs on. The step time,
    its breakdown, MFU and memory per GPU are predictions for each design; a layout that does not fit in HBM is a
    one-line error before anything runs.
    """

    kind: Literal["training"] = "training"
    """Workload kind (training is the default)."""
    model: str
    """Bundled model name (e.g. llama3-70b) or path to a Hugging Face config.json / YAML."""
    global_batch_sequences: PositiveInt | None = None
    """Sequences per optimizer step (or give global_batch_tokens)."""
    global_batch_tokens: PositiveInt | None = None
    """Tokens per optimizer step, a whole number of sequences."""
    seq_len: PositiveInt
    """Tokens per sequence."""
    precision: Precision = "bf16"
    """Matmul precision (the GPU must have it)."""
    layout: LayoutPins = LayoutPins()
    """Options fixed; the rest are searched for the fastest layout that fits each design."""
    calibration: Calibration | None = None
    """A measured step time or MFU pinned in place of the prediction (reported as performance.pinned)."""
    checkpoint_every_steps: PositiveInt
    """Training steps between checkpoints."""
    checkpoint_time_s: NonNegativeFloat
    """Time the job pauses to write a checkpoint, s."""
    checkpoint: PhaseActivity = PhaseActivity(gpu_utilization=0.05, cpu_utilization=0.6, network_utilization=0.2)
    """Utilizations while the checkpoint is written (A: GPUs wait, CPUs and the storage network work)."""

    @model_validator(mode="after")
    def _batch(self) -> TrainingWorkload:
        if (self.global_batch_sequences is None) == (self.global_batch_tokens is None):
            raise ValueError("give exactly one of global_batch_sequences and global_batch_tokens")
        if self.global_batch_tokens is not None and self.global_batch_tokens % self.seq_len:
            raise ValueError(f"global_batch_tokens {self.global_batch_tokens} is not a whole number of "
                             f"sequences of {self.seq_len}")
        return self

    @property
    def sequences(self) -> int:
        """Global batch in sequences."""
        return self.global_batch_sequences or (self.global_batch_tokens or 0) // self.seq_len


class InferenceWorkload(Model):
    """Serving a model: Poisson request arrivals whose rate follows a daily cycle, batched in windows.

    λ(t) = λ̄ · (1 + a · cos(2π (t − t_peak) / 1 day)). Each design serves with racksim.perf's serving model: the
    replica (tensor-parallel degree) and concurrency of highest tokens/s per GPU under the TPOT SLO, as many
    replicas as the racks hold; each window's arrivals join a queue, the replicas serve up to their capacity,
    and TTFT, TPOT and GPU power follow the load.
    """

    kind: Literal["inference"]
    """Workload kind."""
    model: str
    """Bundled model name or path to a Hugging Face config.json / YAML."""
    precision: Precision = "fp8"
    """Weights and matmuls (the GPU must have it); the KV cache is FP8 where the GPU has it, else BF16."""
    input_tokens: PositiveInt
    """Prompt tokens per request."""
    output_tokens: PositiveInt
    """Generated tokens per request (the work counted)."""
    max_tpot_s: PositiveFloat = 0.05
    """SLO: time per output token at the operating point, s."""
    tp: PositiveInt | None = None
    """Tensor-parallel degree of a replica; searched when left out."""
    requests_per_s_mean: PositiveFloat
    """Mean request rate λ̄ over the day, 1/s."""
    daily_amplitude: Annotated[float, Field(ge=0, lt=1)] = 0.5
    """Relative swing a of the rate over the day."""
    peak_hour: Annotated[float, Field(ge=0, lt=24)] = 14.0
    """Hour of the day the rate peaks, h (the run starts at midnight)."""
    window_s: PositiveFloat = 60.0
    """Batching window: arrivals are gathered and served window by window, s."""


class TraceWorkload(Model):
    """Replay a CSV of utilization (or GPU power) over time: each row holds until the next.

    Lines starting with # are comments. Columns: `time_s`, then either `gpu_utilization` (every GPU),
    `gpu0 … gpuK` (per GPU of a rack, or of the job), or `gpu_power_w` (per-GPU power, inverted through the
    GPU's power curve); optional `cpu_utilization` and `network_utilization`. Work is counted in busy GPU-hours.
    """

    kind: Literal["trace"]
    """Workload kind."""
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
