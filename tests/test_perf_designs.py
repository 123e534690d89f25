"""The accelerator section of the design files: loading, the compile step to `Accelerator`, one-line errors.

Published figures: ../shared/reference/hardware.md (1a GB200, 1b GB300 288 GB, 1c Rubin) and the NVIDIA datasheets
cited in each design file.
"""

from __future__ import annotations

import numpy as np
import pytest

from racksim.design.schema import Design
from racksim.errors import InputError
from racksim.perf.accelerator import (
    GEMM_FRAMEWORK_FACTOR,
    GEMM_PLATEAU,
    HBM_PLATEAU,
    KERNEL_FIXED_TIME_S,
    Accelerator,
    fixed_cost_curve,
)
from racksim.perf.hardware import accelerator_from_design, gpus_per_rack, system_from_design
from racksim.perf.ops import OpTable, op_time_s
from racksim.run.loading import load_design
from tests.perf_fixtures import A100_SXM_80GB, B200, DESIGN_PATHS, DESIGNS, GB200, GB300, H100_SXM, RUBIN

ACCELERATOR = "compute_tray.gpus.accelerator"


def test_every_bundled_design_carries_a_sourced_accelerator() -> None:
    assert GB200.peak("bf16") == pytest.approx(2500e12)
    assert GB200.peak("fp4") == pytest.approx(10000e12)
    assert GB300.peak("fp4") == pytest.approx(1.5 * GB200.peak("fp4"))  # Blackwell Ultra: 1.5x dense FP4
    assert (GB200.hbm_gb, GB300.hbm_gb) == (186.0, 288.0)  # the point of the GB300 generation
    assert H100_SXM.peak("fp8") == pytest.approx(2 * H100_SXM.peak("bf16"))
    assert "fp4" not in H100_SXM.peak_flops  # Hopper has no FP4 (the HGX file no longer inherits GB200's)
    assert set(A100_SXM_80GB.peak_flops) == {"bf16"}
    assert (A100_SXM_80GB.hbm_gb, A100_SXM_80GB.hbm_bandwidth_tbyte_s) == (80.0, 2.039)
    assert RUBIN.hbm_bandwidth_tbyte_s > 2 * GB300.hbm_bandwidth_tbyte_s
    for design in DESIGNS.values():  # the workload's dense_tflops restates the accelerator's training peak
        acc = accelerator_from_design(design)
        training = acc.peak_flops.get("fp8", acc.peak_flops["bf16"])
        assert design.compute_tray.gpus.dense_tflops * 1e12 == pytest.approx(training)


B200_FP4_GEMM_TFLOPS = {(128, 2048, 7168): 338, (128, 24576, 1536): 745, (512, 2048, 7168): 1422,
                        (512, 7168, 2048): 1190, (1024, 7168, 2048): 1399, (4096, 4096, 7168): 3939,
                        (8192, 8192, 8192): 5239}
"""B200 FP4 x FP4 GEMM TFLOP/s with cuBLAS 13.3 by M x N x K (deepseek-ai/DeepGEMM pull request 348, B200, CUDA 12.9,
"cBLT" column): the Blackwell and Rubin files' FP4 curve, as fractions of each GPU's FP4 peak."""
BLACKWELL_FP4 = ("b200", "gb200", "gb300", "vr")
H100_FP8_BLOCK_PLATEAU = 0.529
"""DeepSeek's block-scaled FP8 GEMMs on H800 (the H100's SMs and clocks): the plateau η with which T = t0 + x/(η·P)
gives the internal CUTLASS 3.6 grouped GEMM 4 × 8192 × 4096 × 7168 DeepGEMM's README (327ec92) implies, 1346 TFLOP/s
over its 1.3× speedup (`test_h100_block_scaled_fp8_curve_reproduces_its_calibration`); a kernel calibration of its
own, not on the ceiling x k basis."""
_GB200 = {"bf16": 1822 / 2500, "fp8": 3615.6 / 5000}
MAMF_CEILINGS = {"a100": {"bf16": 271.2 / 312}, "h100": {"bf16": 794.5 / 989, "fp8": 1402.6 / 1979},
                 "b200": {"bf16": 1745 / 2250, "fp8": 3432.5 / 4500}, "gb200": _GB200,
                 "gb300": {"bf16": 1769 / 2250, "fp8": 3353.3 / 4500}, "vr": _GB200}
