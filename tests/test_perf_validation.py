"""The model against published Megatron-LM measurements (racksim/perf/VALIDATION.md has the table)."""

from __future__ import annotations

import dataclasses

import pytest

from racksim.perf.published import (
    DEEPSEEK_V3,
    KORTHIKANTI_2022,
    LLAMA3_405B,
    NARAYANAN_2021,
    NARAYANAN_2021_ZERO3,
    Case,
    h800_cluster,
)
from racksim.perf.training import train_step


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


def test_deepseek_v3_as_run_is_a_reported_optimistic_miss() -> None:
    # 180K H800 GPU-hours per trillion tokens = 1,543 tokens/s per GPU, a whole-pre-training average. Run as the
    # report describes (DualPipe, 4-node routing, FP8 dispatch, its memory savings) the layout fits 80 GB and the
    # all-to-all hides, but racksim's FP8 compute is ~1.8x faster than DeepSeek's profiled kernels (VALIDATION.md):
    # +133 %, bounded so a regression shows; move it to the checked cases when it comes within 15 %.
    case = DEEPSEEK_V3[0]
    assert 1.0 < case.error < 1.6, f"{case.predict():.0f} vs {case.measured:.0f} tokens/s per GPU"
    step = train_step(case.model, case.layout, h800_cluster())  # memory checked: fits the H800's 80 GB
    assert step.memory.total_gb <= 80.0
    assert step.breakdown.ep_comm_s == step.breakdown.pp_comm_s == 0.0  # "fully hidden" (§3.2.1)
    # Per micro-batch, the all-to-alls against the compute without overlap: "approximately 1:1" (§3.2.1).
    exposed = train_step(case.model, dataclasses.replace(case.layout, pp_schedule="1f1b", comm_sm_fraction=0.0),
                         h800_cluster()).breakdown
    assert 0.75 < exposed.ep_comm_s / exposed.compute_s < 1.33
    # deepseek-ai/profile-data train.json: one DualPipe pair of 4-MoE-layer chunks (EP 64, 4K tokens) keeps the
    # compute stream busy 118.2 ms; racksim's pair (compute on 112 of 132 SMs) is ~65 ms, the −45 % the FP8 GEMMs
    # (~0.39 of peak measured), BF16 attention and the casts explain (VALIDATION.md).
    pair_ms = 1e3 * step.breakdown.compute_s / case.layout.microbatches
    assert 0.45 < pair_ms / 118.2 < 0.65, f"{pair_ms:.1f} ms per pair"
