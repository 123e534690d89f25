"""Inference: KV cache, capacity, prefill and decode on the roofline, continuous batching, published serving figures."""

from __future__ import annotations

import numpy as np
import pytest

from racksim.errors import InputError
from racksim.perf.comm import DGX_H100
from racksim.perf.inference import (
    Iteration,
    Replica,
    decode_step_time_s,
    iteration_time_s,
    kv_bytes_per_token,
    prefill_time_s,
    roofline_batch,
    serving_memory,
)
from racksim.perf.model import bundled_model
from racksim.perf.params import param_counts
from racksim.perf.published_inference import ALL_SERVING_CASES, H100_NVML_GIB, h100_dgx
from racksim.perf.serving import operating_point, serve, serving_curve
from racksim.perf.serving_case import ServingCase, trtllm_bench_settings
from racksim.perf.training import System
from tests.perf_fixtures import B200, GB200, GB300, H100_SXM

LLAMA8B, LLAMA70B, LLAMA405B = (bundled_model(n) for n in ("llama3-8b", "llama3-70b", "llama3-405b"))
DEEPSEEK = bundled_model("deepseek-v3")


def test_kv_bytes_per_token_gqa_and_mla_by_hand() -> None:
    # Llama 3.1 70B: 2 (K, V) x 80 layers x 8 KV heads x 128 x 2 bytes = 327,680 bytes (320 KiB) per token.
    assert kv_bytes_per_token(LLAMA70B, "bf16") == 2 * 80 * 8 * 128 * 2
    assert kv_bytes_per_token(LLAMA70B, "fp8", tp=2) == 2 * 80 * 4 * 128 * 1  # 4 KV heads per GPU
    assert kv_bytes_per_token(LLAMA70B, "fp8", tp=16) == 2 * 80 * 1 * 128 * 1  # heads replicated beyond g
    # DeepSeek-V3 MLA: 61 layers x (kv_lora_rank 512 + rope 64) x 2 bytes, the same on every TP rank.
    assert kv_bytes_per_token(DEEPSEEK, "bf16") == 61 * 576 * 2
    assert kv_bytes_per_token(DEEPSEEK, "bf16", tp=8) == 61 * 576 * 2


def test_kv_capacity_gives_the_largest_batch() -> None:
    mem = serving_memory(LLAMA70B, Replica(tp=2), H100_SXM)
    assert mem.weights_gb == pytest.approx(param_counts(LLAMA70B).total / 2 / 1e9)
    assert mem.kv_cache_gb == pytest.approx(0.9 * 80 - mem.weights_gb - mem.workspace_gb - mem.reserved_gb)
    assert mem.max_batch(5500) == int(mem.kv_cache_gb * 1e9 // (2 * 80 * 4 * 128)) // 5500
    trt = serving_memory(LLAMA70B, Replica(tp=2, memory_policy="tensorrt-llm"), H100_SXM)
    assert trt.kv_cache_gb == pytest.approx(0.9 * (80 - mem.weights_gb - mem.workspace_gb - mem.reserved_gb))
    # GB300's 288 GB hold a larger batch of 405B than GB200's 186 GB: where HBM capacity matters.
    gb200 = serving_memory(LLAMA405B, Replica(tp=4), GB200).max_batch(8192)
    gb300 = serving_memory(LLAMA405B, Replica(tp=4), GB300).max_batch(8192)
    assert gb300 > 2 * gb200 > 0


def test_weights_that_do_not_fit_and_missing_fp4_are_one_line_errors() -> None:
    with pytest.raises(InputError, match=r"does not fit: needs \d+\.\d GB per GPU, H100-SXM5-80GB has 72\.0 GB "
                                         r"usable \(0\.90 of 80 GB\); largest term weights") as err:
        serving_memory(LLAMA405B, Replica(tp=2, precision="bf16"), H100_SXM)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="precision: H100-SXM5-80GB has no fp4 tensor cores"):
        serving_memory(LLAMA8B, Replica(precision="fp4"), H100_SXM)
    serving_memory(LLAMA8B, Replica(precision="fp4"), B200)  # Blackwell has FP4
    with pytest.raises(InputError, match="tp: 3 does not divide"):
        serving_memory(LLAMA8B, Replica(tp=3), H100_SXM)
    with pytest.raises(InputError, match="one request needs 510000"):
        serve(LLAMA70B, Replica(tp=2), h100_dgx(), 500_000, 10_000, 1)