"""Best-shape matmul ceilings, "Maximum Achievable Matmul FLOPS" (stas00/ml-engineering, compute/accelerator/README.md
at 744d01e): A100 SXM, H100 SXM, B200, GB200 measured; GB300 carries B300's fractions, Rubin GB200's. FP4 on
Blackwell and Rubin is the measured table (B200_FP4_GEMM_TFLOPS), not this model."""


@pytest.mark.parametrize("key", sorted(DESIGN_PATHS))
def test_design_curves_are_samples_of_the_stated_model(key: str) -> None:
    """Each precision's GEMM curve is T = t0 + x/(eta*peak) at that precision's peak, eta = measured ceiling x k
    (FP4: the B200 ceiling itself, as sampled points rounded to 4 digits); the HBM curve the same model at 0.90."""
    acc = accelerator_from_design(DESIGNS[key])
    sizes = np.array(acc.gemm_efficiency.size)
    plateaus = {name: ceiling * GEMM_FRAMEWORK_FACTOR for name, ceiling in MAMF_CEILINGS[key].items()}
    table = {"fp4"} if key in BLACKWELL_FP4 else set()
    assert set(acc.gemm_efficiency_by_precision) - {"fp8_block"} == set(plateaus) | table == set(acc.peak_flops)
    if key == "h100":
        plateaus["fp8_block"] = H100_FP8_BLOCK_PLATEAU
    for precision, plateau in plateaus.items():
        gemm = fixed_cost_curve(plateau, acc.peak(precision), KERNEL_FIXED_TIME_S, "model")
        np.testing.assert_allclose(acc.gemm_curve(precision)(sizes), gemm(sizes), rtol=1e-3)
    memory = fixed_cost_curve(HBM_PLATEAU, acc.hbm_bytes_per_s, KERNEL_FIXED_TIME_S, "model")
    np.testing.assert_allclose(acc.memory_efficiency(sizes), memory(sizes), rtol=1e-3)


def test_the_a100_ceiling_times_k_is_the_calibrated_plateau() -> None:
    """By construction: k = 0.70 / (271.2/312) = 0.8053, so A100's own ceiling gives back eta = 0.70 (the
    Korthikanti 2022 calibration); the H100 plateaus are 0.8033 x 0.8053 = 0.647 (BF16), 0.7087 x 0.8053 = 0.571."""
    assert pytest.approx(0.8053, abs=1e-4) == GEMM_FRAMEWORK_FACTOR
    assert A100_SXM_80GB.gemm_curve("bf16").fraction[-1] == pytest.approx(GEMM_PLATEAU, abs=1e-4)
    assert A100_SXM_80GB.gemm_efficiency is A100_SXM_80GB.gemm_curve("bf16")
    assert H100_SXM.gemm_curve("bf16").fraction[-1] == pytest.approx(0.647, abs=5e-4)
    assert H100_SXM.gemm_curve("fp8").fraction[-1] == pytest.approx(0.571, abs=5e-4)


def test_h100_fp8_gemms_run_on_their_own_ceiling() -> None:
    """Hand calculation: a 1e12-FLOP FP8 GEMM on H100 takes t0 + x/(eta*peak) = 5 us + 1e12/(0.5707 * 1979e12)
    = 0.8904 ms; at BF16 5 us + 1e12/(0.6469 * 989.5e12) = 1.5672 ms. GB200's FP8 and BF16 curves differ too."""
    ops = OpTable(("gemm",), np.array([1e12]), np.array([1e6]), np.array([True]))
    assert op_time_s(ops, H100_SXM, "fp8")[0] == pytest.approx(8.904e-4, rel=2e-3)
    assert op_time_s(ops, H100_SXM, "bf16")[0] == pytest.approx(1.5672e-3, rel=2e-3)
    assert GB200.gemm_curve("fp8") is not GB200.gemm_curve("bf16")


