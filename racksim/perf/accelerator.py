"""An accelerator as the roofline sees it: peaks per precision, HBM, and efficiency curves.

`Accelerator` is a plain frozen dataclass compiled from a design's `compute_tray.gpus.accelerator`
(`racksim.perf.hardware.accelerator_from_design`): the design files are the one source of every GPU's numbers, each
with its public source in a comment. Tensor-core peaks are **dense** (NVIDIA datasheets print the 2:4-sparse figure
first, twice the dense one).

Efficiency curves give the achieved fraction of a peak against the size of the work, interpolated linearly in
log10(size) and held flat beyond the end points. Both curves here follow one model, stated and not fitted per
point: an operation of size x costs a fixed time t0 (kernel launch, tile ramp-up and tail) plus x at a plateau
fraction η of the peak, T = t0 + x / (η·peak), so the achieved fraction is η·x / (x + η·peak·t0). `fixed_cost_curve`
samples it per decade; the designs' points are these samples (tests/test_perf_designs.py checks that they still are).
η for matmuls on A100 is calibrated on one published case (racksim/perf/VALIDATION.md); every other GPU's η is its
own measured best-shape matmul ceiling per precision times the framework factor that calibration implies
(`GEMM_FRAMEWORK_FACTOR`, `ceiling_curve`); the other parameters are assumptions stated where they are set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from racksim._types import FloatArray

TERA = 1e12
BLOCK_SCALED_FP8 = "fp8_block"
"""FP8 GEMMs with fine-grained block scales promoted in software (DeepSeek-V3 §3.3.2: 1×128 activation tiles, 128×128
weight blocks, partial sums moved to FP32 CUDA-core registers every 128 K elements): the fp8 peak, their own curve
(`Accelerator.gemm_curve`)."""


@dataclass(frozen=True)
class EfficiencyCurve:
    """Achieved fraction of a peak versus work size, sourced points interpolated in log10(size)."""

    size: tuple[float, ...]
    """Work sizes, increasing (FLOPs of one GEMM, or bytes moved by one kernel)."""
    fraction: tuple[float, ...]
    """Achieved fraction of the peak at each size, in (0, 1]."""
    source: str
    """Where the points come from."""

    def __post_init__(self) -> None:
        """Sizes increase and are positive; fractions lie in (0, 1]."""
        size, frac = np.asarray(self.size), np.asarray(self.fraction)
        if size.size != frac.size or size.size < 1 or np.any(size <= 0) or np.any(np.diff(size) <= 0):
            raise ValueError("efficiency curve: sizes must be positive, increasing and match the fractions")
        if np.any(frac <= 0) or np.any(frac > 1):
            raise ValueError("efficiency curve: fractions must lie in (0, 1]")

    def __call__(self, size: npt.ArrayLike) -> FloatArray:
        """Achieved fraction at `size` (array), interpolated in log10(size), flat beyond the ends."""
        x = np.log10(np.maximum(np.asarray(size, dtype=np.float64), 1.0))
        return np.interp(x, np.log10(np.asarray(self.size)), np.asarray(self.fraction))


def fixed_cost_curve(plateau: float, peak_per_s: float, fixed_time_s: float, source: str,
                     decades: tuple[int, int] = (3, 14)) -> EfficiencyCurve:
    """Curve of T = t0 + x/(η·peak): fraction(x) = η·x / (x + η·peak·t0), sampled at 10^k for k in `decades`.

    `plateau` η (dimensionless), `peak_per_s` (FLOP/s or byte/s), `fixed_time_s` t0 (s).
    """
    size = 10.0 ** np.arange(decades[0], decades[1] + 1)
    fraction = plateau * size / (size + plateau * peak_per_s * fixed_time_s)
    return EfficiencyCurve(tuple(size.tolist()), tuple(np.maximum(fraction, 1e-6).tolist()), source)


@dataclass(frozen=True)
class Accelerator:
    """One GPU: dense peaks per precision, vector throughput, HBM, and the roofline's efficiency curves."""

    name: str
    peak_flops: dict[str, float]
    """Dense tensor-core peak per precision ('bf16', 'fp8', 'fp4'), FLOP/s."""
    vector_flops: float
    """Non-tensor (CUDA core) FP32 throughput for elementwise work, FLOP/s."""
    hbm_gb: float
    """HBM capacity, GB (1e9 bytes)."""
    hbm_bandwidth_tbyte_s: float
    """HBM bandwidth, TB/s (1e12 bytes/s)."""
    gemm_efficiency: EfficiencyCurve
    """Achieved fraction of the matmul peak versus GEMM FLOPs, at every precision without its own curve."""
    memory_efficiency: EfficiencyCurve
    """Achieved fraction of the HBM bandwidth versus bytes moved by one kernel."""
    sources: dict[str, str] = field(default_factory=dict)
    """Source of each number, by field name."""
    gemm_efficiency_by_precision: dict[str, EfficiencyCurve] = field(default_factory=dict)
    """Curves measured at one precision ('bf16', 'fp8', 'fp4'), replacing `gemm_efficiency` there."""
    attention_efficiency: dict[str, tuple[EfficiencyCurve, EfficiencyCurve]] = field(default_factory=dict)
    """Fused attention kernels by precision: (forward, backward) fraction of that precision's matmul peak against
    the sequence length (keys per query row); a precision without one times attention on its GEMM curve."""

    fp8_tn_only: bool = False
    """FP8 GEMMs take only the TN layout (Hopper): FP8 training writes a transposed copy of each quantized tensor."""

    def gemm_curve(self, precision: str) -> EfficiencyCurve:
        """The GEMM efficiency curve at `precision`: its own if measured, else `gemm_efficiency`.

        `BLOCK_SCALED_FP8` without a curve of its own takes the fp8 one (scales applied by the tensor cores).
        """
        if precision == BLOCK_SCALED_FP8 and precision not in self.gemm_efficiency_by_precision:
            return self.gemm_curve("fp8")
        return self.gemm_efficiency_by_precision.get(precision, self.gemm_efficiency)

    def attention_curve(self, precision: str, backward: bool) -> EfficiencyCurve | None:
        """The fused attention kernel's curve at `precision` (backward or forward pass), or None if not measured."""
        curves = self.attention_efficiency.get(precision)
        return None if curves is None else curves[1 if backward else 0]

    def peak(self, precision: str) -> float:
        """Dense matmul peak at `precision`, FLOP/s; a precision the chip lacks is a ValueError.

        `BLOCK_SCALED_FP8` GEMMs run at the fp8 peak.
        """
        precision = "fp8" if precision == BLOCK_SCALED_FP8 else precision
        if precision not in self.peak_flops:
            raise ValueError(f"{self.name} has no {precision} tensor cores (has {', '.join(self.peak_flops)})")
        return self.peak_flops[precision]

    @property
    def hbm_bytes_per_s(self) -> float:
        """HBM bandwidth, bytes/s."""
        return self.hbm_bandwidth_tbyte_s * TERA

    def hbm_time_s(self, size_bytes: npt.ArrayLike) -> FloatArray:
        """HBM time of kernels each moving `size_bytes`, s: x / (BW · η_mem(x)), the memory roofline."""
        return np.asarray(size_bytes, dtype=np.float64) / (self.hbm_bytes_per_s * self.memory_efficiency(size_bytes))


