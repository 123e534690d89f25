"""The model against published Megatron-LM measurements (racksim/perf/VALIDATION.md has the table)."""

from __future__ import annotations

import dataclasses

import pytest

from racksim.perf.ops import layer_ops, op_time_s
from racksim.perf.published import (
    DEEPSEEK_V3,
    KORTHIKANTI_2022,
    LLAMA3_405B,
    NARAYANAN_2021,
    NARAYANAN_2021_ZERO3,
    Case,
    h800_cluster,
)
from racksim.perf.training import step_shard, train_step


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


LLAMA3_MISSES: dict[str, float] = {}
"""Llama 3 cases outside 15 % (VALIDATION.md), with a bound so a regression still shows; none now. cp 16 went from
+31 % through +47, +37, +24 to +17.9 % (measured H100 plateaus, the exposed K/V all-gather, FlashAttention-3's
curve, the 2.5x fused-attention backward) and to +7.7 % when every GPU's GEMM plateau became its measured
ceiling x the A100 calibration's framework factor (VALIDATION.md, "GEMM efficiency per GPU and precision"); the
same change took the cp 1 rows to -19 / -24 %, and running them without activation checkpointing, as the paper
states for 8K sequences (§3.3.2), to +7.2 / +0.5 %."""


@pytest.mark.parametrize("case", LLAMA3_405B, ids=lambda c: c.name)
def test_llama3_405b_mfu_on_16_uneven_stages(case: Case) -> None:
    limit = LLAMA3_MISSES.get(case.name, 0.15)
    assert abs(case.error) <= limit, f"{case.name}: MFU {case.predict():.3f} vs {case.measured}"
    if case.name in LLAMA3_MISSES:  # move it out when the model reaches 15 %
        assert abs(case.error) > 0.15


def test_deepseek_v3_as_run_is_a_reported_optimistic_miss() -> None:
    # 180K H800 GPU-hours per trillion tokens = 1,543 tokens/s per GPU, a whole-pre-training average. Run as the
    # report describes (DualPipe, 4-node routing, FP8 dispatch, its memory savings) the layout fits 80 GB and the
    # all-to-all hides. +133 %, then +93 % with attention and the output layer in BF16 as the report runs them
    # (§3.3.1), then +50 % with its block-scaled FP8 GEMMs on their own curve and their quantize kernels timed, +43 %
    # with the routed tokens' permutation and combine (VALIDATION.md, "Fine-grained FP8"); bounded so a regression
    # shows. The profile's own compute stream implies
    # ~+26 % over the GPU-hour average (VALIDATION.md), so the case stays a miss until the rest of the profile's
    # kernels are modelled.
    case = DEEPSEEK_V3[0]
    assert 0.35 < case.error < 0.55, f"{case.predict():.0f} vs {case.measured:.0f} tokens/s per GPU"
    step = train_step(case.model, case.layout, h800_cluster())  # memory checked: fits the H800's 80 GB
    assert step.memory.total_gb <= 80.0
    assert step.breakdown.ep_comm_s == step.breakdown.pp_comm_s == 0.0  # "fully hidden" (§3.2.1)
    # Per micro-batch, the all-to-alls against the compute without overlap: "approximately 1:1" (§3.2.1), and in
    # the profile the communication stream (DeepEP dispatch, combine, notify) is busy 114.5 ms per pair against the
    # compute stream's 118.2. racksim: 1.06 with attention at the FP8 peak, 0.50 with it in BF16, 0.41 with the
    # block-scaled GEMMs and the permutations: its all-to-all is ~2x faster than DeepEP's profiled kernels.
    exposed = train_step(case.model, dataclasses.replace(case.layout, pp_schedule="1f1b", comm_sm_fraction=0.0),
                         h800_cluster()).breakdown
    assert 0.35 < exposed.ep_comm_s / exposed.compute_s < 0.6
    # deepseek-ai/profile-data train.json: one DualPipe pair of 4-MoE-layer chunks (EP 64, 4K tokens) keeps the
    # compute stream busy 118.2 ms; racksim's pair (compute on 112 of 132 SMs) is ~107 ms (~78 ms before the
    # block-scaled curve, the quantize kernels and the permutations), the rest mostly the casts and vector kernels.
    pair_ms = 1e3 * step.breakdown.compute_s / case.layout.microbatches
    assert 0.78 < pair_ms / 118.2 < 0.95, f"{pair_ms:.1f} ms per pair"


PROFILE_SM_SHARE = 112 / 132
"""The profile's GEMM kernels run on grids of 112 CTAs, the SMs DualPipe leaves to compute (20 of 132 kept for
communication, DeepSeek-V3 §3.2.2)."""


def _profile_pair_ms(names: frozenset[str], backward_share: float) -> float:
    """racksim's time of `names` in 4 MoE layers of the DeepSeek case (forward + `backward_share` of the backward)
    on the profile's 112 SMs, ms."""
    case = DEEPSEEK_V3[0]
    layout, acc = case.layout, h800_cluster().accelerator
    ops = layer_ops(case.model, step_shard(layout), True, case.model.experts // layout.ep).select(names)
    prec = layout.matmul_precision
    pair_s = op_time_s(ops, acc, prec).sum() + backward_share * op_time_s(ops.backward(), acc, prec).sum()
    return 4e3 * float(pair_s) / PROFILE_SM_SHARE


def test_deepseek_v3_fp8_gemms_against_the_profile_kernel_by_kernel() -> None:
    # deepseek-ai/profile-data train.json (the pair of 4-MoE-layer chunks, 4,096 tokens, EP 64: 4 local experts of
    # 8,192 rows each), kernel durations summed: the grouped expert GEMMs (m_grouped_fp8_ptp128c, 16 calls: forward
    # and input gradient of both expert matrices) 22.93 ms; every FP8 GEMM (those, the dense fp8_ptp128c and the
    # weight-gradient fp8_dptp128c_acc kernels on two streams) 74.53 ms. racksim, on the block-scaled curve
    # calibrated on DeepGEMM's table (a check here, not a fit): 26.5 ms (+15 %) and 65.4 ms (−12 %); on the
    # per-tensor FP8 curve they would be 19.8 and 49.0 ms.
    experts = _profile_pair_ms(frozenset({"experts_in", "experts_out"}), 0.5)
    assert 1.0 < experts / 22.93 < 1.2, f"{experts:.1f} ms"
    case = DEEPSEEK_V3[0]
    linear = frozenset({"qkv", "out_proj", "experts_in", "experts_out", "shared_in", "shared_out"})
    gemms = _profile_pair_ms(linear, 1.0)
    assert 0.8 < gemms / 74.53 < 1.0, f"{gemms:.1f} ms"
    assert case.layout.matmul_precision == "fp8_block"