def test_h100_block_scaled_fp8_curve_reproduces_its_calibration() -> None:
    """The one calibration of η_block: DeepSeek's internal CUTLASS 3.6 grouped GEMM (the kernels of its training
    profile), 4 groups of 8192 × 4096 × 7168 on H800, at DeepGEMM's 1346 TFLOP/s over its 1.3× speedup (README at
    327ec92) = 1035 TFLOP/s; the sampled curve, interpolated between decades, gives it within 1 %. Checks: the
    README's first version (a6d97a1), 1297 / 1.2 = 1081, and the other contiguous shape (7168 × 2048), 1214 / 1.3 =
    934 TFLOP/s, within 10 %. Per-tensor FP8 keeps its own curve; GB200 has no block curve (MXFP8 scales in the
    tensor cores): its fp8 one."""
    per_group = 2.0 * 8192 * 4096 * 7168
    block = H100_SXM.gemm_curve("fp8_block")
    assert H100_SXM.peak("fp8_block") == H100_SXM.peak("fp8")
    assert block(per_group) * 1979 == pytest.approx(1346 / 1.3, rel=0.01)
    assert block(per_group) * 1979 == pytest.approx(1297 / 1.2, rel=0.06)
    assert block(2.0 * 8192 * 7168 * 2048) * 1979 == pytest.approx(1214 / 1.3, rel=0.10)
    # Per-tensor FP8 (MAMF ceiling x k, 0.559 here) stays above the block-scaled kernels (0.519): 1.08x, 1.3x when
    # it was the raw ceiling (0.709); the block curve is a kernel calibration of its own, not on the ceiling x k basis.
    assert H100_SXM.gemm_curve("fp8")(per_group) == pytest.approx(1.077 * block(per_group), rel=2e-3)
    assert GB200.gemm_curve("fp8_block") is GB200.gemm_curve("fp8")


def test_blackwell_fp4_gemms_run_on_the_measured_b200_table() -> None:
    """Every shape of the table runs at its measured time / k on B200 (k = 0.8053, the framework factor a standalone
    kernel benchmark takes; the two 512-row shapes of equal FLOPs at their mean, 1306 TFLOP/s), GB200 and Rubin at
    the same fractions of their FP4 peaks. Hand calculation between points: a 1e12-FLOP GEMM interpolates in
    log10(size) between 4096x4096x7168 (2.4052e11, 0.4377) and 8192^3 (1.0995e12, 0.5821): 0.4377 + 0.1444 x
    (12 - 11.3811)/0.6601 = 0.5731, so 1e12/(0.5731 x 0.8053 x 9000e12) = 0.24076 ms. Below the smallest shape the
    time is held: 1e9 FLOPs take 128x2048x7168's 3.758e9/338e12/k = 13.8 us. FP8 on its ceiling
    curve at the FP8 peak: eta = 0.7628 x 0.8053 = 0.6143, fraction 0.6143/(1 + 0.6143 * 4500e12 * 5e-6 / 1e12) =
    0.60592, so 1e12/(0.60592 * 4500e12) = 0.36675 ms. Null entries drop inherited curves: the H100 file (extending
    GB200) has no FP4 curve, and the A100 file no FP8 ceiling."""
    def fp4_s(acc: Accelerator, flops: float) -> float:
        return float(op_time_s(OpTable(("gemm",), np.array([flops]), np.array([1.0]), np.array([True])), acc,
                               "fp4")[0])

    for (m, n, k), tflops in B200_FP4_GEMM_TFLOPS.items():
        measured = 1306 if m == 512 and n * k == 2048 * 7168 else tflops
        achieved_flop_s = measured * 1e12 * GEMM_FRAMEWORK_FACTOR
        assert fp4_s(B200, 2.0 * m * n * k) == pytest.approx(2.0 * m * n * k / achieved_flop_s, rel=1e-3)
        assert fp4_s(GB200, 2.0 * m * n * k) == pytest.approx(fp4_s(B200, 2.0 * m * n * k) * 0.9, rel=1e-9)
    assert fp4_s(B200, 1e12) == pytest.approx(2.4076e-4, rel=2e-3)
    assert fp4_s(B200, 1e9) == pytest.approx(3.7581e9 / 338e12 / GEMM_FRAMEWORK_FACTOR, rel=1e-3)
    assert RUBIN.gemm_curve("fp4") == GB200.gemm_curve("fp4") == GB300.gemm_curve("fp4")
    ops = OpTable(("gemm",), np.array([1e12]), np.array([1e6]), np.array([True]))
    assert op_time_s(ops, B200, "fp8")[0] == pytest.approx(3.6675e-4, rel=2e-3)
    assert set(B200.gemm_efficiency_by_precision) == {"bf16", "fp8", "fp4"}
    assert not B200.attention_efficiency
    assert set(H100_SXM.gemm_efficiency_by_precision) == {"bf16", "fp8", "fp8_block"}
    assert set(A100_SXM_80GB.gemm_efficiency_by_precision) == {"bf16"}


