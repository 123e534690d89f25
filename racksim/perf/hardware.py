"""From a design to what the performance model runs on: the accelerator and the system of N GPUs.

The design file is the one source of the GPU's numbers: `compute_tray.gpus.accelerator` (racksim.design.
accelerator_schema) compiles into an `Accelerator` here (TFLOP/s → FLOP/s), and a `System` joins it to the design's
collective model (`comm.network_collective_time` on the design's real topology) with the scale-up (NVLink) domain of
one rack: a group of ranks spanning at most that many GPUs is timed inside the domain, a larger one across the
scale-out fabric. Collective times are memoized per (kind, bytes, ranks, inside): a step asks for the same few
collectives many times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from racksim.design.accelerator_schema import AttentionPoints, GemmEfficiency, MemoryEfficiency
from racksim.design.schema import Design
from racksim.errors import InputError
from racksim.perf.accelerator import GEMM_FRAMEWORK_FACTOR, TERA, Accelerator, EfficiencyCurve, ceiling_curve
from racksim.perf.comm import CollectiveTime, Kind, gpus_per_rack, network_collective_time
from racksim.perf.training import System


def accelerator_from_design(design: Design, source: str = "design") -> Accelerator:
    """The design's `compute_tray.gpus.accelerator` as an `Accelerator` (peaks in FLOP/s, curves as given).

    GEMM curves per precision: a precision's own points in `gemm_efficiency_by_precision` (× the framework factor
    when they are a standalone kernel benchmark), else the curve derived from its measured ceiling (`gemm_ceiling`,
    `accelerator.ceiling_curve`), else the `gemm_efficiency` points.

    A design without the section is a one-line `InputError` naming the field.
    """
    spec = design.compute_tray.gpus.accelerator
    if spec is None:
        raise InputError(source, "compute_tray.gpus.accelerator",
                         "required for performance predictions (peaks, HBM and efficiency curves of the GPU)")
    peaks = {name: tflops * TERA for name, tflops in spec.peak_tflops.tflops().items()}
    ceiling = spec.gemm_ceiling
    by_precision = {name: ceiling_curve(fraction, peaks[name], ceiling.source)
                    for name, fraction in ceiling.fractions().items()} if ceiling is not None else {}
    by_precision |= {name: _gemm_curve(c) for name, c in (spec.gemm_efficiency_by_precision or {}).items()
                     if c is not None}
    return Accelerator(
        name=spec.name,
        peak_flops=peaks,
        vector_flops=spec.vector_tflops * TERA,
        hbm_gb=spec.hbm_gb,
        hbm_bandwidth_tbyte_s=spec.hbm_bandwidth_tbyte_s,
        # the schema guarantees a BF16 curve where no points are given
        gemm_efficiency=by_precision["bf16"] if spec.gemm_efficiency is None else _gemm_curve(spec.gemm_efficiency),
        memory_efficiency=_curve(spec.memory_efficiency),
        sources={"design": design.name},
        gemm_efficiency_by_precision=by_precision,
        attention_efficiency={name: (_attention_curve(a.forward), _attention_curve(a.backward))
                              for name, a in (spec.attention_efficiency or {}).items()},
        fp8_tn_only=spec.fp8_gemm_tn_only,
    )


def _curve(points: GemmEfficiency | MemoryEfficiency | AttentionPoints, factor: float = 1.0) -> EfficiencyCurve:
    """A design's curve points (sizes, fractions) as an `EfficiencyCurve`, each fraction × `factor`."""
    return EfficiencyCurve(tuple(points.sizes()[1]), tuple(f * factor for f in points.fraction), points.source)


def _gemm_curve(points: GemmEfficiency) -> EfficiencyCurve:
    """A GEMM curve given as points in the design; a standalone kernel benchmark's points × GEMM_FRAMEWORK_FACTOR."""
    return _curve(points, GEMM_FRAMEWORK_FACTOR if points.kernel_benchmark else 1.0)


def _attention_curve(points: AttentionPoints) -> EfficiencyCurve:
    """One pass of a fused attention kernel's design curve (fraction against sequence length) × GEMM_FRAMEWORK_FACTOR.

    Every attention curve is a standalone kernel benchmark (the FlashAttention-3 paper, cudnn-frontend's SDPA
    benchmark), so it takes the framework factor k as the GEMM ceilings and benchmark tables do.
    """
    return _curve(points, GEMM_FRAMEWORK_FACTOR)


@dataclass(frozen=True)
class MemoizedCollective:
    """A `CollectiveTime` that remembers every answer (the network model compiles topologies and solves per call)."""

    inner: CollectiveTime
    cache: dict[tuple[Kind, float, int, bool, int], float] = field(default_factory=dict)

    def __call__(self, kind: Kind, message_bytes: float, group_size: int, scale_up: bool,
                 per_domain: int = 1) -> float:
        """The inner model's time, s, computed once per distinct question."""
        key = (kind, float(message_bytes), int(group_size), bool(scale_up), int(per_domain))
        if key not in self.cache:
            self.cache[key] = self.inner(kind, message_bytes, group_size, scale_up, per_domain)
        return self.cache[key]


def system_from_design(design: Design, collective: CollectiveTime | None = None, source: str = "design") -> System:
    """The design's GPU, its collective model (default: racksim's network model, memoized) and its NVLink domain."""
    timer = MemoizedCollective(network_collective_time(design)) if collective is None else collective
    return System(accelerator_from_design(design, source), timer, gpus_per_rack(design))


@lru_cache(maxsize=16)
def _load(path: str) -> Design:
    from racksim.design.loader import load_model

    return load_model(Design, Path(path))[0]


def as_design(design: Design | str | Path) -> tuple[Design, str]:
    """A `Design` and the name to report errors under, from a validated design or a design file's path."""
    if isinstance(design, Design):
        return design, design.name
    return _load(str(design)), str(design)


REFERENCE_DESIGNS = Path(__file__).resolve().parents[2] / "designs"
"""The source tree's design files (not installed with the package): where the validation cases' GPUs come from."""


def _reference_design(relative_path: str) -> tuple[Design, str]:
    """A bundled design and its path, by its path under designs/; missing is an `InputError`."""
    path = REFERENCE_DESIGNS / relative_path
    if not path.is_file():
        raise InputError(str(path), "design", "not found: the validation cases need the source tree's designs/")
    return _load(str(path)), str(path)


def reference_accelerator(relative_path: str) -> Accelerator:
    """The accelerator of a bundled design, by its path under designs/ (e.g. 'reference/dgx-a100.yaml')."""
    return accelerator_from_design(*_reference_design(relative_path))


@lru_cache(maxsize=8)
def reference_system(relative_path: str) -> System:
    """The system of a bundled design (GPU, racksim's collective model, NVLink domain), by its path under designs/.

    Cached: the validation cases on one design (e.g. 'gb200-nvl72.yaml') share it and its memoized collectives.
    """
    design, source = _reference_design(relative_path)
    return system_from_design(design, source=source)
