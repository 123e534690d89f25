"""The model against published Megatron-LM measurements (racksim/perf/VALIDATION.md has the table)."""

from __future__ import annotations

import pytest

from racksim.perf.published import (
    DEEPSEEK_V3,
    KORTHIKANTI_2022,
    LLAMA3_405B,
    NARAYANAN_2021,
    NARAYANAN_2021_ZERO3,
    Case,
)


@pytest.mark.parametrize("case", KORTHIKANTI_2022, ids=lambda c: c.name)
def test_korthikanti_2022_iteration_times_within_15_percent(case: Case) -> None:
    assert abs(case.error) <= 0.15, f"{case.name}: predicted {case.predict():.2f} s, measured {case.measured} s"


def test_exactly_one_calibration_case() -> None:
    calibrated = [c for c in KORTHIKANTI_2022 + NARAYANAN_2021 + NARAYANAN_2021_ZERO3 if c.calibration]
    assert [c.name for c in calibrated] == ["megatron-175b selective"]
    assert abs(calibrated[0].error) <= 0.01  # the calibration reproduces its own case


@pytest.mark.parametrize("case", NARAYANAN_2021, ids=lambda c: c.name)
def test_narayanan_2021_achieved_tflops(case: Case) -> None:
    # Settings partly assumed (micro-batch 1, no interleaving, un-overlapped all-reduce); values of Table 1 checked
    # against three stored transcriptions of the paper (VALIDATION.md).
    assert abs(case.error) <= 0.15, f"{case.name}: {case.predict():.1f} vs {case.measured} TFLOP/s"


ZERO3_MISSES = {"ZeRO-3 175B 768 GPUs": 0.20}
"""Narayanan 2021 Table 2 rows outside 15 %, bounded so a regression shows. 768 GPUs moved from +30.2 to +15.7 %
(bound 0.40 → 0.20) and 1536 GPUs from +38.2 to +10.7 % (out of the misses) when the per-tensor ZeRO 3 reduced
every parameter's gradient with its own collective (norms and biases too) and each gather carried v0.3.15's
host loop over the ranks and its debug norm (VALIDATION.md, "ZeRO-3 (Narayanan Table 2)")."""


@pytest.mark.parametrize("case", NARAYANAN_2021_ZERO3, ids=lambda c: c.name)
def test_zero3_2021_per_tensor_without_overlap(case: Case) -> None:
    # DeepSpeed ZeRO-3 of 2021 (per-tensor gathers, a device synchronize before each, re-gathered for the
    # recomputed forward; per-tensor gradient reduce-scatters): checked at 384 and 1536 GPUs, an optimistic miss
    # at 768 (VALIDATION.md, "Misses").
    limit = ZERO3_MISSES.get(case.name, 0.15)
    assert abs(case.error) <= limit, f"{case.name}: {case.predict():.1f} vs {case.measured} TFLOP/s"
    if case.name in ZERO3_MISSES:  # move it out when the model reaches 15 %
        assert case.error > 0.15


LLAMA3_MISSES = {"Llama 3 405B 16384 GPUs cp 16": 0.25}
"""Llama 3 cases outside 15 % (VALIDATION.md: unpublished settings and the MFU count), with a bound so a
regression still shows. cp 16 moved from +31 to +47 % (bound 0.40 → 0.50) when the H100 BF16 curve took its
measured plateau (0.803 for the A100-calibrated 0.70); the same change brought 16384 GPUs cp 1 within 15 %. cp 16
then moved from +47 to +37 % (bound 0.50 → 0.40) when its K/V all-gather became exposed, as the paper states, and
to +24 % (bound 0.40 → 0.30) when attention took FlashAttention-3's measured H100 curve (62 % of peak forward at
16k and beyond, not the GEMM curve's 80 %; VALIDATION.md, "Fused attention"), and to +17.9 % (bound 0.30 → 0.25)
when the fused attention backward counted 2.5× the forward FLOPs (VALIDATION.md, "Fused attention backward
FLOPs")."""


@pytest.mark.parametrize("case", LLAMA3_405B, ids=lambda c: c.name)
def test_llama3_405b_mfu_on_16_uneven_stages(case: Case) -> None:
    limit = LLAMA3_MISSES.get(case.name, 0.15)
    assert abs(case.error) <= limit, f"{case.name}: MFU {case.predict():.3f} vs {case.measured}"
    if case.name in LLAMA3_MISSES:  # move it out when the model reaches 15 %
        assert abs(case.error) > 0.15


def test_deepseek_v3_fp8_moe_is_a_reported_pessimistic_miss() -> None:
    # 180K H800 GPU-hours per trillion tokens = 1,543 tokens/s per GPU. The model exposes the expert all-to-all
    # that DualPipe hides and sends every routed copy over InfiniBand in BF16 (VALIDATION.md): −30 %, bounded so a
    # regression shows; move it to the checked cases when it comes within 15 %.
    case = DEEPSEEK_V3[0]
    assert -0.40 < case.error < -0.15, f"{case.predict():.0f} vs {case.measured:.0f} tokens/s per GPU"
