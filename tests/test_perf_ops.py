"""Accelerators, efficiency curves, per-layer operations and the roofline, against hand calculations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from racksim.errors import InputError
from racksim.perf.accelerator import EfficiencyCurve, fixed_cost_curve
from racksim.perf.layout import Layout
from racksim.perf.model import bundled_model
from racksim.perf.ops import (
    ATTENTION_CORE,
    OpTable,
    Shard,
    head_ops,
    layer_ops,
    op_time_s,
    op_times_s,
    optimizer_ops,
)
from racksim.perf.published_inference import h100_dgx
from racksim.perf.training import model_flops, train_step
from tests.perf_fixtures import A100_SXM_80GB, GB200, GB300, H100_SXM, REFERENCE_ACCELERATORS


def test_reference_accelerators_are_dense_datasheet_figures() -> None:
    assert A100_SXM_80GB.peak("bf16") == pytest.approx(312e12)
    assert H100_SXM.peak("fp8") == pytest.approx(2 * H100_SXM.peak("bf16"))
    assert GB300.peak("fp4") == pytest.approx(1.5 * GB200.peak("fp4"))  # Blackwell Ultra: 1.5x dense FP4
    assert GB300.hbm_gb > GB200.hbm_gb
    with pytest.raises(ValueError, match="no fp8"):
        A100_SXM_80GB.peak("fp8")


def test_curve_interpolates_in_log_size_and_is_flat_beyond_its_ends() -> None:
    curve = EfficiencyCurve((1e6, 1e8), (0.2, 0.6), "test")
    np.testing.assert_allclose(curve(np.array([1e5, 1e6, 1e7, 1e8, 1e12])), [0.2, 0.2, 0.4, 0.6, 0.6])
    with pytest.raises(ValueError, match="increasing"):
        EfficiencyCurve((1e8, 1e6), (0.2, 0.6), "bad")
    with pytest.raises(ValueError, match="fractions"):
        EfficiencyCurve((1e6,), (1.2,), "bad")


def test_fixed_cost_curve_is_the_stated_equation() -> None:
    # fraction(x) = eta·x / (x + eta·peak·t0), exact at the sampled decades, within 3 % between them.
    curve = fixed_cost_curve(0.8, 1e14, 1e-5, "test")
    assert curve(np.array([1e9]))[0] == pytest.approx(0.8e9 / (1e9 + 0.8e9), rel=1e-12)
    assert curve(np.array([0.8e9]))[0] == pytest.approx(0.4, rel=0.03)
    assert curve(np.array([1e14]))[0] == pytest.approx(0.8, rel=1e-4)


def test_gpt_layer_flops_match_megatron_formula() -> None:
    # Forward matmul FLOPs of one GPT layer: 24·b·s·h² + 4·b·s²·h (Narayanan et al. 2021, §5.1).
    m = bundled_model("megatron-22b")
    b, s, h = 2, 2048, m.hidden_size
    ops = layer_ops(m, Shard(micro_batch=b, seq_len=s, flash_attention=False))
    assert ops.matmul_flops == pytest.approx(24 * b * s * h * h + 4 * b * s * s * h, rel=1e-9)
    # Tensor parallelism splits every matmul t ways; fused causal attention halves the s² part.
    tp = layer_ops(m, Shard(micro_batch=b, seq_len=s, tp=8, flash_attention=True))
    assert tp.matmul_flops == pytest.approx((24 * b * s * h * h + 2 * b * s * s * h) / 8, rel=1e-9)
    assert set(ops.select(ATTENTION_CORE).name) == {"attn_scores", "softmax", "attn_context"}


def test_model_flops_is_megatron_72_bslh2() -> None:
    # Korthikanti et al. 2022 §6: model FLOPs per iteration 72·B·s·l·h²·(1 + s/6h + V/12lh).
    m = bundled_model("megatron-175b")
    big_b, s, h, layers, v = 64, 2048, m.hidden_size, m.num_hidden_layers, m.vocab_size
    expected = 72 * big_b * s * layers * h * h * (1 + s / (6 * h) + v / (12 * layers * h))
    assert model_flops(m, big_b, s) == pytest.approx(expected, rel=1e-9)
    # Full recompute adds one forward of the layers: 96·B·s·l·h²(1 + s/6h) + 6·B·s·h·V.
    full = 96 * big_b * s * layers * h * h * (1 + s / (6 * h)) + 6 * big_b * s * h * v
    assert model_flops(m, big_b, s, "full") == pytest.approx(full, rel=1e-9)


def test_swiglu_has_three_matrices_and_gqa_shrinks_kv() -> None:
    m = bundled_model("llama3-8b")
    n, h, i = 4096, m.hidden_size, m.ffn_size
    ops = layer_ops(m, Shard(micro_batch=1, seq_len=n))
    flops = dict(zip(ops.name, ops.flops, strict=True))
    assert flops["mlp_in"] + flops["mlp_out"] == pytest.approx(2 * n * 3 * h * i)
    assert flops["qkv"] == pytest.approx(2 * n * h * (32 + 2 * 8) * 128)


def test_moe_layer_routes_top_k_experts_and_reads_local_expert_weights() -> None:
    m = bundled_model("deepseek-v3")
    n = 4096
    ops = layer_ops(m, Shard(micro_batch=1, seq_len=n), moe_layer=True, experts_local=32)
    flops = dict(zip(ops.name, ops.flops, strict=True))
    routed = 2 * n * m.top_k * 3 * m.hidden_size * m.expert_size
    assert flops["experts_in"] + flops["experts_out"] == pytest.approx(routed)
    weight_bytes = dict(zip(ops.name, ops.bytes, strict=True))["experts_in"]
    assert weight_bytes > 32 * 2 * m.hidden_size * m.expert_size * 2  # 32 local experts' gate+up weights, bf16


def test_roofline_picks_the_slower_bound() -> None:
    acc = A100_SXM_80GB
    m = bundled_model("megatron-175b")
    ops = layer_ops(m, Shard(micro_batch=1, seq_len=2048, tp=8, flash_attention=False))
    times = op_time_s(ops, acc, "bf16")
    flops = dict(zip(ops.name, ops.flops, strict=True))
    t = dict(zip(ops.name, times, strict=True))
    # A big GEMM is compute-bound: time = F / (peak · eta(F)).
    eta = acc.gemm_efficiency(np.array([flops["mlp_in"]]))[0]
    assert t["mlp_in"] == pytest.approx(flops["mlp_in"] / (312e12 * eta))
    # A norm is memory-bound: time = bytes / (bandwidth · eta_mem(bytes)).
    nbytes = dict(zip(ops.name, ops.bytes, strict=True))["norm_attn"]
    assert t["norm_attn"] == pytest.approx(nbytes / (2.039e12 * acc.memory_efficiency(np.array([nbytes]))[0]))


def test_decode_sized_gemm_is_memory_bound_on_every_gpu() -> None:
    m = bundled_model("llama3-70b")
    ops = layer_ops(m, Shard(micro_batch=8, seq_len=1)).select(frozenset({"mlp_in"}))
    for acc in REFERENCE_ACCELERATORS.values():
        memory_s = ops.bytes[0] / (acc.hbm_bytes_per_s * acc.memory_efficiency(ops.bytes)[0])
        assert op_time_s(ops, acc, "bf16")[0] == pytest.approx(memory_s)


def test_head_and_optimizer_ops() -> None:
    m = bundled_model("llama3-8b")
    first, last = head_ops(m, Shard(micro_batch=1, seq_len=8192, tp=2))
    assert dict(zip(last.name, last.flops, strict=True))["logits"] == pytest.approx(2 * 8192 * 4096 * 128256 / 2)
    assert first.matmul_flops == 0
    assert optimizer_ops(1e9).bytes[0] == pytest.approx(34e9)


def test_fused_attention_runs_on_the_h100_flashattention3_curve() -> None:
    """Hand calculation, Llama 3 70B (64 heads of 128, tp 8), one 8192-token sequence, causal FlashAttention:
    scores FLOPs = 2 * (8192 * 8192 * 64/8) * 128 * 1/2 = 6.872e10; each op takes the lower of the GEMM curve and
    the H100 design's FlashAttention-3 curve x k (a standalone kernel benchmark, k = 0.8053 as for the GEMM
    ceilings). Forward: FA3 gives 0.6084 at 8k (602 / 989.5 TFLOP/s, causal, head dim 128), x k = 0.4900; the BF16
    GEMM curve (eta = 0.8033 x 0.8053 = 0.6469, eta*peak*t0 = 3.2006e9 FLOPs) is 0.4901 at 1e10 and 0.6268 at 1e11,
    interpolated at log10(6.872e10) - 10 = 0.8371 to 0.6046, so the kernel's: 6.872e10 / (989.5e12 * 0.4900) =
    141.75 us. Backward (2.5x FLOPs: five matmuls for the forward's two, the count FlashAttention's benchmarks divide
    by): FA3 0.5649 (559 / 989.5) x k = 0.4549 against the GEMM curve's 0.631 at 1.718e11, so 1.718e11 /
    (989.5e12 * 0.4549) = 381.66 us. The FlashAttention-3 paper's own figures are the check."""
    m = bundled_model("llama3-70b")
    ops = layer_ops(m, Shard(micro_batch=1, seq_len=8192, tp=8))
    core = ops.select(ATTENTION_CORE)
    assert core.name == ("attn_scores", "attn_context")
    assert core.attention_keys == 8192
    assert core.flops[0] == pytest.approx(6.872e10, rel=1e-3)
    assert op_time_s(core, H100_SXM, "bf16") == pytest.approx([141.75e-6] * 2, rel=1e-3)
    assert op_time_s(core.backward(), H100_SXM, "bf16") == pytest.approx([381.66e-6] * 2, rel=1e-3)
    # Unfused attention keeps its probabilities: its backward is 2x the forward FLOPs, like the other matmuls.
    unfused = layer_ops(m, Shard(micro_batch=1, seq_len=8192, tp=8, flash_attention=False))
    np.testing.assert_allclose(unfused.backward().flops, 2.0 * unfused.flops)
    np.testing.assert_allclose(ops.backward().flops, np.where([n in ATTENTION_CORE for n in ops.name], 2.5, 2.0)
                               * ops.flops)
    # The other matmuls, A100 (no attention curve) and H100 FP8 (none at FP8) stay on their GEMM curves.
    qkv = ops.select(frozenset({"qkv"}))
    assert op_time_s(qkv, H100_SXM, "bf16")[0] == pytest.approx(
        qkv.flops[0] / (989.5e12 * H100_SXM.gemm_curve("bf16")(qkv.flops)[0]))
    for acc, precision in ((A100_SXM_80GB, "bf16"), (H100_SXM, "fp8")):
        eta = acc.gemm_curve(precision)(core.flops)
        np.testing.assert_allclose(op_time_s(core, acc, precision), core.flops / (acc.peak(precision) * eta))
    # Keys per query row: the context of a prefill chunk; none for decode (one row) or unfused attention.
    assert layer_ops(m, Shard(1, 512, 8, context_len=4096)).attention_keys == 4096
    assert layer_ops(m, Shard(1, 1, 8, context_len=4096)).attention_keys == 0
    assert layer_ops(m, Shard(1, 8192, 8, flash_attention=False)).attention_keys == 0