@pytest.mark.parametrize(("field", "curve"), [
    ("gemm_efficiency_by_precision", "{size_flop: [1.0], fraction: [0.5], source: x}"),
    ("attention_efficiency", "{forward: {seq_len: [512], fraction: [0.5], source: x}, "
                             "backward: {seq_len: [512], fraction: [0.5], source: x}}"),
])
def test_a_curve_for_a_precision_the_gpu_lacks_is_one_line(field: str, curve: str) -> None:
    with pytest.raises(InputError) as caught:
        load_design(DESIGN_PATHS["h100"], [f"{ACCELERATOR}.{field}={{fp4: {curve}}}"])
    assert caught.value.field_path == f"{ACCELERATOR}.{field}.fp4"
    assert "no peak for (has bf16, fp8)" in caught.value.rule


def test_a_ceiling_for_a_precision_the_gpu_lacks_is_one_line() -> None:
    with pytest.raises(InputError) as caught:
        load_design(DESIGN_PATHS["a100"], [f"{ACCELERATOR}.gemm_ceiling.fp8=0.7"])
    assert caught.value.field_path == f"{ACCELERATOR}.gemm_ceiling.fp8"
    assert "no peak for (has bf16)" in caught.value.rule


def test_a_precisions_own_points_replace_its_ceiling_curve() -> None:
    """Points given for FP8 win over the FP8 ceiling; BF16 stays on its ceiling curve."""
    points = "{size_flop: [1.0e+9, 1.0e+12], fraction: [0.1, 0.5], source: x}"
    design = load_design(DESIGN_PATHS["gb200"], [f"{ACCELERATOR}.gemm_efficiency_by_precision.fp8={points}"]).design
    acc = accelerator_from_design(design)
    assert acc.gemm_curve("fp8")(np.array([1e12]))[0] == pytest.approx(0.5)
    assert acc.gemm_curve("bf16").fraction == GB200.gemm_curve("bf16").fraction


def test_the_dgx_a100_reference_is_an_8_gpu_nvswitch_node_with_hdr_infiniband() -> None:
    loaded = load_design(DESIGN_PATHS["a100"])
    design = loaded.design
    assert gpus_per_rack(design) == 8
    assert design.network.scale_up.links_per_gpu * design.network.scale_up.link_bandwidth_gbyte_s == 300.0
    assert (design.compute_tray.nics.count, design.compute_tray.nics.bandwidth_gbps) == (8, 200.0)
    assert 5500 < loaded.figures["nameplate_it_power_w"] < 6600  # P: "6.5 kW max" system power
    system = system_from_design(design)
    assert system.scale_up_gpus == 8
    inside = system.collective("all-reduce", 256e6, 8, True)
    across = system.collective("all-reduce", 256e6, 8, False)
    assert across > 5 * inside  # 25 GB/s per GPU of InfiniBand against 300 GB/s of NVLink


