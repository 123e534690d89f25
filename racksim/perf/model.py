"""Models as Hugging Face config files: the shapes a performance model needs, validated once.

A model is a ``config.json`` (or the same keys in YAML) with Hugging Face's key names: Llama/Mistral keys
(``hidden_size``, ``intermediate_size``, ``num_attention_heads``, ``num_key_value_heads``, ``num_hidden_layers``,
``vocab_size``, ``max_position_embeddings``, ``tie_word_embeddings``, ``hidden_act``), GPT-2's names for the
same (``n_embd``, ``n_inner``, ``n_head``, ``n_layer``, ``n_positions``, ``activation_function``), the MoE keys of
DeepSeek-V3 (``n_routed_experts``, ``num_experts_per_tok``, ``moe_intermediate_size``, ``n_shared_experts``,
``first_k_dense_replace``) and Mixtral (``num_local_experts``), and DeepSeek's multi-head latent attention
(``q_lora_rank``, ``kv_lora_rank``, ``qk_rope_head_dim``, ``qk_nope_head_dim``, ``v_head_dim``). Every other key
of a real config is ignored. A missing or contradictory key is an `InputError` naming the file, the key and the rule.

Architecture conventions read from the config: a gated MLP (SwiGLU, three matrices) when the activation is
``silu``/``swiglu``, two matrices otherwise (GPT's GELU); learned position embeddings for ``gpt2``-type models
(rotary otherwise); LayerNorm with biases when ``layer_norm_epsilon``/``layer_norm_eps`` is given, RMSNorm
otherwise; biases on the attention and MLP matrices when ``attention_bias``/``mlp_bias`` say so (GPT-2 types have
them). The multi-token-prediction module of DeepSeek-V3 (``num_nextn_predict_layers``) is not counted: the
published 671 B total is the main model's.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from racksim.errors import InputError

GATED_ACTIVATIONS = frozenset({"silu", "swiglu", "swish"})
LEARNED_POSITION_TYPES = frozenset({"gpt2", "gpt", "megatron-gpt"})


class ModelConfig(BaseModel):
    """A transformer's shape, from Hugging Face config keys (extra keys of real configs are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, allow_inf_nan=False)

    model_type: str = "llama"
    """Hugging Face ``model_type``; ``gpt2`` means learned position embeddings, biases and LayerNorm."""
    hidden_size: int = Field(gt=0, validation_alias=AliasChoices("hidden_size", "n_embd"))
    """Width h of the residual stream."""
    intermediate_size: int | None = Field(None, gt=0, validation_alias=AliasChoices("intermediate_size", "n_inner"))
    """Width of a dense MLP's hidden layer (GPT-2 default 4h when absent or null)."""
    num_attention_heads: int = Field(gt=0, validation_alias=AliasChoices("num_attention_heads", "n_head"))
    """Query heads a."""
    num_key_value_heads: int | None = Field(None, gt=0)
    """Key/value heads (grouped-query attention); equal to the query heads when absent, as in Hugging Face."""
    head_dim: int | None = Field(None, gt=0)
    """Width of one head; hidden_size / num_attention_heads when absent."""
    num_hidden_layers: int = Field(gt=0, validation_alias=AliasChoices("num_hidden_layers", "n_layer"))
    """Transformer layers L."""
    vocab_size: int = Field(gt=0)
    """Vocabulary V."""
    max_position_embeddings: int = Field(gt=0, validation_alias=AliasChoices("max_position_embeddings", "n_positions"))
    """Longest sequence; the size of the learned position table of GPT-type models."""
    tie_word_embeddings: bool | None = None
    """Output layer shares the embedding matrix (default: true for GPT-2 types, false otherwise)."""
    hidden_act: str = Field("silu", validation_alias=AliasChoices("hidden_act", "activation_function"))
    """MLP activation: silu/swiglu mean a gated MLP with three matrices."""
    attention_bias: bool | None = None
    """Biases on the Q, K, V and output projections (default: true for GPT-2 types)."""
    mlp_bias: bool | None = None
    """Biases on the MLP matrices (default: true for GPT-2 types)."""
    layer_norm_epsilon: float | None = Field(None, validation_alias=AliasChoices("layer_norm_epsilon",
                                                                                "layer_norm_eps"))
    """Present for LayerNorm (scale and bias); RMSNorm (scale only) otherwise."""
    # Mixture of experts (DeepSeek-V3 and Mixtral keys).
    n_routed_experts: int | None = Field(None, gt=0, validation_alias=AliasChoices("n_routed_experts",
                                                                                   "num_local_experts"))
    """Routed experts per MoE layer (DeepSeek ``n_routed_experts``, Mixtral ``num_local_experts``)."""
    num_experts_per_tok: int | None = Field(None, gt=0)
    """Experts each token is routed to (top-k)."""
    moe_intermediate_size: int | None = Field(None, gt=0)
    """Hidden width of one expert (Mixtral: intermediate_size)."""
    n_shared_experts: int = Field(0, ge=0)
    """Experts every token goes through."""
    first_k_dense_replace: int = Field(0, ge=0)
    """The first k layers have a dense MLP instead of experts."""
    # Multi-head latent attention (DeepSeek-V2/V3).
    q_lora_rank: int | None = Field(None, gt=0)
    """Rank of the query down-projection."""
    kv_lora_rank: int | None = Field(None, gt=0)
    """Rank of the joint key/value down-projection (the latent that is cached)."""
    qk_rope_head_dim: int | None = Field(None, gt=0)
    """Rotary part of a query/key head."""
    qk_nope_head_dim: int | None = Field(None, gt=0)
    """Non-rotary part of a query/key head."""
    v_head_dim: int | None = Field(None, gt=0)
    """Width of a value head."""

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        """Heads divide the width, KV heads divide the query heads, MoE and MLA keys come complete."""
        if self.head_dim is None and self.hidden_size % self.num_attention_heads:
            raise ValueError(f"num_attention_heads: {self.num_attention_heads} heads do not divide hidden_size "
                             f"{self.hidden_size} (give head_dim)")
        if self.num_attention_heads % self.kv_heads:
            raise ValueError(f"num_key_value_heads: {self.kv_heads} does not divide num_attention_heads "
                             f"{self.num_attention_heads}")
        if (self.n_routed_experts is None) != (self.num_experts_per_tok is None):
            raise ValueError("num_experts_per_tok: give it with n_routed_experts/num_local_experts, or neither")
        if self.n_routed_experts is not None and self.num_experts_per_tok is not None:
            if self.num_experts_per_tok > self.n_routed_experts:
                raise ValueError(f"num_experts_per_tok: {self.num_experts_per_tok} exceeds the "
                                 f"{self.n_routed_experts} routed experts")
            if self.first_k_dense_replace > self.num_hidden_layers:
                raise ValueError("first_k_dense_replace: more dense layers than num_hidden_layers")
            if self.first_k_dense_replace and self.intermediate_size is None:
                raise ValueError("intermediate_size: needed for the first_k_dense_replace dense layers")
        elif self.n_shared_experts or self.first_k_dense_replace:
            raise ValueError("n_routed_experts: n_shared_experts/first_k_dense_replace need routed experts")
        mla = (self.kv_lora_rank, self.qk_rope_head_dim, self.qk_nope_head_dim, self.v_head_dim)
        if any(v is not None for v in mla) and any(v is None for v in mla):
            raise ValueError("kv_lora_rank: multi-head latent attention needs kv_lora_rank, qk_rope_head_dim, "
                             "qk_nope_head_dim and v_head_dim together")
        return self

    # Derived shapes -------------------------------------------------------------------------------------------
    @property
    def gpt_type(self) -> bool:
        """GPT-2-style model: learned positions, biases and LayerNorm by default."""
        return self.model_type in LEARNED_POSITION_TYPES

    @property
    def kv_heads(self) -> int:
        """Key/value heads (the query heads when not given)."""
        return self.num_key_value_heads or self.num_attention_heads

    @property
    def d_head(self) -> int:
        """Width of a query/key head (MLA: nope + rope parts)."""
        if self.mla:
            return int(self.qk_nope_head_dim or 0) + int(self.qk_rope_head_dim or 0)
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def d_value(self) -> int:
        """Width of a value head."""
        return self.v_head_dim or self.d_head

    @property
    def mla(self) -> bool:
        """Multi-head latent attention (DeepSeek)."""
        return self.kv_lora_rank is not None

    @property
    def gated(self) -> bool:
        """Gated MLP (SwiGLU): three matrices per MLP instead of two."""
        return self.hidden_act.lower() in GATED_ACTIVATIONS

    @property
    def mlp_matrices(self) -> int:
        """Matrices of one MLP or expert: 3 gated, 2 otherwise."""
        return 3 if self.gated else 2

    @property
    def ffn_size(self) -> int:
        """Width of the dense MLP (4h for GPT-2 types that leave n_inner null)."""
        return self.intermediate_size or 4 * self.hidden_size

    @property
    def moe(self) -> bool:
        """Mixture of experts."""
        return self.n_routed_experts is not None

    @property
    def expert_size(self) -> int:
        """Hidden width of one expert (Mixtral has it in intermediate_size)."""
        return self.moe_intermediate_size or self.ffn_size

    @property
    def moe_layers(self) -> int:
        """Layers with experts instead of a dense MLP."""
        return self.num_hidden_layers - self.first_k_dense_replace if self.moe else 0

    @property
    def top_k(self) -> int:
        """Routed experts per token (0 for a dense model)."""
        return self.num_experts_per_tok or 0

    @property
    def experts(self) -> int:
        """Routed experts per MoE layer (0 for a dense model)."""
        return self.n_routed_experts or 0

    @property
    def tied(self) -> bool:
        """Output layer shares the embedding matrix."""
        return self.gpt_type if self.tie_word_embeddings is None else self.tie_word_embeddings

    @property
    def biases(self) -> bool:
        """Biases on the attention and MLP matrices."""
        return bool(self.gpt_type if self.attention_bias is None else self.attention_bias)

    @property
    def norm_params(self) -> int:
        """Parameters of one norm: 2h for LayerNorm (scale and bias), h for RMSNorm."""
        layer_norm = self.layer_norm_epsilon is not None or self.gpt_type
        return (2 if layer_norm else 1) * self.hidden_size