def test_decode_is_memory_bound_at_small_batch_and_compute_bound_at_large() -> None:
    replica = Replica(tp=1)
    weights_read_s = param_counts(LLAMA8B).total * 1.0 / (H100_SXM.hbm_bytes_per_s * 0.9)
    one = decode_step_time_s(LLAMA8B, replica, h100_dgx(), 1, 1024)
    assert weights_read_s < one < 1.7 * weights_read_s  # weights read once, plus 5 us per kernel (~300)
    assert decode_step_time_s(LLAMA8B, replica, h100_dgx(), 8, 1024) < 1.1 * one  # batching is nearly free
    big = decode_step_time_s(LLAMA8B, replica, h100_dgx(), 4096, 16)
    plateau = H100_SXM.gemm_curve("fp8").fraction[-1]  # 0.571: the measured FP8 ceiling x the framework factor
    flops_s = 2 * param_counts(LLAMA8B).active * 4096 / (H100_SXM.peak("fp8") * plateau)
    assert big == pytest.approx(flops_s, rel=0.25)  # compute-bound
    assert 100 < roofline_batch(LLAMA8B, replica, H100_SXM) < 1000
    # A longer context reads more KV cache per step.
    assert decode_step_time_s(LLAMA8B, replica, h100_dgx(), 64, 32768) > 1.5 * decode_step_time_s(
        LLAMA8B, replica, h100_dgx(), 64, 1024)


def test_prefill_attention_is_quadratic_in_prompt_length() -> None:
    replica = Replica(tp=1)
    short, long = (prefill_time_s(LLAMA8B, replica, h100_dgx(), n) for n in (4096, 8192))
    assert 2.0 < long / short < 2.6  # linear part doubles, attention quadruples
    chunked = prefill_time_s(LLAMA8B, replica, h100_dgx(), 32768)
    assert chunked > 4 * long  # four chunks of 8192, each attending to more keys


def test_tp_decode_all_reduces_are_latency_bound() -> None:
    # 16 KB message (one token of h = 8192 in bf16) on 8 GPUs: the LL protocol, a few microseconds per step.
    small = DGX_H100("all-reduce", 16384, 8, True)
    assert small == pytest.approx(3.6e-6 + 14 * 0.47e-6 + 16384 * 14 / 8 / (450e9 * 0.82 * 0.25), rel=1e-9)
    large = DGX_H100("all-reduce", 256e6, 8, True)
    assert large == pytest.approx(8.4e-6 + 14 * 3.4e-6 + 256e6 * 14 / 8 / (450e9 * 0.82), rel=1e-9)
    tp8 = iteration_time_s(LLAMA70B, Replica(tp=8), h100_dgx(), Iteration(decode=1, decode_context=1024))
    tp8_free = iteration_time_s(LLAMA70B, Replica(tp=8), System(H100_SXM, lambda *a: 0.0, 8),
                                Iteration(decode=1, decode_context=1024))
    assert tp8 - tp8_free == pytest.approx(160 * small + DGX_H100("all-gather", 128256 * 2, 8, True), rel=1e-6)


def test_moe_decode_reads_only_the_experts_its_tokens_touch() -> None:
    replica = Replica(tp=8, precision="fp8")
    one = decode_step_time_s(DEEPSEEK, replica, System(B200, DGX_H100, 8), 1, 1024)
    many = decode_step_time_s(DEEPSEEK, replica, System(B200, DGX_H100, 8), 256, 1024)
    all_weights_s = param_counts(DEEPSEEK).total / 8 / (B200.hbm_bytes_per_s * 0.9)
    assert one < 0.5 * all_weights_s < many  # 8 of 256 experts at batch 1; kernel fixed costs dominate


