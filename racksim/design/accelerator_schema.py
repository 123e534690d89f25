"""Design-file schema, accelerator section: what the performance model's roofline needs to know about one GPU.

`compute_tray.gpus.accelerator` gives dense tensor peaks per precision, the non-tensor (vector) throughput, HBM
capacity and bandwidth, and two efficiency curves: the achieved fraction of the matmul peak against the FLOPs of one
GEMM (derived from measured best-shape ceilings per precision, or as sourced points, optionally one curve per
precision), and the achieved fraction of the HBM bandwidth against the bytes one kernel moves; optionally, per
precision, the fused attention kernel's (FlashAttention-style) achieved fraction of the matmul peak against the
sequence length, forward and backward (absent: attention is timed on the GEMM curve).
`racksim.perf.hardware.accelerator_from_design` compiles it into the performance model's `Accelerator`.

Like every design section: frozen pydantic models, units in every quantity's name, a docstring on every field.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, model_validator

from racksim.design.base import Model, PositiveFloat, rule_error

MAX_CURVE_POINTS = 64
"""Points of one efficiency curve: 64 at most (a point per decade needs a dozen)."""
EfficiencyFraction = Annotated[float, Field(gt=0, le=1)]
"""Achieved share of a peak, in (0, 1]."""


class _Points(Model):
    """Achieved fraction of a peak at sizes of work: interpolated linearly in log10(size), flat beyond the ends."""

    fraction: list[EfficiencyFraction] = Field(min_length=1, max_length=MAX_CURVE_POINTS)
    """Achieved fraction of the peak at each point, in (0, 1]."""
    source: str = Field(min_length=1)
    """Where the points come from (measurement, model and its calibration), tagged P/S/D/A."""

    def sizes(self) -> tuple[str, list[float]]:
        """(field name, values) of the sizes; each curve names its own unit."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _points(self) -> _Points:
        size_field, sizes = self.sizes()
        if len(sizes) != len(self.fraction):
            raise rule_error("fraction", f"{len(self.fraction)} fractions for {len(sizes)} points of {size_field}")
        for index, (low, high) in enumerate(pairwise(sizes)):
            if high <= low:
                raise rule_error(f"{size_field}.{index + 1}", f"sizes must increase ({high:g} after {low:g})")
        return self


class GemmEfficiency(_Points):
    """Achieved fraction of the dense matmul peak against the size of one GEMM."""

    size_flop: list[PositiveFloat] = Field(min_length=1, max_length=MAX_CURVE_POINTS)
    """FLOPs of one GEMM (2·m·n·k) at each point, strictly increasing."""
    kernel_benchmark: bool = False
    """True: the points are a standalone GEMM benchmark (cuBLAS on its own, as a `gemm_ceiling` is), so racksim
    scales them by the framework factor k (GEMM_FRAMEWORK_FACTOR) as it does ceilings; false: they are already a
    GEMM's efficiency inside a real step (a calibration) and are used as given."""

    def sizes(self) -> tuple[str, list[float]]:
        """The GEMM sizes, FLOPs."""
        return "size_flop", self.size_flop


class MemoryEfficiency(_Points):
    """Achieved fraction of the HBM bandwidth against the bytes one kernel reads and writes."""

    size_bytes: list[PositiveFloat] = Field(min_length=1, max_length=MAX_CURVE_POINTS)
    """Bytes one kernel moves at each point, strictly increasing."""

    def sizes(self) -> tuple[str, list[float]]:
        """The transfer sizes, bytes."""
        return "size_bytes", self.size_bytes


class AttentionPoints(_Points):
    """Achieved fraction of the matmul peak by a fused attention kernel against the keys each query attends to."""

    seq_len: list[PositiveFloat] = Field(min_length=1, max_length=MAX_CURVE_POINTS)
    """Sequence length (keys per query row) at each point, strictly increasing."""

    def sizes(self) -> tuple[str, list[float]]:
        """The sequence lengths, tokens."""
        return "seq_len", self.seq_len


class AttentionEfficiency(Model):
    """A fused attention kernel's efficiency at one precision: forward and backward curves against sequence length.

    The points are the kernel's standalone benchmark (as published); racksim scales them by the framework factor k
    (racksim.perf.accelerator.GEMM_FRAMEWORK_FACTOR), as it does the GEMM ceilings.
    """

    forward: AttentionPoints
    """Forward pass (scores and context), achieved fraction of the matmul peak at this precision."""
    backward: AttentionPoints
    """Backward pass (gradients of Q, K and V), achieved fraction of the matmul peak at this precision."""


class GemmCeiling(Model):
    """Measured best-shape matmul ceilings per precision: racksim derives the GEMM curves from them.

    A precision's curve is `racksim.perf.accelerator.ceiling_curve`: T = t0 + x/(η·peak) with η = ceiling × k, k the
    framework factor of the A100 calibration (GEMM_FRAMEWORK_FACTOR, racksim/perf/VALIDATION.md).
    """

    bf16: EfficiencyFraction
    """Best-shape BF16 matmul throughput measured on the GPU as a fraction of its dense BF16 peak."""
    fp8: EfficiencyFraction | None = None
    """Best-shape FP8 (per-tensor scaled) matmul throughput as a fraction of the dense FP8 peak; null: not stated
    (FP8 then needs a curve in `gemm_efficiency_by_precision`, or the GPU has no FP8 peak)."""
    source: str = Field(min_length=1)
    """Where the ceilings were measured (table, software versions), tagged P/S/D/A."""

    def fractions(self) -> dict[str, float]:
        """The stated ceilings by precision name ('bf16', 'fp8')."""
        return {name: value for name, value in (("bf16", self.bf16), ("fp8", self.fp8)) if value is not None}