# Fixed cost of one kernel: ~5 µs (CUDA launch ~2-4 µs plus tile ramp-up and tail). An assumption, not a
# measurement: it shapes the small-size end of both curves, which training steps of large models barely reach.
KERNEL_FIXED_TIME_S = 5e-6
# Matmul plateau on A100: calibrated on Korthikanti et al. 2022, 175B with sequence parallelism and selective
# recompute (VALIDATION.md, the one calibration case: bisection gives 0.704, rounded to 0.70).
GEMM_PLATEAU = 0.70
# A100 SXM's measured matmul ceiling: BF16 "Maximum Achievable Matmul FLOPS" 271.2 of 312 TFLOP/s, the best shape
# of a torch.matmul sweep (stas00/ml-engineering, compute/accelerator/README.md at 744d01e, MAMF table).
A100_GEMM_CEILING = 271.2 / 312
# Framework factor k = GEMM_PLATEAU / A100_GEMM_CEILING = 0.70 / 0.869 = 0.806: the share of a GPU's best-shape
# matmul ceiling that a training step's GEMMs reach (shapes off the best one, kernels chosen by the framework,
# tile and wave quantization). Derived from the A100 calibration above, not calibrated again; carried to every GPU
# whose design states a measured ceiling (`gemm_ceiling`): plateau eta = ceiling × k, so A100 gets 0.70 back by
# construction and H100, B200, GB200, GB300 and Rubin sit on one basis (VALIDATION.md, "GEMM efficiency per GPU").
GEMM_FRAMEWORK_FACTOR = GEMM_PLATEAU / A100_GEMM_CEILING


def ceiling_curve(ceiling: float, peak_per_s: float, source: str) -> EfficiencyCurve:
    """A design's measured matmul ceiling as its GEMM curve: `fixed_cost_curve(ceiling × k, peak, t0)`.

    `ceiling` is the best-shape achieved fraction of the dense peak (dimensionless), `peak_per_s` FLOP/s; the
    plateau is η = ceiling · GEMM_FRAMEWORK_FACTOR and the fixed cost KERNEL_FIXED_TIME_S.
    """
    return fixed_cost_curve(ceiling * GEMM_FRAMEWORK_FACTOR, peak_per_s, KERNEL_FIXED_TIME_S,
                            f"{source}; D: eta = ceiling x k (k = 0.70/0.869), T = t0 + x/(eta*peak), t0 5 us (A)")
# HBM plateau: streaming kernels reach ~90 % of the nominal bandwidth on A100/H100 (BabelStream-class results);
# an assumption stated here, not calibrated.
HBM_PLATEAU = 0.90