def test_serving_trades_interactivity_for_throughput() -> None:
    curve = serving_curve(LLAMA70B, Replica(tp=2), h100_dgx(), 1000, 1000, [1, 4, 16, 64, 256, 1024])
    assert np.all(np.diff(curve.tpot_s) >= 0)
    assert np.all(np.diff(curve.tokens_per_s_per_user) <= 0)
    assert np.all(np.diff(curve.tokens_per_s_per_gpu) >= -1e-9)
    assert curve.tokens_per_s_per_user == pytest.approx(1 / curve.tpot_s)
    saturated = [p for p in curve.points if p.concurrency > p.max_batch]
    assert saturated
    assert all(p.batch == p.max_batch for p in saturated)
    # Past the KV-cache limit only the queue grows: TTFT rises by (C - B)/lambda.
    first, last = saturated[0], saturated[-1]
    assert last.ttft_s - first.ttft_s == pytest.approx((last.concurrency - first.concurrency)
                                                       / first.requests_per_s)
    assert last.tokens_per_s_per_gpu == first.tokens_per_s_per_gpu
    direct = serve(LLAMA70B, Replica(tp=2), h100_dgx(), 1000, 1000, 1024)
    assert direct.ttft_s == pytest.approx(last.ttft_s)


def test_single_request_is_prefill_then_decode() -> None:
    replica = Replica(tp=2)
    point = serve(LLAMA70B, replica, h100_dgx(), 2000, 100, 1)
    assert point.ttft_s == pytest.approx(prefill_time_s(LLAMA70B, replica, h100_dgx(), 2000), rel=0.02)
    assert point.queue_s == 0.0
    step = decode_step_time_s(LLAMA70B, replica, h100_dgx(), 1, 2050)
    assert point.tpot_s == pytest.approx(step, rel=1e-9)


def test_slo_chooses_the_highest_throughput_meeting_it() -> None:
    curve = serving_curve(LLAMA8B, Replica(tp=1), h100_dgx(), 1000, 1000)
    best = operating_point(curve, max_tpot_s=0.020)
    assert best is not None
    assert best.tpot_s <= 0.020
    meeting = curve.tokens_per_s_per_gpu[curve.tpot_s <= 0.020]
    assert best.tokens_per_s_per_gpu == meeting.max()
    assert operating_point(curve) is not None
    assert operating_point(curve, max_tpot_s=1e-6) is None
    assert operating_point(curve, max_ttft_s=0.05).ttft_s <= 0.05  # type: ignore[union-attr]


KNOWN_MISSES = {"NIM 70B TP2 5000/500 C=5 TTFT", "NIM 70B TP2 5000/500 C=25 TTFT",
                "NIM 70B TP2 5000/500 C=100 throughput"}
"""Cases outside 15 %, reported in VALIDATION.md rather than tuned away. C=1 TTFT went from −14.1 to −15.4 % when
the H100 curves took their measured plateaus (FP8 0.709, BF16 0.803, for 0.70), then to −13.7 % (out of the
misses) when prefill attention took FlashAttention-3's measured curve (VALIDATION.md, "Fused attention"). With the
simulated closed loop (`serving_sim`) C=25 TTFT left the list and C=5 stayed, on the other side (−28.0 → +16.4 %;
VALIDATION.md). TRT-LLM 70B 1000/1000 left it (+15.6 → +13.2 %) when the `trtllm-bench` rows were simulated as
the tool runs them (`serving_sim.simulate_offline` with `published_inference.trtllm_bench_replica`). When every
GPU's GEMM plateau became its measured ceiling x the A100 framework factor (H100 FP8 0.709 -> 0.571), C=1 TTFT went
-13.7 -> +0.8 % and the simulated burst's wait grew with the slower prefill: C=5 TTFT +16.4 -> +35.9 %, C=25 +1.5 ->
+18.4 % (back in the list): the synchronized-burst arrivals of a deterministic closed loop, not tuned
(VALIDATION.md). C=100 throughput went −14.7 → −15.7 % when the fused attention curves took the factor k too
(prefill attention of 5,000-token prompts slower)."""


