"""The operations of a transformer layer with their FLOPs and HBM bytes, and their time on the roofline.

One micro-batch of b sequences on one GPU: N = b·s/cp tokens, t-way tensor parallelism, elements of B = 2 bytes
(bf16 activations; weights read at the matmul precision's width). FLOPs count a multiply-add as 2.

Forward, per layer (h hidden, a heads, g KV heads, d head width, i MLP width, m matrices per MLP):

- QKV projection 2·N·P_qkv/t, output projection 2·N·a·d_v·h/t (P_qkv: the attention's parameters other than the
  output projection, so GQA and DeepSeek's latent attention count what they have);
- attention scores 2·b·(s/cp)·s·(a/t)·d and context 2·b·(s/cp)·s·(a/t)·d_v, times c. **Convention**: c = 1/2 with
  fused causal attention (FlashAttention skips the masked half), c = 1 without (Megatron-LM 2021-22 computed the
  full s×s products and masked them; their FLOP formula 72·B·s·l·h²(1 + s/6h + V/12lh) counts the full s² too, and
  so does `model_flops` here, whatever the kernel does);
- attention over a KV cache (inference: `Shard.context_len` = c keys visible to the last of the s query tokens,
  decode s = 1, a prefill chunk s > 1): each query sees c − (s − 1)/2 keys on average, so scores
  2·b·s·(c − (s−1)/2)·(a/t)·d and context the same with d_v, no causal halving; the cache is read once per
  sequence, b·c·2·g_t·d·B_kv bytes (g_t = max(1, g/t) KV heads per GPU, B_kv = `Shard.kv_bytes`). Multi-head
  latent attention reads its latent instead, b·c·(r_kv + d_rope)·B_kv, replicated on every TP rank, with the
  up-projections absorbed (DeepSeek-V2 §2.1.2): scores over r_kv + d_rope and context over r_kv per head;
- MLP 2·N·m·h·i/t; an MoE layer routes each token to k experts of width i_e (2·N·k·m·h·i_e/t, balanced) plus the
  shared experts and a router 2·N·h·E. The routed experts run as one grouped GEMM of G equal GEMMs, one per local
  expert (the E/ep experts in training, those the tokens touch in inference), each of N·k/G rows, the GEMM curve
  read at one expert's FLOPs (`OpTable.groups`): G fixed costs, small per-expert GEMMs low on the curve, as
  DeepGEMM's masked grouped GEMMs measure (the same 6e10 FLOPs at 1233, 1040 and 932 TFLOP/s as 1, 2 and 4 groups
  of 1024, 512 and 256 rows, H800). Experts too small to fill a wave of output tiles run side by side: G is at most
  N·k·n / (132·128·128) for an output width n (`grouped_gemms`; Megatron-Core's GroupedMLP, DeepSeek's and
  DeepGEMM's grouped kernels run all local experts in one launch). In training (`Shard.moe_permute`) the routed
  tokens are copied into per-expert order before the experts, 2·N·k·h·B bytes, and their k outputs summed per token
  after, (N·k + N)·h·B bytes (backward: the inverse copy; the gradient's broadcast and the routing probabilities'
  gradient, (N + 2·N·k)·h·B);
- norms, activation, softmax (unfused attention only), dropout and residual adds as vector ops, bytes = elements
  read and written (split by t with sequence parallelism, else replicated).

Backward is twice the forward for matmuls (gradients of inputs and of weights, each the forward's size) and for
vector ops (reading saved tensors and writing gradients), except fused attention's scores and context: 2.5 times
(the kernel recomputes the scores, `FUSED_BACKWARD_FLOPS`). FP8 per-tensor current scaling
(`Shard.fp8_current_scaling`) and fine-grained block scaling (`Shard.fp8_block_scaling`: DeepSeek's 1×128 tiles,
MXFP8), training only, add one quantize op per linear layer but the router: forward its input (tokens × k), backward
its output gradient (tokens × n, `OpTable.backward_factor` n/k), `QUANTIZE_BYTES` per element by recipe (current:
two BF16 reads, for the amax and the cast, and one FP8 write, 6 bytes where the GPU's FP8 GEMMs take only the TN
layout, `Shard.fp8_transposed_copy`, Hopper: the cast also writes the transposed FP8 copy the backward GEMMs read,
Transformer Engine's fused cast-transpose; block: one read, the row-wise and transposed FP8 copies and their scales),
on the HBM roofline. The weights' casts are not counted. Recompute is the forward of the attention core (selective)
or of the whole layer (full). The logits 2·N·h·V/t and cross-entropy run on the last stage.

An op takes max(F / (peak · η_gemm(F/G)), bytes / (bw · η_mem(bytes))) seconds (`op_time_s`; G = 1 but for the
routed experts), with the vector peak for vector ops; DeepSeek's block-scaled FP8 GEMMs (`Layout.matmul_precision`
'fp8_block') take the accelerator's own curve at the FP8 peak. **Fused attention** (FlashAttention: causal
self-attention, and prefill chunks over a KV cache) runs scores and context in one kernel whose efficiency is
measured against the sequence length, not the GEMM size: where the accelerator gives such a curve at the precision
(`Accelerator.attention_curve`), the two ops take η = min(η_attn(s_k), η_gemm(F)), s_k the keys each query row sees
(the sequence length of a training shard, the context of a prefill chunk), on the backward curve in a backward pass
(`OpTable.backward`); the min keeps the GEMM curve's fixed launch cost for small kernels. Decode (one query row)
and unfused attention stay on the GEMM curve.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from racksim._types import FloatArray
from racksim.perf.accelerator import Accelerator
from racksim.perf.model import ModelConfig
from racksim.perf.params import attention_matrix_params

BYTES_ACT = 2.0
"""Bytes per activation element (bf16)."""
FP8_BYTES = 1.0
"""Bytes per FP8 element."""
FP8_TILE_BYTES = FP8_BYTES + 4.0 / 128
"""Bytes per element of an FP8 tensor with 1×128 tile-wise scales, one fp32 per 128 elements (DeepSeek-V3 §3.3):
the copies `QUANTIZE_BYTES['deepseek']` writes, and an FP8 expert dispatch (DeepEP's FP8 dispatch carries the same)."""
WEIGHT_BYTES = {"bf16": 2.0, "fp8": FP8_BYTES, "fp4": 0.5}
"""Bytes per weight element read by a matmul at each precision."""
GEMM_WAVE_ELEMENTS = 132 * 128 * 128
"""Output elements of one wave of a GEMM's tiles: one 128 × 128 tile (CUTLASS's and DeepGEMM's usual Hopper tile) on
each of H100 SXM's 132 SMs. Assumed for every GPU (B200 has 148 SMs). A grouped GEMM's experts run side by side
until their tiles fill a wave, so it counts at most (rows × N) / this many GEMMs (`grouped_gemms`)."""


def grouped_gemms(rows: float, n: float, experts: float) -> float:
    """GEMMs a grouped GEMM of `rows` × `n` outputs over `experts` experts counts on the curve.

    One per expert, at most one per wave of output tiles (`GEMM_WAVE_ELEMENTS`), at least 1.
    """
    return float(np.clip(rows * n / GEMM_WAVE_ELEMENTS, 1.0, max(1.0, experts)))


SOFTMAX_FLOPS_PER_ELEMENT = 5.0
"""Vector FLOPs per score element for mask, max, exp, sum and scale (an estimate)."""


@dataclass(frozen=True)
class Shard:
    """What one GPU computes for one micro-batch: batch, local sequence, and how the layer is split."""

    micro_batch: int
    seq_len: int
    tp: int = 1
    cp: int = 1
    sequence_parallel: bool = False
    flash_attention: bool = True
    precision: str = "bf16"
    context_len: int | None = None
    """Keys visible to the last query token when they come from a KV cache (inference); None: causal self-attention."""
    kv_bytes: float = BYTES_ACT
    """Bytes per cached key/value element (inference: 1 for an FP8 KV cache)."""
    fp8_current_scaling: bool = False
    """Time the FP8 quantization of every linear layer's inputs as kernels of their own (`quantize` rows: training
    under per-tensor current scaling); False: quantization fused into the kernels that produce the inputs, untimed."""
    fp8_transposed_copy: bool = False
    """The quantize kernels also write a transposed FP8 copy (`Accelerator.fp8_tn_only`: Hopper's FP8 GEMMs take only
    the TN layout, so the wgrad and dgrad GEMMs read the transposed "columnwise" data, Transformer Engine
    transformer_engine/common/gemm/cublaslt_gemm.cu `CanonicalizeGemmInput`); block recipes write it always."""
    fp8_block_scaling: str = "none"
    """Fine-grained FP8 scaling whose quantize kernels are timed (`Layout.fp8_block_scaling`: 'deepseek' 1×128
    tiles, 'mxfp8' 32-element blocks; `QUANTIZE_BYTES`); 'none': as `fp8_current_scaling` says."""

    moe_permute: bool = False
    """Time the routed tokens' permutation into per-expert order and the weighted sum of their k expert outputs as
    kernels of their own (`experts_permute`, `experts_combine` rows; training: Megatron-Core's token dispatcher
    `permute` / `unpermute`, DeepSeek's profile `expand_to_fused_with_scales` / `reduce_fused_impl`). False: done
    inside the expert GEMMs' row gathers, untimed (serving engines' fused MoE kernels, vLLM's `fused_moe`)."""

    @property
    def quantize(self) -> str | None:
        """The FP8 recipe whose quantize kernels are timed (a `QUANTIZE_BYTES` key), or None."""
        if self.fp8_block_scaling != "none":
            return self.fp8_block_scaling
        return "current" if self.fp8_current_scaling else None

    @property
    def tokens(self) -> int:
        """Tokens on this GPU: b·s/cp."""
        return self.micro_batch * self.seq_len // self.cp


@dataclass(frozen=True)
class OpTable:
    """Operations as parallel arrays: name, FLOPs, HBM bytes, and whether tensor cores run them."""

    name: tuple[str, ...]
    flops: FloatArray
    bytes: FloatArray
    matmul: np.ndarray
    attention_keys: float = 0.0
    """Keys per query row of the fused attention ops (`FUSED_ATTENTION`) for their kernel's curve; 0: no fused
    attention kernel here (decode, unfused attention), every matmul on the GEMM curve."""
    backward_pass: bool = False
    """True for a backward pass (`backward`): fused attention on its backward curve."""
    backward_factor: FloatArray | None = None
    """Per op, its backward pass's FLOPs and bytes over its forward's (None: 2 for every op)."""
    groups: FloatArray | None = None
    """Per op, the equal GEMMs it runs as one grouped kernel (routed experts: one per expert), its curve read at
    FLOPs / groups (None: 1 for every op)."""

    def scaled(self, flops_factor: float, bytes_factor: float) -> OpTable:
        """The same ops with FLOPs and bytes multiplied."""
        return replace(self, flops=self.flops * flops_factor, bytes=self.bytes * bytes_factor)

    def backward(self) -> OpTable:
        """The backward pass of these forward ops: `backward_factor` (default 2) × their FLOPs and bytes.

        Fused attention runs on its backward curve, with 2.5× the forward's matmul FLOPs (`FUSED_BACKWARD_FLOPS`):
        the kernel recomputes the scores instead of reading them.
        """
        factor = 2.0 if self.backward_factor is None else self.backward_factor
        flops = self.flops * factor
        if self.attention_keys > 0:
            flops = np.where(self.named(FUSED_ATTENTION), self.flops * FUSED_BACKWARD_FLOPS, flops)
        return replace(self, flops=flops, bytes=self.bytes * factor, backward_pass=True, backward_factor=None)

    def named(self, names: frozenset[str]) -> np.ndarray:
        """Mask of the ops whose names are in `names`."""
        return np.array([n in names for n in self.name], dtype=bool)

    def select(self, names: frozenset[str]) -> OpTable:
        """The ops whose names are in `names`."""
        keep = self.named(names)
        factor = None if self.backward_factor is None else self.backward_factor[keep]
        groups = None if self.groups is None else self.groups[keep]
        return replace(self, name=tuple(n for n, k in zip(self.name, keep, strict=True) if k),
                       flops=self.flops[keep], bytes=self.bytes[keep], matmul=self.matmul[keep],
                       backward_factor=factor, groups=groups)

    @property
    def gemm_size(self) -> FloatArray:
        """FLOPs of one GEMM of each op, the GEMM curve's argument: FLOPs / `groups`."""
        return self.flops if self.groups is None else self.flops / self.groups

    @property
    def matmul_flops(self) -> float:
        """FLOPs on tensor cores."""
        return float(self.flops[self.matmul].sum())


def _table(rows: list[tuple], attention_keys: float = 0.0, groups: dict[str, float] | None = None) -> OpTable:
    """Rows (name, FLOPs, bytes, matmul[, backward factor]) as an `OpTable`.

    The backward factor defaults to 2, the GEMMs per op (`OpTable.groups`) to 1 for the names `groups` leaves out.
    """
    factor = np.array([r[4] if len(r) > 4 else 2.0 for r in rows], dtype=np.float64)
    group = np.array([(groups or {}).get(r[0], 1.0) for r in rows], dtype=np.float64)
    return OpTable(tuple(r[0] for r in rows), np.array([r[1] for r in rows], dtype=np.float64),
                   np.array([r[2] for r in rows], dtype=np.float64), np.array([r[3] for r in rows], dtype=bool),
                   attention_keys, backward_factor=None if np.all(factor == 2.0) else factor,
                   groups=None if np.all(group == 1.0) else group)


ATTENTION_CORE = frozenset({"attn_scores", "softmax", "attn_context"})
"""Ops that selective recompute runs again (Korthikanti et al. 2022)."""
FUSED_ATTENTION = frozenset({"attn_scores", "attn_context"})
"""The matmuls one fused attention kernel runs (its softmax is inside the kernel)."""
FUSED_BACKWARD_FLOPS = 2.5
"""FLOPs of a fused attention backward per forward FLOP: five matmuls (S = QKᵀ recomputed, dV = PᵀdO, dP = dOVᵀ,
dQ = dS·K, dK = dSᵀQ) for the forward's two (FlashAttention-2, Dao 2023, §3.1.2 and Algorithm 2); the count
FlashAttention's benchmarks divide by, so their backward TFLOP/s, the curve `Accelerator.attention_curve` carries,
times these FLOPs gives the kernel's time (hopper/benchmark_flash_attention.py at 1899c97: bwd = 2.5 · fwd).
Unfused attention stores the probabilities and runs four, 2× the forward."""


def fused_attention_keys(shard: Shard) -> float:
    """Keys per query row of the shard's fused attention kernel (0: none, attention on the GEMM curve).

    The sequence length of causal self-attention, the context of a prefill chunk; 0 for unfused attention and for
    decode (one query row, a memory-bound kernel).
    """
    if not shard.flash_attention:
        return 0.0
    if shard.context_len is None:
        return float(shard.seq_len)
    return float(shard.context_len) if shard.seq_len > 1 else 0.0


def _matmul(name: str, tokens: float, k: float, n: float, weight_elems: float, wbytes: float) -> tuple:
    """A GEMM of (tokens × k) by (k × n): 2·tokens·k·n FLOPs; reads input and weights, writes the output."""
    return (name, 2.0 * tokens * k * n, BYTES_ACT * tokens * (k + n) + wbytes * weight_elems, True)


QUANTIZE_BYTES = {
    "current": 2 * BYTES_ACT + FP8_BYTES,
    "deepseek": BYTES_ACT + 2 * FP8_TILE_BYTES,
    "mxfp8": BYTES_ACT + 2 * (FP8_BYTES + 1.0 / 32),
}
"""HBM bytes per element of one FP8 quantization by recipe. 'current' (per-tensor current scaling): the BF16 tensor
read twice, for its amax and to cast, and written once in FP8 (twice with `Shard.fp8_transposed_copy`, `_quantize`).
'deepseek' (1×128 tiles, an fp32 scale per 128 elements, DeepSeek-V3 §3.3.2) and 'mxfp8' (an E8M0 byte per 32
elements, OCP MX v1.0): the block's amax is local, so one BF16 read, and two FP8 writes with their scales, the
row-wise copy for the GEMM and the transposed (column-wise) one for the weight gradient, whose contraction runs over
the tokens (DeepSeek's profile, deepseek-ai/profile-data train.json: `per_token_cast_to_fp8` and
`per_channel_cast_and_transpose` kernels; Transformer Engine's MXFP8 quantizes row- and column-wise usages)."""


def _quantize(name: str, tokens: float, k: float, n: float, recipe: str, transposed_copy: bool) -> tuple:
    """FP8 quantization of the GEMM `name`'s activation operands: `QUANTIZE_BYTES[recipe]` bytes per element.

    ~2 vector FLOPs per element; current scaling writes 1 more byte with `transposed_copy` (the block recipes always
    write both copies). Forward its (tokens × k) input, backward its (tokens × n) output gradient (backward factor
    n/k).
    """
    elements = tokens * k
    extra = FP8_BYTES if transposed_copy and recipe == "current" else 0.0
    return (f"quantize_{name}", 2.0 * elements, (QUANTIZE_BYTES[recipe] + extra) * elements, False, n / k)


def _vector(name: str, elements: float, reads_writes: float, flops_per_element: float = 1.0) -> tuple:
    """An elementwise op over `elements`, touching each `reads_writes` times (2-byte elements)."""
    return (name, flops_per_element * elements, BYTES_ACT * elements * reads_writes, False)


def _attention_rows(m: ModelConfig, shard: Shard) -> list[tuple]:
    """Scores, softmax (unfused only) and context of one layer, from the sequence itself or a KV cache."""
    t, n_tok, a = shard.tp, float(shard.tokens), m.num_attention_heads
    d, dv = m.d_head, m.d_value
    if shard.context_len is None:
        causal = 0.5 if shard.flash_attention else 1.0
        score_elems = shard.micro_batch * (shard.seq_len / shard.cp) * shard.seq_len * a / t
        unfused = 0.0 if shard.flash_attention else score_elems
        rows = [("attn_scores", 2.0 * score_elems * d * causal, BYTES_ACT * (2 * n_tok * a * d / t + unfused), True)]
        if not shard.flash_attention:  # read scores, write probabilities, dropout: read, write, 1-byte mask
            rows.append(_vector("softmax", score_elems, 4.5, SOFTMAX_FLOPS_PER_ELEMENT))
        rows.append(("attn_context", 2.0 * score_elems * dv * causal,
                     BYTES_ACT * (2 * n_tok * a * dv / t + unfused), True))
        return rows
    keys = shard.context_len - (shard.seq_len - 1) / 2.0
    score_elems = n_tok * keys * a / t
    cached = shard.micro_batch * shard.context_len * shard.kv_bytes
    if m.mla:  # absorbed: queries and outputs live in the latent space, the latent is read once
        rank, rope = int(m.kv_lora_rank or 0), int(m.qk_rope_head_dim or 0)
        return [("attn_scores", 2.0 * score_elems * (rank + rope),
                 BYTES_ACT * n_tok * a * (rank + rope) / t + cached * (rank + rope), True),
                ("attn_context", 2.0 * score_elems * rank, BYTES_ACT * n_tok * a * rank / t, True)]
    kv_heads = max(1.0, m.kv_heads / t)
    return [("attn_scores", 2.0 * score_elems * d, BYTES_ACT * n_tok * a * d / t + cached * kv_heads * d, True),
            ("attn_context", 2.0 * score_elems * dv, BYTES_ACT * n_tok * a * dv / t + cached * kv_heads * dv, True)]


def layer_ops(m: ModelConfig, shard: Shard, moe_layer: bool = False, experts_local: float | None = None) -> OpTable:
    """Forward ops of one transformer layer for one micro-batch on one GPU (see the module docstring).

    `experts_local` is the routed experts whose weights this GPU reads for an MoE layer: E/ep in training; in
    inference the experts the batch's tokens touch, which may be fewer than all.
    """
    t, n_tok = shard.tp, float(shard.tokens)
    wb = WEIGHT_BYTES[shard.precision]
    h, a, dv = m.hidden_size, m.num_attention_heads, m.d_value
    split = t if shard.sequence_parallel else 1
    out_params = a * dv * h
    qkv_params = attention_matrix_params(m) - out_params
    quantized: list[tuple] = []
    local = (experts_local if experts_local is not None else m.experts) if moe_layer else 1.0

    def linear(name: str, tokens: float, k: float, n: float, weights: float) -> tuple:
        if shard.quantize:
            quantized.append(_quantize(name, tokens, k, n, shard.quantize, shard.fp8_transposed_copy))
        return _matmul(name, tokens, k, n, weights, wb)

    rows = [
        _vector("norm_attn", n_tok * h / split, 2.0, 5.0),
        linear("qkv", n_tok, h, qkv_params / (h * t), qkv_params / t),
        *_attention_rows(m, shard),
        linear("out_proj", n_tok, a * dv / t, h, out_params / t),
        _vector("residual_attn", n_tok * h / split, 3.5),
        _vector("norm_mlp", n_tok * h / split, 2.0, 5.0),
    ]
    mm = m.mlp_matrices
    if moe_layer:
        k, i_e, shared = m.top_k, m.expert_size, m.n_shared_experts
        routed = n_tok * k
        rows += [
            _matmul("router", n_tok, h, m.experts, h * m.experts, wb),
            linear("experts_in", routed, h, (mm - 1) * i_e / t, local * (mm - 1) * h * i_e / t),
            _vector("experts_act", routed * i_e / t, mm, 4.0),
            linear("experts_out", routed, i_e / t, h, local * h * i_e / t),
        ]
        if shard.moe_permute:  # backward: the inverse permutation; the gradient's broadcast and the probs' gradient
            rows += [("experts_permute", 0.0, 2 * BYTES_ACT * routed * h, False, 1.0),
                     ("experts_combine", 2.0 * routed * h, BYTES_ACT * (routed + n_tok) * h, False,
                      (n_tok + 2 * routed) / (n_tok + routed))]
        if shared:
            rows += [
                linear("shared_in", n_tok, h, shared * (mm - 1) * i_e / t, shared * (mm - 1) * h * i_e / t),
                _vector("shared_act", n_tok * shared * i_e / t, mm, 4.0),
                linear("shared_out", n_tok, shared * i_e / t, h, shared * h * i_e / t),
            ]
    else:
        i = m.ffn_size
        rows += [
            linear("mlp_in", n_tok, h, (mm - 1) * i / t, (mm - 1) * h * i / t),
            _vector("mlp_act", n_tok * i / t, mm, 4.0),
            linear("mlp_out", n_tok, i / t, h, h * i / t),
        ]
    rows.append(_vector("residual_mlp", n_tok * h / split, 3.5))
    groups = {}
    if moe_layer:
        routed, gate_up = n_tok * m.top_k, (mm - 1) * m.expert_size / t
        groups = {"experts_in": grouped_gemms(routed, gate_up, local),
                  "experts_out": grouped_gemms(routed, h, local)}
    return _table(rows + quantized, fused_attention_keys(shard), groups)


def head_ops(m: ModelConfig, shard: Shard) -> tuple[OpTable, OpTable]:
    """Forward ops outside the layers: (embedding on the first stage, final norm + logits + loss on the last).

    Logits 2·N·h·V/t; cross-entropy reads and writes the fp32 logits a few times (4 passes of 4 bytes).
    """
    n_tok, h, v, t = float(shard.tokens), m.hidden_size, m.vocab_size, shard.tp
    first = _table([_vector("embedding", n_tok * h, 2.0 if m.gpt_type else 1.0, 1.0)])
    last = _table([
        _vector("final_norm", n_tok * h, 2.0, 5.0),
        _matmul("logits", n_tok, h, v / t, v * h / t, WEIGHT_BYTES[shard.precision]),
        ("cross_entropy", 5.0 * n_tok * v / t, 4 * 4.0 * n_tok * v / t, False),
    ])
    return first, last


def op_times_s(ops: OpTable, acc: Accelerator, precision: str,
               attention_precision: str | None = None) -> tuple[FloatArray, FloatArray]:
    """(compute, memory) time of each op alone: F / (P · η(F)) and bytes / (BW · η_mem(bytes)), s.

    P is the dense tensor peak for matmuls, at `attention_precision` (default `precision`) for the attention
    matmuls (`FUSED_ATTENTION`, fused or not) and at `precision` for the others, and the vector peak otherwise,
    FLOP/s; BW the HBM bandwidth, bytes/s; η the accelerator's efficiency curves: the GEMM curve of the op's
    precision, and for fused attention ops min(η_attn(s_k), η_gemm(F)) where the accelerator has an attention curve
    at the attention's precision (module docstring).
    """
    attn = attention_precision or precision
    size = ops.gemm_size
    peak = np.where(ops.matmul, acc.peak(precision), acc.vector_flops)
    eff = np.where(ops.matmul, acc.gemm_curve(precision)(size), 1.0)
    curve = acc.attention_curve(attn, ops.backward_pass) if ops.attention_keys > 0 else None
    if attn != precision or curve is not None:
        is_attn = ops.named(FUSED_ATTENTION)
        if attn != precision:  # the attention matmuls on their own precision's peak and curve
            peak = np.where(ops.matmul & is_attn, acc.peak(attn), peak)
            eff = np.where(ops.matmul & is_attn, acc.gemm_curve(attn)(size), eff)
        if curve is not None:
            eff = np.where(is_attn, np.minimum(eff, curve(ops.attention_keys)), eff)
    return ops.flops / (peak * eff), acc.hbm_time_s(ops.bytes)


def op_time_s(ops: OpTable, acc: Accelerator, precision: str, attention_precision: str | None = None) -> FloatArray:
    """Roofline time of each op: max(F / (P · η_gemm(F)), bytes / (BW · η_mem(bytes))), s (`op_times_s`)."""
    return np.maximum(*op_times_s(ops, acc, precision, attention_precision))


def optimizer_ops(params_local: float) -> OpTable:
    """Mixed-precision Adam step over `params_local` parameters: ~12 FLOPs and 34 bytes per parameter.

    Bytes: read fp32 master weight, momentum, variance and fp32 gradient (16), write the three states (12) and the
    bf16 weight (2), zero the gradient (4).
    """
    return _table([("adam", 12.0 * params_local, 34.0 * params_local, False)])