def test_fp8_training_keeps_attention_and_logits_in_bf16() -> None:
    """Megatron-Core under an FP8 recipe runs dot-product attention in BF16 (TransformerConfig
    `fp8_dot_product_attention` False) and the output layer outside Transformer Engine (`fp8_output_proj` False).
    Hand calculation, the case above in an FP8 layout: the attention ops keep their BF16 time, 141.75 us forward,
    not 6.872e10 / (1979e12 * 0.5116) = 67.9 us on the FP8 GEMM curve (0.5116 at 6.872e10 FLOPs: eta = 0.7087 x
    0.8053 = 0.5707, interpolated in log10 between 0.3647 at 1e10 and 0.5402 at 1e11); the QKV projection stays FP8."""
    m = bundled_model("llama3-70b")
    ops = layer_ops(m, Shard(micro_batch=1, seq_len=8192, tp=8, precision="fp8"))
    core, qkv = ops.select(ATTENTION_CORE), ops.select(frozenset({"qkv"}))
    assert op_time_s(core, H100_SXM, "fp8", "bf16") == pytest.approx([141.75e-6] * 2, rel=1e-3)
    # FP8 attention (fp8_dot_product_attention True)
    assert op_time_s(core, H100_SXM, "fp8") == pytest.approx([67.87e-6] * 2, rel=1e-3)
    assert op_time_s(qkv, H100_SXM, "fp8", "bf16")[0] == pytest.approx(
        qkv.flops[0] / (1979e12 * H100_SXM.gemm_curve("fp8")(qkv.flops)[0]), rel=1e-3)
    fp8 = Layout(global_batch=1, seq_len=8192, precision="fp8")
    assert (fp8.attention_precision, fp8.output_precision) == ("bf16", "bf16")
    opted = replace(fp8, fp8_attention=True, fp8_output_layer=True)
    assert (opted.attention_precision, opted.output_precision) == ("fp8", "fp8")
    assert Layout(global_batch=1, seq_len=8192, fp8_attention=True).attention_precision == "bf16"


