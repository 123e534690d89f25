"""Memory per GPU of a training layout, and the refusal of a layout that does not fit.

**Model state** (ZeRO paper, Rajbhandari et al. 2020, §3.1): mixed-precision Adam keeps 2 bytes of bf16 weights,
2 bytes of gradients and K = 12 bytes of fp32 master weights, momentum and variance per parameter, 16 bytes in all;
Megatron-LM accumulates gradients in fp32 (4 bytes), 18 bytes (`Layout.fp32_grads`, the default). ZeRO stage 1
shards the 12 bytes over the data-parallel group, stage 2 the gradients too, stage 3 (FSDP) the weights too.
Expert parameters are sharded over the expert-data-parallel group d/ep.

**Activations** (Korthikanti et al. 2022, §4, bytes per layer per micro-batch, s sequence, b micro-batch,
h hidden, a heads, t tensor-parallel):

- no parallelism: s·b·h·(34 + 5·a·s/h);
- tensor parallel: s·b·h·(10 + 24/t + 5·a·s/(h·t)); with sequence parallelism s·b·h·(34/t + 5·a·s/(h·t));
- selective recompute (attention core recomputed) drops the 5·a·s/h term: 34·s·b·h/t with sequence parallelism;
  fused (Flash) attention stores no s×s tensor either;
- full recompute keeps the layer input, 2·s·b·h (/t with sequence parallelism), plus one layer's working set.

34 = 11 (attention) + 19 (MLP) + 4 (two norms) for GPT's 4h GELU MLP. For other shapes the same accounting
gives attention 3 + 2·(a·d_qk + g·d_qk + g·d_v + a·d_v)/h (g KV heads, head widths d; 7 + 4g/a when a·d = h) and
MLP 3 + 2·m·i/h (m matrices, width i), which is 11 and 19 for GPT; multi-head latent attention also keeps its
latents (the up-projections' inputs) and has a·d ≠ h; an MoE layer keeps k copies of each routed token's MLP
tensors plus the shared experts'. DeepSeek-V3's savings (`Layout.recompute_norms`: no norm outputs, no MLA Q, K, V;
`Layout.fp8_activations`: matmul inputs at 1 byte, the attention output at 1.5, the MLP activation's inputs at 1
and its output recomputed) drop their terms. With context parallelism s is
the local s/cp. The first pipeline stage holds min(p, m) micro-batches in flight (1F1B), times
1 + (p − 1)/(p·v) with v interleaved stages (with uneven stages the second may hold more, `activation_bytes`);
the last stage adds the fp32 logits and their gradient, 8·b·s·V/t.
"""

from __future__ import annotations

from dataclasses import dataclass

from racksim.errors import InputError
from racksim.perf.accelerator import Accelerator
from racksim.perf.layout import Layout, pipeline_ranks, stage_layer_counts, stage_layers
from racksim.perf.model import ModelConfig
from racksim.perf.params import attention_params, mlp_params, param_counts

GB = 1e9
ADAM_STATE_BYTES = 12.0
"""fp32 master weight, momentum and variance per parameter (ZeRO paper's K = 12)."""
FP8_CACHE_BYTES = 1.0
"""Bytes per activation element cached in FP8 for the backward (`Layout.fp8_activations`)."""
E5M6_BYTES = 1.5
"""Bytes per element of DeepSeek-V3's 12-bit E5M6 format, its cache of the attention output (§3.3.4)."""
RESERVED_GB = 1.0
"""CUDA context, cuBLAS and NCCL workspaces and allocator slack per GPU, GB: an assumption, not a measurement."""


@dataclass(frozen=True)
class MemoryBreakdown:
    """Memory per GPU (the most loaded pipeline stage), GB."""

    weights_gb: float
    gradients_gb: float
    optimizer_gb: float
    activations_gb: float
    buffers_gb: float

    @property
    def total_gb(self) -> float:
        """Sum of the parts, GB."""
        return self.weights_gb + self.gradients_gb + self.optimizer_gb + self.activations_gb + self.buffers_gb

    def parts(self) -> dict[str, float]:
        """The parts by name, GB."""
        return {"weights": self.weights_gb, "gradients": self.gradients_gb, "optimizer state": self.optimizer_gb,
                "activations": self.activations_gb, "buffers": self.buffers_gb}


