"""Bytes each GPU sends per training step, counted from the collectives the step model times: hand calculations."""

from __future__ import annotations

import dataclasses

import pytest

from racksim.perf.comm import DGX_A100, link_bytes
from racksim.perf.layout import Layout
from racksim.perf.memory import stage_params
from racksim.perf.model import bundled_model
from racksim.perf.ops import BYTES_ACT
from racksim.perf.params import param_counts
from racksim.perf.published import a100_dgx
from racksim.perf.training import System, train_step
from racksim.physics.operating_point import Activity
from racksim.workload.training_model import StepActivity, step_phases

M8 = bundled_model("llama3-8b")
NVL72 = System(a100_dgx().accelerator, DGX_A100, 72)
"""One 72-GPU scale-up domain (the alpha-beta timer; the bytes do not depend on the timer)."""
ZERO3_72 = Layout(global_batch=144, seq_len=4096, micro_batch=1, dp=72, zero=3)


def test_link_bytes_by_hand() -> None:
    # Bus bytes f·S: all-reduce 2(n−1)/n, gather/scatter (n−1)/n. 32 ranks, 8 per node: 1 ring hop in 8 leaves.
    assert link_bytes("all-reduce", 1e9, 8, True) == pytest.approx((2 * 7 / 8 * 1e9, 0.0))
    bus = 2 * 31 / 32 * 1e9
    assert link_bytes("all-reduce", 1e9, 32, False, 8) == pytest.approx((bus * 7 / 8, bus / 8))
    assert link_bytes("reduce-scatter", 1e9, 32, False, 1) == pytest.approx((0.0, 31 / 32 * 1e9))  # a rail
    assert link_bytes("all-to-all", 1e9, 32, False, 8) == pytest.approx((7 / 32 * 1e9, 24 / 32 * 1e9))
    assert link_bytes("send", 1e9, 2, False, 2) == (0.0, 1e9)
    assert link_bytes("all-gather", 1e9, 1, True) == (0.0, 0.0)


@pytest.mark.parametrize("gather", ["layer", "tensor"])
def test_zero3_on_one_nvl72_by_hand(gather: str) -> None:
    # ZeRO 3 over 72 GPUs of one NVLink domain, Llama 3 8B (8.03 B parameters, Meta's model card), 144 sequences at
    # b = 1: m = 144 / 72 = 2 micro-batches. Each micro-batch gathers every layer's bf16 weights before its forward
    # and again before its backward and reduce-scatters its fp32 gradients: per GPU per step
    # m · (2 · 2 B + 4 B) · P · 71/72 bytes, all over NVLink, whether one collective per layer or per matrix; per
    # matrix (DeepSpeed's per-tensor ZeRO 3) the layers' norms stay gathered: 2 · 4096 per layer fewer gathered.
    params = sum(stage_params(M8, ZERO3_72))
    assert params == pytest.approx(param_counts(M8).total)
    assert params == pytest.approx(8.03e9, rel=0.005)
    layout = dataclasses.replace(ZERO3_72, zero3_gather=gather)  # type: ignore[arg-type]
    step = train_step(M8, layout, NVL72, check_memory=False)
    expected_gbyte = 2 * (2 * 2 + 4) * params * 71 / 72 / 1e9
    assert expected_gbyte == pytest.approx(2 * 8 * 8.03 * 71 / 72, rel=0.005)  # ≈ 127 GB per GPU per step
    if gather == "tensor":
        expected_gbyte -= 2 * 2 * 2 * (32 * 2 * 4096) * 71 / 72 / 1e9
    assert step.traffic.dp_gbyte == pytest.approx((expected_gbyte, 0.0), rel=1e-9)
    assert step.traffic.layers_gbyte == (0.0, 0.0)  # no TP, CP, EP or PP


def test_zero1_sends_the_gradients_and_weights_once_per_step() -> None:
    # Megatron's distributed optimizer: one fp32 gradient reduce-scatter and one bf16 weight all-gather per step,
    # whatever the micro-batches: (4 + 2) B · P · 71/72.
    step = train_step(M8, dataclasses.replace(ZERO3_72, zero=1), NVL72, check_memory=False)
    params = sum(stage_params(M8, ZERO3_72))
    assert step.traffic.dp_gbyte == pytest.approx((6 * params * 71 / 72 / 1e9, 0.0), rel=1e-9)


