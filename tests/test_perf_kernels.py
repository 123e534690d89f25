"""Kernel facts the training model takes from the GPU: Hopper's transposed FP8 copies, Blackwell's measured fused
attention (racksim/perf/VALIDATION.md, "NeMo Framework (Megatron-Bridge) pre-training")."""

from __future__ import annotations

import pytest

from racksim.perf.accelerator import GEMM_FRAMEWORK_FACTOR, Accelerator
from racksim.perf.layout import Layout
from racksim.perf.model import bundled_model
from racksim.perf.ops import Shard, layer_ops, op_time_s
from racksim.perf.training import step_shard
from tests.perf_fixtures import B200, GB200, GB300, H100_SXM, RUBIN


def test_hopper_quantize_writes_the_transposed_fp8_copy() -> None:
    """Hand calculation, Llama 3 8B, one 8192-token sequence, tp 1: the forward quantizes 8192 * (3 * 4096 + 14336)
    = 218,103,808 elements. Blackwell: 2 BF16 reads + 1 FP8 write = 5 bytes each, 1,090,519,040 bytes; Hopper's
    FP8 GEMMs take only the TN layout (Transformer Engine cublaslt_gemm.cu), so the cast also writes the transposed
    copy: 6 bytes, 1,308,622,848."""
    m = bundled_model("llama3-8b")
    for transposed, expected in ((False, 1_090_519_040), (True, 1_308_622_848)):
        ops = layer_ops(m, Shard(1, 8192, precision="fp8", fp8_current_scaling=True, fp8_transposed_copy=transposed))
        quantize = ops.select(frozenset(n for n in ops.name if n.startswith("quantize_")))
        assert quantize.bytes.sum() == pytest.approx(expected)
    # The GPU sets it: H100 yes; Blackwell (B200, GB200, GB300) and Rubin no; only under current scaling.
    assert H100_SXM.fp8_tn_only
    assert not any(a.fp8_tn_only for a in (B200, GB200, GB300, RUBIN))
    scaled = Layout(global_batch=1, seq_len=8192, precision="fp8", fp8_current_scaling=True)
    assert step_shard(scaled, H100_SXM).fp8_transposed_copy
    assert not step_shard(scaled, GB200).fp8_transposed_copy
    assert not step_shard(Layout(global_batch=1, seq_len=8192, precision="fp8"), H100_SXM).fp8_transposed_copy


@pytest.mark.parametrize(("acc", "fwd_tflops", "bwd_tflops"), [(GB200, 1574.0, 1332.0), (GB300, 1856.0, 1435.0)],
                         ids=["GB200", "GB300"])
def test_blackwell_attention_runs_at_the_measured_cudnn_rate(acc: Accelerator, fwd_tflops: float,
                                                             bwd_tflops: float) -> None:
    """Published check: cuDNN 9.22 SDPA, BF16, causal, 64/8 heads of 128, 8192 tokens (NVIDIA/cudnn-frontend
    benchmark/sdpa_benchmark_training/results/llama3.1/{gb200,gb300}/..._20260424_*.csv): GB200 1574 / 1332 TFLOP/s
    forward / backward, GB300 1856 / 1435, standalone kernel figures that take the framework factor k = 0.8053 (as
    the GEMM ceilings do). Hand calculation, Llama 3 70B (64 heads of 128, tp 1), one 8192-token sequence: scores
    FLOPs 2 * 8192 * 8192 * 64 * 128 / 2 = 5.498e11, forward at 1574 x 0.8053 = 1267.6 TFLOP/s on GB200: 433.7 us;
    backward 2.5x the FLOPs at 1332 x k. Below the GEMM curve's 1433.3 (GB200: eta = 0.7288 x 0.8053 = 0.5869,
    interpolated at 5.498e11) and 1543.5 TFLOP/s (GB300, eta 0.6331), so the kernel curve sets the time."""
    m = bundled_model("llama3-70b")
    core = layer_ops(m, Shard(1, 8192)).select(frozenset({"attn_scores"}))
    flops = 2 * 8192 * 8192 * 64 * 128 / 2
    assert core.flops[0] == pytest.approx(flops)
    k = GEMM_FRAMEWORK_FACTOR
    gemm_tflops = 2500.0 * float(acc.gemm_curve("bf16")(flops))
    assert op_time_s(core, acc, "bf16")[0] == pytest.approx(flops / (fwd_tflops * k * 1e12), rel=1e-3)
    assert op_time_s(core.backward(), acc, "bf16")[0] == pytest.approx(2.5 * flops / (bwd_tflops * k * 1e12), rel=1e-3)
    assert fwd_tflops * k < gemm_tflops == pytest.approx(1433.3 if acc is GB200 else 1543.5, rel=1e-3)
    if acc is GB200:
        assert op_time_s(core, acc, "bf16")[0] == pytest.approx(433.7e-6, rel=1e-3)
