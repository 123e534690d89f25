"""MoE serving with expert parallelism and attention data parallelism: memory and all-to-all by hand, DeepSeek's figure.

Published check: DeepSeek's inference-system overview (Open Source Week day 6, 2025-03-01, as transcribed at
aiposthub.cc/5152 and aigc.openbot.ai "DeepSeek OpenSourceWeek Day 6"): decoding on H800 with routed experts EP144 and
MLA / shared expert DP144 (18 nodes, 2 routed experts + 1 shared per GPU, 32 redundant experts), 14.8k output tokens/s
per H800 node at an average 20-22 tokens/s per user. The context length per request is not published.
"""

from __future__ import annotations

import pytest

from racksim.errors import InputError
from racksim.perf.inference import Iteration, Replica, decode_step_time_s, iteration_time_s, serving_memory
from racksim.perf.memory import GB
from racksim.perf.model import bundled_model
from racksim.perf.params import param_counts
from racksim.perf.published import h800_cluster
from racksim.perf.training import System

DEEPSEEK = bundled_model("deepseek-v3")
EP144 = Replica(tp=1, ep=144, precision="fp8", kv_precision="fp8")
DEEPSEEK_NODE_TOKENS_S = 14_800.0
TPOT_S = 1 / 21  # 20-22 tokens/s per user


def test_expert_parallel_memory_by_hand() -> None:
    # Each GPU holds every non-expert weight and ceil(256 / 144) = 2 routed experts per MoE layer, 1 byte each in FP8;
    # its KV cache holds its own requests, so the replica's batch is 144 times one GPU's.
    acc = h800_cluster().accelerator
    counts = param_counts(DEEPSEEK)
    routed = DEEPSEEK.moe_layers * DEEPSEEK.experts * counts.expert
    memory = serving_memory(DEEPSEEK, EP144, acc)
    assert memory.weights_gb == pytest.approx((counts.total - routed + DEEPSEEK.moe_layers * 2 * counts.expert) / GB)
    assert memory.max_batch(4096) == memory.kv_tokens // 4096 * 144


def test_expert_parallel_all_to_all_by_hand() -> None:
    # 144 ranks of 8 per node, 1,440 decoding requests: 10 tokens per GPU, k = 8 copies of h = 7168 values, dispatched
    # at 1 byte (FP8) and combined at 2, once each per MoE layer (timed once, counted 58 times); no tensor-parallel
    # all-reduce.
    calls: list[tuple[str, float, int, bool, int]] = []

    def recorder(kind: str, size: float, n: int, inside: bool, per_domain: int = 1) -> float:
        calls.append((kind, size, n, inside, per_domain))
        return 1e-4

    base = h800_cluster()
    with_comm = iteration_time_s(DEEPSEEK, EP144, System(base.accelerator, recorder, 8), Iteration(1440.0, 4096))
    without = iteration_time_s(DEEPSEEK, EP144, System(base.accelerator, lambda *a, **k: 0.0, 8),
                               Iteration(1440.0, 4096))
    tokens = 10 * 8 * 7168
    assert calls == [("all-to-all", tokens * 1.0, 144, False, 8), ("all-to-all", tokens * 2.0, 144, False, 8)]
    assert with_comm - without == pytest.approx(2 * 58 * 1e-4)


def test_expert_parallelism_needs_an_moe_model() -> None:
    with pytest.raises(InputError, match="ep: expert parallelism 8 needs an MoE model"):
        serving_memory(bundled_model("llama3-70b"), Replica(ep=8), h800_cluster().accelerator)


def _decode_tokens_per_s_per_gpu(context: int) -> float:
    """Output tokens/s per GPU at the largest batch whose decode step meets 20-22 tokens/s per user (bisection)."""
    system = h800_cluster()
    low, high = 1, serving_memory(DEEPSEEK, EP144, system.accelerator).max_batch(context) // 144
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if decode_step_time_s(DEEPSEEK, EP144, system, mid * 144, context) <= TPOT_S \
            else (low, mid)
    return low / decode_step_time_s(DEEPSEEK, EP144, system, low * 144, context)


def test_deepseek_decode_throughput_per_node_brackets_the_published_figure() -> None:
    # Partly known: the context per request is not published. Over contexts of 2k-8k tokens racksim gives
    # 13.3k-18.8k output tokens/s per node (8 GPUs) at TPOT 1/21 s against DeepSeek's 14.8k, +12 % at 4k. Not
    # modelled, with opposite effects: DeepSeek's multi-token prediction and its all-to-all overlap.
    short, long = (8 * _decode_tokens_per_s_per_gpu(c) for c in (2048, 8192))
    assert long < DEEPSEEK_NODE_TOKENS_S < short
    assert long > 0.8 * DEEPSEEK_NODE_TOKENS_S
    assert short < 1.35 * DEEPSEEK_NODE_TOKENS_S


LLAMA70B = bundled_model("llama3-70b")


def test_pipeline_stage_memory_by_hand() -> None:
    # 80 layers on 3 stages: the largest holds 27, so weights and KV cache per GPU are 27/80 of one GPU's whole model.
    acc = h800_cluster().accelerator
    staged = serving_memory(LLAMA70B, Replica(tp=1, pp=3, precision="fp8"), acc)
    assert staged.weights_gb == pytest.approx(param_counts(LLAMA70B).total * 1.0 / GB * 27 / 80)
    assert staged.kv_bytes_per_token == pytest.approx(2 * 80 * 8 * 128 * 1.0 * 27 / 80)  # K and V, 8 KV heads of 128
    with pytest.raises(InputError, match="pp: pipeline parallelism 81"):
        serving_memory(LLAMA70B, Replica(pp=81), acc)


def test_pipeline_sends_one_micro_batch_per_stage_and_does_not_cut_batch_one_latency() -> None:
    # 64 decoding requests on 2 stages: 2 micro-batches of 32 tokens, each stage time followed by one send of
    # 32 x 8192 x 2 bytes; at batch 1 the token still crosses all 80 layers, so PP is no faster than one GPU.
    calls: list[tuple[str, float, int]] = []

    def recorder(kind: str, size: float, n: int, inside: bool, per_domain: int = 1) -> float:
        calls.append((kind, size, n))
        return 1e-5

    acc = h800_cluster().accelerator
    staged = Replica(tp=1, pp=2, precision="fp8")
    iteration_time_s(LLAMA70B, staged, System(acc, recorder, 8), Iteration(64.0, 2048))
    assert calls == [("send", 32 * 8192 * 2.0, 2)]
    system = h800_cluster()
    single = decode_step_time_s(LLAMA70B, Replica(tp=1, precision="fp8"), system, 1, 2048)
    assert decode_step_time_s(LLAMA70B, staged, system, 1, 2048) >= single