def test_train_step_times_fp8_attention_and_logits_at_bf16() -> None:
    """One 8192-token sequence of Llama 3 8B on one H100 (p = 1, one micro-batch, no recompute): the step's
    difference between the default and an all-FP8 layout is 32 layers' attention forward and backward plus the
    output layer's forward and backward, each at BF16 minus at FP8."""
    m, system = bundled_model("llama3-8b"), h100_dgx()
    fp8 = Layout(global_batch=1, seq_len=8192, precision="fp8")
    opted = replace(fp8, fp8_attention=True, fp8_output_layer=True)
    core = layer_ops(m, Shard(1, 8192, precision="fp8")).select(ATTENTION_CORE)
    last = head_ops(m, Shard(1, 8192, precision="fp8"))[1]

    def both_passes(ops: OpTable, precision: str, attention: str) -> float:
        return float(op_time_s(ops, H100_SXM, precision, attention).sum()
                     + op_time_s(ops.backward(), H100_SXM, precision, attention).sum())

    expected = (32 * (both_passes(core, "fp8", "bf16") - both_passes(core, "fp8", "fp8"))
                + both_passes(last, "bf16", "bf16") - both_passes(last, "fp8", "fp8"))
    default_s = train_step(m, fp8, system, check_memory=False).step_time_s
    opted_s = train_step(m, opted, system, check_memory=False).step_time_s
    assert expected > 0.0
    assert default_s - opted_s == pytest.approx(expected, rel=1e-6)


