"""Parameter counts of a model, from its shapes (matrices, biases, norms, embeddings).

Per layer (h hidden, a query heads, g key/value heads, d head width, i MLP width, m = 3 matrices gated or 2):

- attention (GQA): h·a·d (Q) + 2·h·g·d (K, V) + a·d·h (output), plus a·d + 2·g·d + h biases when present;
- attention (MLA, DeepSeek): h·r_q + r_q·a·(d_nope + d_rope) (queries through a rank-r_q latent, norm r_q),
  h·(r_kv + d_rope) + r_kv·a·(d_nope + d_v) (keys and values through a rank-r_kv latent, norm r_kv), a·d_v·h;
- MLP: m·h·i, plus (m − 1)·i + h biases when present; an MoE layer has E routed experts and the shared ones, each
  an MLP of width i_e, and a router h·E;
- two norms of h (RMSNorm) or 2h (LayerNorm) parameters.

The model adds the embedding V·h, learned positions P·h (GPT types), a final norm and, untied, the output layer
V·h. Active parameters count the top-k routed experts instead of all E.
"""

from __future__ import annotations

from dataclasses import dataclass

from racksim.perf.model import ModelConfig


def attention_matrix_params(m: ModelConfig) -> int:
    """Weights of one attention block's projection matrices (no biases, no latent norms), count."""
    h, a = m.hidden_size, m.num_attention_heads
    if m.mla:
        d_rope, d_nope, d_v = int(m.qk_rope_head_dim or 0), int(m.qk_nope_head_dim or 0), m.d_value
        r_kv = int(m.kv_lora_rank or 0)
        q = h * a * (d_nope + d_rope) if m.q_lora_rank is None else \
            h * m.q_lora_rank + m.q_lora_rank * a * (d_nope + d_rope)
        return q + h * (r_kv + d_rope) + r_kv * a * (d_nope + d_v) + a * d_v * h
    d, g = m.d_head, m.kv_heads
    return h * a * d + 2 * h * g * d + a * d * h


def attention_params(m: ModelConfig) -> int:
    """Parameters of one attention block (projections, biases, MLA latent norms), count."""
    if m.mla:
        return attention_matrix_params(m) + (m.q_lora_rank or 0) + int(m.kv_lora_rank or 0)
    bias = m.num_attention_heads * m.d_head + 2 * m.kv_heads * m.d_head + m.hidden_size if m.biases else 0
    return attention_matrix_params(m) + bias


def mlp_params(m: ModelConfig, width: int) -> int:
    """Parameters of one MLP (or expert) of hidden width `width`: matrices·h·width (+ biases), count."""
    biases = (m.mlp_matrices - 1) * width + m.hidden_size if (m.mlp_bias if m.mlp_bias is not None else
                                                               m.gpt_type) else 0
    return m.mlp_matrices * m.hidden_size * width + biases


@dataclass(frozen=True)
class ParamCounts:
    """A model's parameter counts, count (not bytes)."""

    total: int
    """Every parameter (all experts)."""
    active: int
    """Parameters one token goes through (top-k routed experts, shared experts, attention, embeddings)."""
    embedding: int
    """Input embedding and learned positions, plus the output layer when untied."""
    dense_layer: int
    """One layer with a dense MLP."""
    moe_layer: int
    """One layer with experts (0 for a dense model)."""
    moe_layer_active: int
    """The part of an MoE layer one token goes through (0 for a dense model)."""
    expert: int
    """One routed expert."""


def param_counts(m: ModelConfig) -> ParamCounts:
    """Total, active and per-layer parameter counts of a model (see the module docstring for the formulas)."""
    h = m.hidden_size
    shared = attention_params(m) + 2 * m.norm_params
    dense_layer = shared + mlp_params(m, m.ffn_size)
    expert = mlp_params(m, m.expert_size) if m.moe else 0
    router = h * m.experts
    moe_layer = shared + router + (m.experts + m.n_shared_experts) * expert if m.moe else 0
    moe_active = shared + router + (m.top_k + m.n_shared_experts) * expert if m.moe else 0
    positions = m.max_position_embeddings * h if m.gpt_type else 0
    embedding = m.vocab_size * h * (1 if m.tied else 2) + positions
    dense_count = m.num_hidden_layers - m.moe_layers
    head = embedding + m.norm_params
    return ParamCounts(
        total=head + dense_count * dense_layer + m.moe_layers * moe_layer,
        active=head + dense_count * dense_layer + m.moe_layers * moe_active,
        embedding=embedding, dense_layer=dense_layer, moe_layer=moe_layer, moe_layer_active=moe_active,
        expert=expert,
    )


def layer_matrices(m: ModelConfig, moe_layer: bool = False) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Weight matrices of one layer as Megatron-LM holds them, parameters each: (non-expert, one routed expert).

    Fused QKV (or MLA's input projections) and the output projection; an MLP's input matrix (gate and up fused when
    gated) and output matrix; an MoE layer's router and shared experts, and each routed expert's two matrices.
    Norms and biases are left out (small tensors a per-tensor ZeRO-3 keeps whole).
    """
    h = m.hidden_size
    out = m.num_attention_heads * m.d_value * h
    attention = (attention_matrix_params(m) - out, out)

    def mlp(width: int) -> tuple[int, int]:
        return (m.mlp_matrices - 1) * h * width, h * width

    if not moe_layer:
        return attention + mlp(m.ffn_size), ()
    return attention + (h * m.experts,) + mlp(m.expert_size) * m.n_shared_experts, mlp(m.expert_size)


def layer_vectors(m: ModelConfig, moe_layer: bool = False) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Small tensors of one layer, parameters each: (non-expert, one routed expert); with `layer_matrices` the layer.

    The norms (LayerNorm: a scale and a bias of h each; RMSNorm: a scale of h), MLA's two latent norms, and the
    biases of a model that has them: fused QKV a·d + 2·g·d, output h, an MLP's (m − 1)·i and h (each shared expert
    likewise, each routed expert in the second tuple). A per-tensor ZeRO-3 keeps them whole but still reduces
    their gradients one tensor at a time.
    """
    h = m.hidden_size
    norms = (h, h) * (2 if m.norm_params == 2 * h else 1)
    attention: tuple[int, ...] = ()
    if m.mla:
        attention = tuple(r for r in (m.q_lora_rank or 0, int(m.kv_lora_rank or 0)) if r)
    elif m.biases:
        attention = (m.num_attention_heads * m.d_head + 2 * m.kv_heads * m.d_head, h)
    mlp_bias = m.mlp_bias if m.mlp_bias is not None else m.gpt_type

    def mlp(width: int) -> tuple[int, ...]:
        return ((m.mlp_matrices - 1) * width, h) if mlp_bias else ()

    if not moe_layer:
        return norms + attention + mlp(m.ffn_size), ()
    return norms + attention + mlp(m.expert_size) * m.n_shared_experts, mlp(m.expert_size)