@pytest.mark.parametrize("case", ALL_SERVING_CASES, ids=lambda c: c.name)
def test_published_serving_within_15_percent(case: ServingCase) -> None:
    limit = 0.45 if case.name in KNOWN_MISSES else 0.15  # misses must not drift further unnoticed
    assert abs(case.error) <= limit, f"{case.name}: predicted {case.predict():.4g}, measured {case.measured}"


def test_known_inference_misses_are_still_misses() -> None:
    # When the model improves past 15 % on these, move them out of KNOWN_MISSES and update VALIDATION.md.
    assert all(abs(c.error) > 0.15 for c in ALL_SERVING_CASES if c.name in KNOWN_MISSES)
    assert not any(c.calibration for c in ALL_SERVING_CASES)


def test_cuda_graph_padding_runs_a_decode_only_batch_at_the_captured_size() -> None:
    # TensorRT-LLM's padded CUDA graphs: 200 decoding requests run the linear ops, all-reduces and logits of the
    # 256-request graph; the attention reads only the 200 real caches, so the extra time does not depend on the
    # context. At a captured size, with a prompt in the iteration, or above the largest size: no padding.
    graphs = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    plain, padded = Replica(tp=2), Replica(tp=2, cuda_graph_batch_sizes=graphs)

    def extra_s(step: Iteration) -> float:
        return iteration_time_s(LLAMA70B, padded, h100_dgx(), step) - iteration_time_s(LLAMA70B, plain, h100_dgx(),
                                                                                         step)

    short, long = extra_s(Iteration(decode=200, decode_context=1000)), extra_s(Iteration(decode=200,
                                                                                          decode_context=8000))
    assert short > 0
    assert short == pytest.approx(long, rel=1e-9)
    assert padded.run_tokens(Iteration(decode=200)) == 256
    assert extra_s(Iteration(decode=256, decode_context=1000)) == 0.0
    assert extra_s(Iteration(decode=200, decode_context=1000, chunks=1, chunk_tokens=500, chunk_context=500)) == 0.0
    assert extra_s(Iteration(decode=300, decode_context=1000)) == 0.0


def test_trtllm_bench_settings_by_hand() -> None:
    # tensorrt_llm/bench/build/tuning.py on an H100 (NVML 81559 MiB), FP8 weights and KV cache, fraction 0.90.
    # 70B TP2 1000/1000: R = 0.9·(2·79.647 − 70.554e9/2^30 GiB) / (2·80·max(2, 8)·128 B/2^30 · 2000) = 276.0
    # requests: cap 128·⌈276/128⌉ = 384; n = 276·2 = 552 → 2048 (the floor), ≥ 1000 + 384.
    assert trtllm_bench_settings(LLAMA70B, 2, 1000, 1000, device_gib=H100_NVML_GIB) == (384, 2048)
    # 8B TP1 2048/128: R = 0.9·(79.647 − 8.030e9/2^30) / (2·32·8·128 B/2^30 · 2176) = 489.0: cap 512;
    # n = 489.0·(1 + 16) = 8313.8 → 1024·⌈8.12⌉ = 9216.
    assert trtllm_bench_settings(LLAMA8B, 1, 2048, 128, device_gib=H100_NVML_GIB) == (512, 9216)
    # 8B TP1 128/128: R > 4096 is capped at 4096 (cap 4096, n = 8192); 70B 20000/2000: cap at its floor 64, and
    # without chunked prefill the budget takes a whole prompt beside the cap, 20000 + 64.
    assert trtllm_bench_settings(LLAMA8B, 1, 128, 128, device_gib=H100_NVML_GIB) == (4096, 8192)
    assert trtllm_bench_settings(LLAMA70B, 2, 20000, 2000, device_gib=H100_NVML_GIB) == (64, 20064)