def test_fp8_current_scaling_quantizes_every_linear_input_and_output_gradient() -> None:
    """Hand calculation, Llama 3 8B (h 4096, 8 KV heads of 128, MLP 14336), one 8192-token sequence, tp 1: forward
    quantizes the inputs of QKV, output projection, MLP in and out, 8192 * (3 * 4096 + 14336) elements; backward
    their output gradients, 8192 * (6144 + 4096 + 2 * 14336 + 4096); 5 bytes each (two BF16 reads, one FP8 write,
    Transformer Engine's current scaling): 1,090,519,040 and 1,761,607,680 bytes per layer."""
    m = bundled_model("llama3-8b")
    ops = layer_ops(m, Shard(1, 8192, precision="fp8", fp8_current_scaling=True))
    names = frozenset(n for n in ops.name if n.startswith("quantize_"))
    assert names == {"quantize_qkv", "quantize_out_proj", "quantize_mlp_in", "quantize_mlp_out"}
    quantize = ops.select(names)
    assert quantize.bytes.sum() == pytest.approx(1_090_519_040)
    assert quantize.backward().bytes.sum() == pytest.approx(1_761_607_680)
    assert not quantize.matmul.any()
    # The other ops keep their 2x backward; without the flag (inference, delayed scaling) nothing is added.
    others = ops.select(frozenset(ops.name) - names)
    np.testing.assert_allclose(others.backward().bytes, 2 * others.bytes)
    assert layer_ops(m, Shard(1, 8192, precision="fp8")).name == others.name
    moe = layer_ops(bundled_model("deepseek-v3"), Shard(1, 4096, precision="fp8", fp8_current_scaling=True), True)
    assert "quantize_experts_in" in moe.name
    assert "quantize_router" not in moe.name  # the router stays unquantized