def stage_params(m: ModelConfig, layout: Layout, stages: tuple[int, ...] | None = None) -> tuple[float, float]:
    """(dense, expert) parameters held by one GPU of the most loaded stage, count.

    A stage holds its layers (`layout.stage_layers`: ⌈L/p⌉ or ⌊L/p⌋) split t ways (experts also ep ways) plus the
    embedding (first stage) or the output layer and final norm (last stage; a tied output layer is a copy there
    when p > 1); a GPU holds its stage, or under DualPipe stages i and p − 1 − i (`layout.pipeline_ranks`: two
    copies of the model's parameters over the p ranks, DeepSeek-V3 Table 2's 2×); the GPU with the most counts,
    or the one holding `stages`.
    """
    counts = param_counts(m)
    t = layout.tp
    moe_fraction = m.moe_layers / m.num_hidden_layers
    shared = attention_params(m) + 2 * m.norm_params
    dense_layer = shared + mlp_params(m, m.ffn_size)
    moe_dense = shared + m.hidden_size * m.experts + m.n_shared_experts * counts.expert
    layer_dense = (1 - moe_fraction) * dense_layer + moe_fraction * moe_dense
    layer_expert = moe_fraction * m.experts * counts.expert / layout.ep
    vocab = m.vocab_size * m.hidden_size
    positions = m.max_position_embeddings * m.hidden_size if m.gpt_type else 0
    first = vocab / t + positions
    last = (vocab / t if (not m.tied or layout.pp > 1) else 0.0) + m.norm_params
    layer_counts = stage_layer_counts(m.num_hidden_layers, layout.pp, layout.vpp)
    ends = {0: first + (last if layout.pp == 1 else 0.0)} | ({layout.pp - 1: last} if layout.pp > 1 else {})
    ranks = [(sum(layer_counts[i] for i in held), sum(ends.get(i, 0.0) for i in held))
             for held in ([stages] if stages else pipeline_ranks(layout))]
    layers, rank_ends = max(ranks, key=lambda rank: rank[0] * (layer_dense + layer_expert) / t + rank[1])
    return layers * layer_dense / t + rank_ends, layers * layer_expert / t


def recomputed_ops(m: ModelConfig, layout: Layout) -> frozenset[str]:
    """Forward ops the backward runs again because their outputs are not stored, besides the recompute mode's.

    The norms, and with multi-head latent attention its whole query/key/value projection (the up-projections are
    most of it), for `Layout.recompute_norms`; the MLP activations for `Layout.fp8_activations` (their output is not
    kept). None under full recompute, whose rerun forward already holds them.
    """
    if layout.recompute == "full":
        return frozenset()
    names: set[str] = set()
    if layout.recompute_norms:
        names |= {"norm_attn", "norm_mlp"} | ({"qkv"} if m.mla else set())
    if layout.fp8_activations:
        names |= {"mlp_act", "experts_act", "shared_act"}
    return frozenset(names)


def activation_bytes_per_layer(m: ModelConfig, layout: Layout, moe_layer: bool = False) -> float:
    """Stored activations of one layer for one micro-batch on one GPU, bytes (module docstring formulas)."""
    s, b, h, a, t = layout.seq_len / layout.cp, layout.micro_batch, m.hidden_size, m.num_attention_heads, layout.tp
    sbh = s * b * h
    split = t if layout.sequence_parallel else 1
    if layout.recompute == "full":
        return 2.0 * sbh / split
    cached = FP8_CACHE_BYTES if layout.fp8_activations else 2.0  # a matmul's input kept for its weight gradient
    latent = (m.q_lora_rank or 0) + (m.kv_lora_rank or 0) if m.mla else 0  # MLA: inputs of the up-projections
    g, d_qk, d_v = m.kv_heads, m.d_head, m.d_value
    qkv = 0.0 if (layout.recompute_norms and m.mla) else 2.0 * (a * d_qk + g * d_qk + g * d_v) / h
    out_input = (E5M6_BYTES if layout.fp8_activations else 2.0) * a * d_v / h
    attn_split = qkv + out_input + cached * latent / h

    def mlp(width: float) -> float:  # SwiGLU/GELU: its inputs cached in FP8 and output recomputed, or all stored
        mm = m.mlp_matrices
        return (mm - 1) * width / h if layout.fp8_activations else 2.0 * mm * width / h

    if moe_layer:
        mlp_split = m.top_k * (cached + mlp(m.expert_size)) + m.n_shared_experts * mlp(m.expert_size)
    else:
        mlp_split = mlp(m.ffn_size)
    # two norms' inputs (4), two dropout masks (2), inputs of QKV and the first MLP matrix (the norms' outputs)
    replicated = 6.0 + (0.0 if layout.recompute_norms else 2.0 * cached)
    scores = 0.0 if (layout.recompute == "selective" or layout.flash_attention) else 5.0 * a * s / (h * t)
    return sbh * (replicated / split + (attn_split + mlp_split) / t + scores)