def _source_name(source: str | Path) -> str:
    return str(source)


def parse_model(data: dict[str, Any], source: str | Path = "<model>") -> ModelConfig:
    """A validated ModelConfig from a Hugging Face config mapping; errors are one-line `InputError`s."""
    if not isinstance(data, dict):
        raise InputError(_source_name(source), "", "a model config is a mapping of Hugging Face keys")
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or str(first.get("ctx", {}).get("field", ""))
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            message = "missing: a Hugging Face config needs this key"
        if not key and ":" in message:
            key, message = (part.strip() for part in message.split(":", 1))
        raise InputError(_source_name(source), key, message) from None


def load_model(path: str | Path) -> ModelConfig:
    """Load a Hugging Face ``config.json`` (or YAML with the same keys) into a ModelConfig."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(str(path), "", f"cannot read the model config: {error.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise InputError(str(path), "", f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                         f"{error}") from None
    return parse_model(data, path)


def bundled_models() -> tuple[str, ...]:
    """Names of the configs bundled in ``racksim/models`` (file stems)."""
    folder = resources.files("racksim") / "models"
    return tuple(sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")))


def bundled_model(name: str) -> ModelConfig:
    """A bundled model config by name (e.g. ``llama3-70b``); see ``racksim/models/SOURCES.md``."""
    if name not in bundled_models():
        raise InputError(name, "", f"no bundled model of that name; bundled: {', '.join(bundled_models())}")
    entry = resources.files("racksim") / "models" / f"{name}.json"
    return parse_model(json.loads(entry.read_text(encoding="utf-8")), f"racksim/models/{name}.json")