def test_the_json_schema_documents_the_accelerator_section() -> None:
    schema = Design.model_json_schema()
    spec = schema["$defs"]["AcceleratorSpec"]
    assert {"peak_tflops", "vector_tflops", "hbm_gb", "hbm_bandwidth_tbyte_s", "gemm_ceiling", "gemm_efficiency",
            "memory_efficiency"} <= set(spec["properties"])
    assert "TB/s" in spec["properties"]["hbm_bandwidth_tbyte_s"]["description"]
    assert "size_flop" in schema["$defs"]["GemmEfficiency"]["properties"]


@pytest.mark.parametrize(("override", "field", "fragment"), [
    (f"{ACCELERATOR}.gemm_efficiency_by_precision.fp4.fraction.3=1.5",
     f"{ACCELERATOR}.gemm_efficiency_by_precision.fp4.fraction.3", "less than or equal to 1"),
    (f"{ACCELERATOR}.gemm_ceiling.fp8=1.2", f"{ACCELERATOR}.gemm_ceiling.fp8", "less than or equal to 1"),
    (f"{ACCELERATOR}.gemm_ceiling.fp8=null", f"{ACCELERATOR}.gemm_efficiency", "no ceiling or curve for fp8"),
    (f"{ACCELERATOR}.gemm_ceiling=null", f"{ACCELERATOR}.gemm_efficiency", "no ceiling or curve for bf16, fp8"),
    (f"{ACCELERATOR}.memory_efficiency.fraction.0=0", f"{ACCELERATOR}.memory_efficiency.fraction.0",
     "greater than 0"),
    (f"{ACCELERATOR}.gemm_efficiency_by_precision.fp4.size_flop.4=1e3",
     f"{ACCELERATOR}.gemm_efficiency_by_precision.fp4.size_flop.4", "sizes must increase"),
    (f"{ACCELERATOR}.memory_efficiency.fraction=[0.5, 0.9]", f"{ACCELERATOR}.memory_efficiency.fraction",
     "2 fractions for 12 points"),
    (f"{ACCELERATOR}.peak_tflops.bf16=-1", f"{ACCELERATOR}.peak_tflops.bf16", "greater than 0"),
    (f"{ACCELERATOR}.hbm_gb=0", f"{ACCELERATOR}.hbm_gb", "greater than 0"),
    (f"{ACCELERATOR}.peak_tflops.fp8=null", f"{ACCELERATOR}.peak_tflops.fp4", "also gives its fp8 peak"),
    (f"{ACCELERATOR}.peak_tflops.fp8=4000", "compute_tray.gpus.dense_tflops", "one GPU, one peak"),
    (f"{ACCELERATOR}.hbm_tb=1", f"{ACCELERATOR}.hbm_tb", "unknown field"),
    (f"{ACCELERATOR}.gemm_ceiling.source=''", f"{ACCELERATOR}.gemm_ceiling.source", "at least 1"),
    (f"{ACCELERATOR}.attention_efficiency={{bf16: {{forward: {{seq_len: [512, 1024], fraction: [0.5], source: x}}, "
     "backward: {seq_len: [512], fraction: [0.5], source: x}}}",
     f"{ACCELERATOR}.attention_efficiency.bf16.forward.fraction", "1 fractions for 2 points of seq_len"),
])
def test_a_broken_accelerator_is_one_line_naming_file_field_and_rule(override: str, field: str,
                                                                     fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        load_design(DESIGN_PATHS["gb200"], [override])
    assert caught.value.source == str(DESIGN_PATHS["gb200"])
    assert caught.value.field_path == field
    assert fragment in caught.value.rule
    assert "\n" not in str(caught.value)


def test_a_design_without_the_section_loads_but_cannot_predict() -> None:
    design = load_design(DESIGN_PATHS["gb200"], [f"{ACCELERATOR}=null"]).design
    with pytest.raises(InputError, match=f"{ACCELERATOR}: required for performance predictions"):
        accelerator_from_design(design, "mine.yaml")
