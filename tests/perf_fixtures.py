"""GPUs and systems for the performance-model tests, compiled from the bundled designs (the one source of their
numbers), plus a B200 that has no bundled design."""

from __future__ import annotations

from pathlib import Path

from racksim.design.loader import load_model
from racksim.design.schema import Design
from racksim.perf.accelerator import GEMM_PLATEAU, HBM_PLATEAU, KERNEL_FIXED_TIME_S, Accelerator, fixed_cost_curve
from racksim.perf.hardware import accelerator_from_design

ROOT = Path(__file__).resolve().parent.parent
DESIGN_PATHS = {
    "gb200": ROOT / "designs" / "gb200-nvl72.yaml",
    "gb300": ROOT / "designs" / "gb300-nvl72.yaml",
    "vr": ROOT / "designs" / "vr-800vdc.yaml",
    "h100": ROOT / "designs" / "reference" / "hgx-h100-8gpu.yaml",
    "a100": ROOT / "designs" / "reference" / "dgx-a100.yaml",
}
DESIGNS = {key: load_model(Design, path)[0] for key, path in DESIGN_PATHS.items()}
A100_SXM_80GB, H100_SXM, GB200, GB300, RUBIN = (accelerator_from_design(DESIGNS[k])
                                                for k in ("a100", "h100", "gb200", "gb300", "vr"))

_NOTE = "test fixture: T = t0 + x/(eta*peak) as the designs' curves"
B200 = Accelerator(  # HGX B200: not a bundled design, so a fixture only
    name="B200-HGX",
    peak_flops={"bf16": 2250e12, "fp8": 4500e12, "fp4": 9000e12},  # HGX B200 spec: 18/9/4.5 PF sparse per GPU, /2
    vector_flops=75e12,  # HGX B200 specifications: FP32 75 TFLOPS per GPU
    hbm_gb=180.0,  # DGX B200 datasheet: 1,440 GB for 8 GPUs
    hbm_bandwidth_tbyte_s=7.7,  # S: verda.com per-GPU table
    gemm_efficiency=fixed_cost_curve(GEMM_PLATEAU, 2250e12, KERNEL_FIXED_TIME_S, _NOTE),
    memory_efficiency=fixed_cost_curve(HBM_PLATEAU, 7.7e12, KERNEL_FIXED_TIME_S, _NOTE),
)
REFERENCE_ACCELERATORS = {a.name: a for a in (A100_SXM_80GB, H100_SXM, B200, GB200, GB300, RUBIN)}