def activation_bytes(m: ModelConfig, layout: Layout, stages: tuple[int, ...] | None = None) -> float:
    """Activations held at the peak of a 1F1B (interleaved) step by the stage that holds the most, bytes.

    Stage i keeps min(p − i, m) micro-batches in flight (× 1 + (p − 1)/(p·v) interleaved); the first stage, or the
    second when it has a layer more (uneven split), holds the most. DualPipe: p + 1 micro-batches of one stage on
    every rank (DeepSeek-V3 Table 2), a stage's layers being the mean of the rank's two (of the rank holding
    `stages`, else the most).
    """
    p, v = layout.pp, layout.vpp
    interleave = 1 + (p - 1) / (p * v) if v > 1 else 1.0
    layers_in_flight: float
    if layout.pp_schedule == "dualpipe":  # p + 1 micro-batches of the rank's (mean) stage
        counts = stage_layer_counts(m.num_hidden_layers, p)
        layers_in_flight = (p + 1) * max(sum(counts[i] for i in held) / len(held)
                                         for held in ([stages] if stages else pipeline_ranks(layout)))
    else:
        n_first, n_middle, _ = stage_layers(m.num_hidden_layers, p, v)
        layers_in_flight = max(n_first * min(p, layout.microbatches), n_middle * min(p - 1, layout.microbatches))
    moe_fraction = m.moe_layers / m.num_hidden_layers
    per_layer = ((1 - moe_fraction) * activation_bytes_per_layer(m, layout)
                 + moe_fraction * activation_bytes_per_layer(m, layout, moe_layer=True))
    stored = layers_in_flight * interleave * per_layer
    if layout.recompute == "full":  # one layer's full working set while it is recomputed
        stored += activation_bytes_per_layer(m, Layout(**{**layout.__dict__, "recompute": "none"}))
    return stored


def memory_per_gpu(m: ModelConfig, layout: Layout) -> MemoryBreakdown:
    """Weights, gradients, optimizer state, activations and buffers on the most loaded GPU, GB.

    Weights 2 bytes, gradients 4 (fp32) or 2, Adam state 12 bytes per parameter (8 with
    `Layout.adam_bf16_moments`), divided by the data-parallel degree (d for dense, d/ep for expert parameters) as
    the ZeRO stage says. Buffers: the reserve, the last stage's fp32 logits and, at ZeRO 3, the gathered weights of
    1 + k layers (the one computed and k prefetched, `Layout.zero3_prefetch_layers`; FSDP's limit is one all-gather
    ahead) and one layer's unsharded gradients before their reduce-scatter. 1F1B: each part at its most loaded
    stage (an upper bound when they differ); DualPipe: the total of each rank's two stages, the largest rank.
    """
    if layout.pp_schedule == "dualpipe":
        return max((_memory(m, layout, stages) for stages in pipeline_ranks(layout)), key=lambda mem: mem.total_gb)
    return _memory(m, layout, None)


def _memory(m: ModelConfig, layout: Layout, stages: tuple[int, ...] | None) -> MemoryBreakdown:
    """`memory_per_gpu` of the GPU holding `stages` (None: each part at its most loaded stage), GB."""
    dense, expert = stage_params(m, layout, stages)
    d_dense, d_expert = layout.dp, max(1, layout.dp // layout.ep)

    def sharded(bytes_per_param: float, stage: int) -> float:
        if layout.zero >= stage:
            return bytes_per_param * (dense / d_dense + expert / d_expert)
        return bytes_per_param * (dense + expert)

    grad_bytes = 4.0 if layout.fp32_grads else 2.0
    logits = 8.0 * layout.micro_batch * layout.seq_len / layout.cp * m.vocab_size / layout.tp
    if stages is not None and layout.pp - 1 not in stages:
        logits = 0.0
    gathered = 0.0
    if layout.zero == 3:  # the layer computed and those prefetched, whole, and one layer's unsharded gradients
        most_layers = max(stage_layers(m.num_hidden_layers, layout.pp, layout.vpp)) if stages is None else \
            sum(stage_layer_counts(m.num_hidden_layers, layout.pp, layout.vpp)[i] for i in stages)
        gathered = ((1 + layout.zero3_prefetch_layers) * 2.0 + grad_bytes) * (dense + expert) / most_layers
    return MemoryBreakdown(
        weights_gb=sharded(2.0, 3) / GB,
        gradients_gb=sharded(grad_bytes, 2) / GB,
        optimizer_gb=sharded(ADAM_STATE_BYTES - (4.0 if layout.adam_bf16_moments else 0.0), 1) / GB,
        activations_gb=activation_bytes(m, layout, stages) / GB,
        buffers_gb=RESERVED_GB + (logits + gathered) / GB,
    )


def check_fits(memory: MemoryBreakdown, acc: Accelerator, source: str = "layout", usable_fraction: float = 1.0) -> None:
    """Refuse a footprint above the usable HBM: one-line `InputError` with needed vs available GB.

    Usable HBM is `usable_fraction` × capacity (inference engines reserve a share, e.g. vLLM's
    gpu_memory_utilization).
    """
    available = acc.hbm_gb * usable_fraction
    if memory.total_gb > available:
        name, largest = max(memory.parts().items(), key=lambda item: item[1])
        has = f"{acc.hbm_gb:.0f} GB" if usable_fraction == 1.0 else \
            f"{available:.1f} GB usable ({usable_fraction:.2f} of {acc.hbm_gb:.0f} GB)"
        raise InputError(source, "memory", f"does not fit: needs {memory.total_gb:.1f} GB per GPU, {acc.name} has "
                         f"{has}; largest term {name} {largest:.1f} GB")