class DensePeaks(Model):
    """Dense tensor-core peaks per precision (no 2:4 sparsity: datasheets often print the sparse figure, 2×)."""

    bf16: PositiveFloat
    """BF16 dense matmul peak, TFLOP/s."""
    fp8: PositiveFloat | None = None
    """FP8 dense matmul peak, TFLOP/s; absent: the GPU has no FP8 tensor cores (A100)."""
    fp4: PositiveFloat | None = None
    """FP4 (NVFP4) dense matmul peak, TFLOP/s; absent: no FP4 tensor cores (before Blackwell)."""

    @model_validator(mode="after")
    def _fp4_needs_fp8(self) -> DensePeaks:
        if self.fp4 is not None and self.fp8 is None:
            raise rule_error("fp4", "a GPU with FP4 tensor cores also gives its fp8 peak")
        return self

    def tflops(self) -> dict[str, float]:
        """The peaks the GPU has, by precision name ('bf16', 'fp8', 'fp4'), TFLOP/s."""
        return {name: value for name, value in (("bf16", self.bf16), ("fp8", self.fp8), ("fp4", self.fp4))
                if value is not None}


class AcceleratorSpec(Model):
    """One GPU as the performance model's roofline sees it: peaks, HBM and the efficiency curves."""

    name: str = Field(min_length=1, max_length=64)
    """GPU name shown in predictions and errors (e.g. GB200, H100-SXM5-80GB)."""
    peak_tflops: DensePeaks
    """Dense tensor-core peak per precision, TFLOP/s."""
    vector_tflops: PositiveFloat
    """Non-tensor (CUDA core) FP32 throughput for elementwise work (norms, activations, optimizer), TFLOP/s."""
    hbm_gb: PositiveFloat
    """HBM capacity per GPU, GB (1e9 bytes)."""
    hbm_bandwidth_tbyte_s: PositiveFloat
    """HBM bandwidth per GPU, TB/s (1e12 bytes/s)."""
    gemm_ceiling: GemmCeiling | None = None
    """Measured matmul ceilings per precision (BF16, FP8): the GEMM curve of each stated precision is derived from
    them (ceiling × the A100 calibration's framework factor), unless `gemm_efficiency_by_precision` gives that
    precision its own points. Null: no ceilings (every precision on the points below)."""
    gemm_efficiency: GemmEfficiency | None = None
    """Achieved fraction of the matmul peak versus GEMM FLOPs as points, at every precision with neither a ceiling
    nor its own curve below; null: none (then every precision the GPU has needs a ceiling or its own curve)."""
    gemm_efficiency_by_precision: dict[Literal["bf16", "fp8", "fp4", "fp8_block"], GemmEfficiency | None] | None = None
    """Curves measured at one precision, replacing `gemm_efficiency` there (FP8 GEMMs reach a different fraction of
    their peak than BF16 ones); each precision must be one the GPU has a peak for ('fp8_block': FP8 GEMMs with
    fine-grained block scales applied in software, DeepSeek-V3's recipe, a fraction of the fp8 peak; without it they
    take the fp8 curve). Null: none (a design that extends one with such curves and has other GPUs sets it null); a
    null entry drops that precision's inherited curve only."""
    memory_efficiency: MemoryEfficiency
    """Achieved fraction of the HBM bandwidth versus bytes moved by one kernel."""
    attention_efficiency: dict[Literal["bf16", "fp8", "fp4"], AttentionEfficiency] | None = None
    """Fused attention kernels (FlashAttention-style) measured at one precision: forward and backward fractions of
    that precision's peak against sequence length; they time causal self-attention and prefill attention instead of
    the GEMM curve. Null: none (attention on the GEMM curve)."""
    fp8_gemm_tn_only: bool = False
    """True where the GPU's FP8 tensor-core GEMMs take only the TN layout (Hopper): training in FP8 then writes a
    transposed FP8 copy of every quantized activation and gradient (Transformer Engine's "columnwise" data) for the
    backward GEMMs. False: FP8 GEMMs take any layout (Blackwell), one FP8 copy serves both passes."""

    @model_validator(mode="after")
    def _curves_for_known_precisions(self) -> AcceleratorSpec:
        peaks = self.peak_tflops.tflops()
        for field in ("gemm_efficiency_by_precision", "attention_efficiency"):
            for name, curve in (getattr(self, field) or {}).items():
                if curve is not None and name.removesuffix("_block") not in peaks:
                    raise rule_error(f"{field}.{name}",
                                     f"a curve for a precision the GPU has no peak for (has {', '.join(peaks)})")
        ceilings = self.gemm_ceiling.fractions() if self.gemm_ceiling is not None else {}
        for name in ceilings:
            if name not in peaks:
                raise rule_error(f"gemm_ceiling.{name}",
                                 f"a ceiling for a precision the GPU has no peak for (has {', '.join(peaks)})")
        if self.gemm_efficiency is None:
            own = {name for name, curve in (self.gemm_efficiency_by_precision or {}).items() if curve is not None}
            if missing := [name for name in peaks if name not in ceilings and name not in own]:
                raise rule_error("gemm_efficiency", f"required: no ceiling or curve for {', '.join(missing)}")
        return self
