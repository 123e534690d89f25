"""An accelerator as the roofline sees it: peaks per precision, HBM, and efficiency curves.

`Accelerator` is a plain frozen dataclass; a later phase compiles it from the design schema. The reference
instances below carry every number's public source; tensor-core peaks are **dense** (NVIDIA datasheets print the
2:4-sparse figure first, twice the dense one).

Efficiency curves give the achieved fraction of a peak against the size of the work, interpolated linearly in
log10(size) and held flat beyond the end points. Both curves here follow one model, stated and not fitted per
point: an operation of size x costs a fixed time t0 (kernel launch, tile ramp-up and tail) plus x at a plateau
fraction η of the peak, T = t0 + x / (η·peak), so the achieved fraction is η·x / (x + η·peak·t0). `fixed_cost_curve`
samples it per decade. η for matmuls on A100 is calibrated on one published case (racksim/perf/VALIDATION.md);
the other parameters are assumptions stated where they are set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from racksim._types import FloatArray

TERA = 1e12


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
    """Achieved fraction of the matmul peak versus GEMM FLOPs."""
    memory_efficiency: EfficiencyCurve
    """Achieved fraction of the HBM bandwidth versus bytes moved by one kernel."""
    sources: dict[str, str] = field(default_factory=dict)
    """Source of each number, by field name."""

    def peak(self, precision: str) -> float:
        """Dense matmul peak at `precision`, FLOP/s; a precision the chip lacks is a ValueError."""
        if precision not in self.peak_flops:
            raise ValueError(f"{self.name} has no {precision} tensor cores (has {', '.join(self.peak_flops)})")
        return self.peak_flops[precision]

    @property
    def hbm_bytes_per_s(self) -> float:
        """HBM bandwidth, bytes/s."""
        return self.hbm_bandwidth_tbyte_s * TERA


# Fixed cost of one kernel: ~5 µs (CUDA launch ~2-4 µs plus tile ramp-up and tail). An assumption, not a
# measurement: it shapes the small-size end of both curves, which training steps of large models barely reach.
KERNEL_FIXED_TIME_S = 5e-6
# Matmul plateau on A100: calibrated on Korthikanti et al. 2022, 175B with sequence parallelism and selective
# recompute (VALIDATION.md, the one calibration case: bisection gives 0.704, rounded to 0.70); used for every
# other case and accelerator unchanged, which is itself an assumption for H100 and Blackwell.
GEMM_PLATEAU = 0.70
# HBM plateau: streaming kernels reach ~90 % of the nominal bandwidth on A100/H100 (BabelStream-class results);
# an assumption stated here, not calibrated.
HBM_PLATEAU = 0.90

_CURVE_NOTE = ("T = t0 + x/(eta*peak), t0 = 5 us (assumed kernel fixed cost); eta: matmul calibrated on "
               "Korthikanti 2022 175B (VALIDATION.md), HBM assumed 0.90")


def _accelerator(name: str, peaks_tflops: dict[str, float], vector_tflops: float, hbm_gb: float,
                 bandwidth_tbyte_s: float, sources: dict[str, str]) -> Accelerator:
    """An accelerator with the common curve model (see the module docstring) at its own peaks."""
    bf16 = peaks_tflops["bf16"] * TERA
    return Accelerator(
        name=name,
        peak_flops={k: v * TERA for k, v in peaks_tflops.items()},
        vector_flops=vector_tflops * TERA,
        hbm_gb=hbm_gb,
        hbm_bandwidth_tbyte_s=bandwidth_tbyte_s,
        gemm_efficiency=fixed_cost_curve(GEMM_PLATEAU, bf16, KERNEL_FIXED_TIME_S, _CURVE_NOTE),
        memory_efficiency=fixed_cost_curve(HBM_PLATEAU, bandwidth_tbyte_s * TERA, KERNEL_FIXED_TIME_S, _CURVE_NOTE),
        sources=sources,
    )


A100_SXM_80GB = _accelerator(
    "A100-SXM4-80GB", {"bf16": 312.0}, 19.5, 80.0, 2.039,
    {"peak_flops": "NVIDIA A100 datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf): BF16 Tensor Core "
                   "312 TFLOPS dense (624 with sparsity); no FP8",
     "vector_flops": "same datasheet: FP32 19.5 TFLOPS",
     "hbm": "same datasheet: A100 80GB SXM, HBM2e 80 GB, 2,039 GB/s"},
)
H100_SXM = _accelerator(
    "H100-SXM5-80GB", {"bf16": 989.5, "fp8": 1979.0}, 67.0, 80.0, 3.35,
    {"peak_flops": "NVIDIA H100 datasheet (Tensor Core GPU datasheet, SXM column): BF16 1,979 and FP8 3,958 TFLOPS "
                   "with sparsity, so 989.5 and 1,979 dense",
     "vector_flops": "same datasheet: FP32 67 TFLOPS",
     "hbm": "same datasheet: 80 GB HBM3, 3.35 TB/s"},
)
B200 = _accelerator(
    "B200-HGX", {"bf16": 2250.0, "fp8": 4500.0, "fp4": 9000.0}, 75.0, 180.0, 7.7,
    {"peak_flops": "NVIDIA HGX B200 specifications (per GPU of 8): FP4 18 PF, FP8 9 PF, BF16 4.5 PF with sparsity, "
                   "so 9 / 4.5 / 2.25 PF dense (also glennklockwood.com/garden/processors/B300, HGX table)",
     "vector_flops": "HGX B200 specifications: FP32 75 TFLOPS per GPU",
     "hbm": "DGX B200 datasheet: 1,440 GB HBM3e for 8 GPUs (180 GB each); HGX B200 7.7 TB/s per GPU (S: "
            "verda.com/blog/gb300-nvl72-architecture per-GPU table)"},
)
GB200 = _accelerator(
    "GB200-NVL72", {"bf16": 2500.0, "fp8": 5000.0, "fp4": 10000.0}, 80.0, 186.0, 8.0,
    {"peak_flops": "NVIDIA GB200 NVL72 specifications (rack of 72): FP4 1,440 PF, FP8 720 PF, BF16 360 PF with "
                   "sparsity, so per GPU 10 / 5 / 2.5 PF dense",
     "vector_flops": "GB200 NVL72 specifications: FP32 5,760 TFLOPS per rack, 80 per GPU",
     "hbm": "GB200 NVL72 specifications: up to 13.4 TB HBM3e and 576 TB/s per rack, so 186 GB and 8 TB/s per GPU"},
)
GB300 = _accelerator(
    "GB300-NVL72", {"bf16": 2500.0, "fp8": 5000.0, "fp4": 15000.0}, 80.0, 288.0, 8.0,
    {"peak_flops": "NVIDIA GB300 NVL72 specifications (rack of 72): FP4 1,080 PF dense (1,440 sparse), FP8 720 PF "
                   "and BF16 360 PF with sparsity, so per GPU 15 / 5 / 2.5 PF dense (S: verda.com per-GPU table: "
                   "FP4 15, FP8 5, BF16 2.5 PF dense)",
     "vector_flops": "S: verda.com per-GPU table, FP32 0.080 PFLOPS",
     "hbm": "NVIDIA Blackwell Ultra: 288 GB HBM3e per GPU (hardware.md 1b, S); 576 TB/s per rack, 8 TB/s per GPU"},
)

REFERENCE_ACCELERATORS = {a.name: a for a in (A100_SXM_80GB, H100_SXM, B200, GB200, GB300)}
"""The reference instances by name."""