def test_tensor_and_pipeline_traffic_by_hand() -> None:
    # TP 4 without sequence parallelism: 2 all-reduces forward, 2 backward per layer and micro-batch, each rank
    # sending 2·3/4 of M = b·s·h·2 B; PP 2: 2 sends of M/4 per micro-batch (v = 1); 16 layers on a stage.
    layout = Layout(global_batch=16, seq_len=4096, micro_batch=1, tp=4, pp=2, dp=1, zero=0)
    step = train_step(M8, layout, System(a100_dgx().accelerator, DGX_A100, 8), check_memory=False)
    message = 4096 * M8.hidden_size * BYTES_ACT
    mb = layout.microbatches
    expected = mb * 16 * 4 * 2 * 3 / 4 * message + 2 * mb * message / 4
    assert step.traffic.layers_gbyte == pytest.approx((expected / 1e9, 0.0), rel=1e-9)
    assert step.traffic.dp_gbyte == (0.0, 0.0)  # dp = 1


def test_data_parallel_across_two_racks_sends_one_hop_in_72_over_the_nics() -> None:
    # dp 144 over two 72-GPU domains, 72 ranks in each: 1 in 72 of each rank's ring bytes leaves the rack.
    layout = dataclasses.replace(ZERO3_72, global_batch=288, dp=144, zero=1)
    step = train_step(M8, layout, NVL72, check_memory=False)
    bus = 6 * sum(stage_params(M8, layout)) * 143 / 144 / 1e9
    assert step.traffic.dp_gbyte == pytest.approx((bus * 71 / 72, bus / 72), rel=1e-9)


@pytest.mark.parametrize("dp_s", [0.0, 0.2])
def test_the_phases_carry_all_of_the_step_traffic(dp_s: float) -> None:
    """Layer traffic on the layer communication, data-parallel on the reduction, or on the compute when hidden."""
    step = train_step(M8, dataclasses.replace(ZERO3_72, tp=2, dp=36), NVL72, check_memory=False)
    breakdown = dataclasses.replace(step.breakdown, dp_comm_s=dp_s)
    busy = Activity(0.5, 0.3, 0.5)
    phases = step_phases(breakdown, 4, StepActivity(busy, busy, busy, busy), step.traffic)
    up = sum(p.scale_up_gbyte_per_gpu for p in phases)
    out = sum(p.scale_out_gbyte_per_gpu for p in phases)
    assert (up, out) == pytest.approx(step.traffic.total_gbyte, rel=1e-12)
    assert step.traffic.dp_gbyte[0] > 0
    assert step.traffic.layers_gbyte[0] > 0


def test_context_parallel_traffic_by_hand() -> None:
    # CP 2: per layer and micro-batch the keys and values (cp · b·s/cp tokens · 2 · 8 KV heads · 128 · 2 B) are
    # gathered forward, again backward, and their gradients reduce-scattered: 3 × KV · 1/2 per rank, 32 layers.
    layout = Layout(global_batch=4, seq_len=8192, micro_batch=1, cp=2, zero=0)
    step = train_step(M8, layout, NVL72, check_memory=False)
    kv = 8192 * 2 * M8.kv_heads * M8.d_head * BYTES_ACT
    assert (M8.kv_heads, M8.d_head) == (8, 128)
    assert step.traffic.layers_gbyte == pytest.approx((4 * 32 * 3 * kv / 2 / 1e9, 0.0), rel=1e-9)


def test_expert_parallel_traffic_by_hand() -> None:
    # DeepSeek-V3, EP 8 inside one domain: per MoE layer and micro-batch a dispatch and a combine forward and again
    # backward, each of b·s·k·h·2 B with 7/8 of it leaving the rank; 58 MoE layers of 61.
    m = bundled_model("deepseek-v3")
    layout = Layout(global_batch=8, seq_len=4096, micro_batch=1, dp=8, ep=8, zero=1)
    step = train_step(m, layout, NVL72, check_memory=False)
    assert (m.moe_layers, m.top_k) == (58, 8)
    message = 4096 * m.top_k * m.hidden_size * BYTES_ACT
    assert step.traffic.layers_gbyte == pytest.approx((1 * 58 * 4 * message * 7 / 8 / 1e9, 0.0), rel=1e-9)