def test_train_step_adds_the_quantize_kernels_of_each_layer() -> None:
    """One 8192-token sequence of Llama 3 8B on one H100 (one micro-batch, no recompute): current scaling adds 32
    layers' quantize kernels, forward and backward, on the HBM roofline, each also writing Hopper's transposed FP8
    copy (6 bytes per element); BF16 has nothing to quantize."""
    m, system = bundled_model("llama3-8b"), h100_dgx()
    plain = Layout(global_batch=1, seq_len=8192, precision="fp8")
    ops = layer_ops(m, Shard(1, 8192, precision="fp8", fp8_current_scaling=True, fp8_transposed_copy=True))
    quantize = ops.select(frozenset(n for n in ops.name if n.startswith("quantize_")))
    expected = 32 * float(op_time_s(quantize, H100_SXM, "fp8").sum() + op_time_s(quantize.backward(), H100_SXM,
                                                                                   "fp8").sum())
    scaled_s = train_step(m, replace(plain, fp8_current_scaling=True), system, check_memory=False).step_time_s
    assert scaled_s - train_step(m, plain, system, check_memory=False).step_time_s == pytest.approx(expected, rel=1e-6)
    # By hand: 8 kernels a layer at T = 5 us + bytes / (0.9 * 3.35 TB/s), 6/5 of the bytes above, 32 * 1175 us =
    # 37.6 ms (the design's curve interpolates the fixed-cost model between decades).
    assert expected == pytest.approx(32 * (8 * 5e-6 + 1.2 * (1_090_519_040 + 1_761_607_680) / (0.9 * 3.35e12)),
                                     rel=0.02)
    bf16 = replace(plain, precision="bf16", fp8_current_scaling=True)  # nothing to quantize in BF16
    assert train_step(m, bf16, system, check_memory=False).step_time_s == pytest.approx(
        train_step(m, replace(bf16, fp8_current_scaling=False), system, check_memory=False).step_time_s)


def test_block_scaled_fp8_quantizes_once_into_two_copies() -> None:
    """Hand calculation, the same Llama 3 8B layer as current scaling (forward 8192 * 26624 elements, backward
    8192 * 43008): DeepSeek's 1x128 tiles and MXFP8 read each BF16 element once and write the row-wise and the
    transposed FP8 copy with their scales, 2 + 2 * (1 + 4/128) = 2 + 2 * (1 + 1/32) = 4.0625 bytes:
    886,046,720 and 1,431,306,240 bytes per layer (current scaling: 5 bytes)."""
    m = bundled_model("llama3-8b")
    for recipe in ("deepseek", "mxfp8"):
        ops = layer_ops(m, Shard(1, 8192, precision="fp8", fp8_block_scaling=recipe))
        quantize = ops.select(frozenset(n for n in ops.name if n.startswith("quantize_")))
        assert len(quantize.name) == 4
        assert quantize.bytes.sum() == pytest.approx(886_046_720)
        assert quantize.backward().bytes.sum() == pytest.approx(1_431_306_240)


def test_deepseek_block_scaling_runs_the_gemms_on_the_block_curve() -> None:
    """Layout.fp8_block_scaling 'deepseek' times the linear GEMMs on the H100's block-scaled curve (a 1e12-FLOP GEMM
    at 5 us + 1e12 / (0.529 * 1979e12) = 0.960 ms, per-tensor FP8 0.718 ms) and adds the quantize kernels; MXFP8
    keeps the FP8 curve; either needs precision fp8 without current scaling."""
    ops = OpTable(("gemm",), np.array([1e12]), np.array([1e6]), np.array([True]))
    assert op_time_s(ops, H100_SXM, "fp8_block")[0] == pytest.approx(9.60e-4, rel=5e-3)
    m, system = bundled_model("llama3-8b"), h100_dgx()
    plain = Layout(global_batch=1, seq_len=8192, precision="fp8")
    block = replace(plain, fp8_block_scaling="deepseek")
    assert (plain.matmul_precision, block.matmul_precision) == ("fp8", "fp8_block")
    assert replace(plain, fp8_block_scaling="mxfp8").matmul_precision == "fp8"
    times = [train_step(m, layout, system, check_memory=False).step_time_s
             for layout in (plain, replace(plain, fp8_block_scaling="mxfp8"), block)]
    assert times[0] < times[1] < times[2]
    for bad in (replace(block, precision="bf16"), replace(block, fp8_current_scaling=True)):
        with pytest.raises(InputError, match="fp8_block_scaling"):
            train_step(m, bad, system, check_memory=False)


def test_routed_experts_run_as_one_gemm_per_local_expert() -> None:
    """The GEMM curve reads one expert's GEMM. DeepSeek-V3 training, 4,096 tokens, EP 64 (4 local experts of 8,192
    rows): experts_in is 2 * 32768 * 7168 * 4096 = 1.924e12 FLOPs as 4 GEMMs of 4.81e11, by hand 4 * 5 us +
    1.924e12 / (0.6469 * 989.5e12) = 3.026 ms at BF16 on H100 (eta = the BF16 ceiling 0.8033 x k; the design's
    curve, interpolated between decades: 3.043 ms). Serving 1,024 tokens that touch 128 experts on one GPU (64 rows
    each): experts too small to fill a wave of output tiles share it, 8192 * 4096 / (132 * 128 * 128) = 15.5 GEMMs
    for the gate-up projection (4.810e11 / (989.5e12 * 0.5573) = 0.872 ms, the curve read at one GEMM of 3.10e10
    FLOPs, against 4.810e11 / (989.5e12 * 0.6391) = 0.761 ms as one GEMM), 8192 * 7168 / (132 * 128 * 128) = 27.2
    for the down projection. Sixteen decoding tokens (128 routed rows, under one wave) run as one GEMM."""
    m = bundled_model("deepseek-v3")
    train = layer_ops(m, Shard(1, 4096), True, 4)
    experts = train.select(frozenset({"experts_in"}))
    assert experts.flops[0] == pytest.approx(2 * 32768 * 7168 * 4096)
    assert experts.gemm_size[0] == pytest.approx(experts.flops[0] / 4)
    compute_s = op_times_s(experts, H100_SXM, "bf16")[0][0]
    assert compute_s == pytest.approx(4 * 5e-6 + experts.flops[0] / (0.6469 * 989.5e12), rel=0.01)
    assert experts.backward().gemm_size[0] == pytest.approx(2 * experts.gemm_size[0])  # grouped backward too
    serve = layer_ops(m, Shard(1, 1024), True, 128.0).select(frozenset({"experts_in", "experts_out", "shared_in"}))
    assert serve.groups is not None
    np.testing.assert_allclose(serve.groups, [8192 * 4096 / (132 * 128 * 128), 8192 * 7168 / (132 * 128 * 128), 1])
    one_gemm = replace(serve, groups=None)
    grouped_s, single_s = op_times_s(serve, H100_SXM, "bf16")[0], op_times_s(one_gemm, H100_SXM, "bf16")[0]
    assert grouped_s[0] == pytest.approx(8.72e-4, rel=0.01)
    assert single_s[0] == pytest.approx(7.61e-4, rel=0.01)
    assert grouped_s[2] == single_s[2]  # the shared expert is one GEMM
    assert layer_ops(m, Shard(1, 16), True, 32.0).groups is None


def test_training_moe_layers_permute_and_combine_their_routed_tokens() -> None:
    """Hand calculation, DeepSeek-V3 (h 7168, k 8), one 4,096-token micro-batch: the permutation copies 32,768
    routed rows, 2 * 2 * 32768 * 7168 = 939,524,096 bytes (backward: the same inverse copy); the combine reads the
    8 outputs and writes one per token, 2 * (32768 + 4096) * 7168 = 528,482,304 bytes, 2 * 32768 * 7168 FLOPs
    (backward: (4096 + 2 * 32768) / (4096 + 32768) = 17/9 of that). Serving shards (moe_permute False) have neither."""
    m = bundled_model("deepseek-v3")
    ops = layer_ops(m, Shard(1, 4096, moe_permute=True), True, 4)
    moved = ops.select(frozenset({"experts_permute", "experts_combine"}))
    np.testing.assert_allclose(moved.bytes, [939_524_096, 528_482_304])
    np.testing.assert_allclose(moved.backward().bytes, [939_524_096, 528_482_304 * 17 / 9])
    assert moved.flops[1] == pytest.approx(2 * 32768 * 7168)
    assert not moved.matmul.any()
    assert "experts_permute" not in layer_ops(m, Shard(1, 4096), True, 4).name
    assert "experts_permute" not in layer_ops(m, Shard(1, 4096, moe_permute=True)).name  # dense layer
