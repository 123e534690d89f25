"""Inference on the roofline: one engine iteration of a tensor-parallel replica, the KV cache and its capacity.

A replica is t GPUs running one copy of the model with tensor parallelism (weights, heads and KV heads split t
ways). An engine iteration (vLLM, SGLang, TensorRT-LLM in-flight batching) runs every layer once over a batch
that mixes d decoding requests (one new token each, attending to a KV cache of c_d keys) with whole prompts or
prompt chunks being prefilled (s_c tokens each, attending to c_p keys, causally within the chunk):

- the linear ops (projections, MLP or experts, norms) run once over N = d + p·s_c tokens, so their weights are
  read from HBM once per iteration however many tokens share them: memory-bound at small N, compute-bound at large
  N (`racksim.perf.ops.layer_ops`; an MoE layer reads the experts the N·k routed tokens touch, in expectation
  E·(1 − (1 − k/E)^N));
- decode attention reads each request's KV cache, b·c_d·(bytes per token per layer), memory-bound; a prompt's
  attention is quadratic in its length, compute-bound (`ops` module docstring gives both);
- per layer two all-reduces of N·h·2 bytes over the t ranks (after attention and after the MLP), through the
  `CollectiveTime` protocol: KB-sized in decode, where latency dominates;
- the final norm and logits for the tokens that produce a next token, and an all-gather of the vocab-parallel
  logits.

**Expert parallelism with attention data parallelism** (DeepSeek-V3-style MoE serving, `Replica.ep` = e > 1): the
replica spans t·e GPUs; each of the e attention ranks (t GPUs, tensor parallel inside) runs attention, the dense
layers, the shared experts and the logits for its own 1/e of the requests with those weights replicated; the
routed experts are split e ways (⌈E/e⌉ slots per GPU, redundant copies filling them when e does not divide E, as
DeepSeek's 288 slots for 256 experts on 144 GPUs). Per MoE layer a GPU's N/e tokens go to their k experts and come
back by two all-to-alls over the e ranks (dispatch of N/e·k·h bytes at the weights' width, at most 1 byte, and
combine at 2 bytes; one step each, as DeepEP's kernels send, not overlapped with compute); a GPU reads the weights
of its experts that the replica's N tokens touch, ⌈E/e⌉·(1 − (1 − k/E)^N), and runs N·k/e routed rows (balanced
routing). Requests spread evenly over the attention ranks (a lone prompt is taken as spread too). Not modelled:
multi-token prediction (speculative decoding) and the two-micro-batch overlap of all-to-all with compute.

**Pipeline parallelism** (`Replica.pp` = p > 1): stage k holds ⌈L/p⌉ layers (the largest stage paces; embedding
and logits counted on it) and the batch runs as p micro-batches in flight, so an iteration takes p stage times of a
micro-batch of N/p tokens, each stage time its layers, their TP/EP communication and one send of the micro-batch's
activations (N/p·h·2 bytes) to the next stage: T = p·(T_stage(N/p) + T_send). Weights and KV cache per GPU scale
by ⌈L/p⌉/L.

Each op takes its roofline time (`ops.op_time_s`): matmuls at the weights' precision peak; attention at the BF16
peak (FlashAttention's BF16 kernels; an assumption: FP8 attention kernels exist), prefill attention on the GPU's
fused-attention curve where its design gives one (`ops` module docstring). Times add up (no overlap of
communication with compute). Activations stay 2-byte; weights and KV cache have the bytes of their precision. An
engine that replays padded CUDA graphs (`Replica.cuda_graph_batch_sizes`: TensorRT-LLM's PyTorch backend with
`enable_padding`) runs a decode-only iteration of d requests at the smallest captured batch ≥ d: its linear ops,
all-reduces and logits over that many tokens, its attention over the d real caches.

**Memory per GPU** (vLLM's accounting): of the HBM, the fraction u = `gpu_memory_utilization` (vLLM's default
0.9) is usable; the weights (P·B_w/t), the activation workspace of the largest iteration and a reserve for the CUDA
context and graphs (`memory.RESERVED_GB`) come first, and the rest holds the KV cache. TensorRT-LLM's accounting
(`Replica.memory_policy`) gives the KV cache u × what is left after those instead. KV bytes per token:
2·L·g·d·B_kv for grouped-query attention (K and V of g heads per layer; max(1, g/t) heads per GPU), L·(r_kv +
d_rope)·B_kv for multi-head latent attention (the compressed latent and the rotary key, replicated on every TP
rank). The largest batch at a context of c tokens is ⌊KV tokens per GPU / c⌋ (the whole context reserved per
request, as TensorRT-LLM's default scheduler does). Weights that do not fit are a one-line `InputError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from racksim.errors import InputError
from racksim.perf.accelerator import Accelerator
from racksim.perf.memory import GB, RESERVED_GB, MemoryBreakdown, check_fits
from racksim.perf.model import ModelConfig
from racksim.perf.ops import ATTENTION_CORE, BYTES_ACT, WEIGHT_BYTES, OpTable, Shard, head_ops, layer_ops, op_time_s
from racksim.perf.params import param_counts
from racksim.perf.training import System

GPU_MEMORY_UTILIZATION = 0.9
"""Usable fraction of HBM: vLLM's default `gpu_memory_utilization` (vLLM engine arguments); TensorRT-LLM's
`kv_cache_free_gpu_mem_fraction` default is 0.9 of the memory left after the weights."""
MAX_NUM_BATCHED_TOKENS = 8192
"""Tokens per iteration, the chunked-prefill budget: TensorRT-LLM's default `max_num_tokens` (8192), also vLLM's
default for online serving on large GPUs."""
ATTENTION_PRECISION = "bf16"
LOGIT_OPS = frozenset({"final_norm", "logits"})


@dataclass(frozen=True)
class Replica:
    """One serving copy of a model: tensor-parallel degree, precisions and the engine's limits."""

    tp: int = 1
    """Tensor-parallel degree t of each attention rank (all the replica's GPUs when ep = 1)."""
    pp: int = 1
    """Pipeline-parallel degree p: stages of ⌈L/p⌉ layers, p micro-batches in flight (module docstring)."""
    ep: int = 1
    """Expert-parallel degree e with attention data parallelism (MoE models): e attention ranks of t GPUs share the
    routed experts split e ways (module docstring); 1: experts split t ways like every other weight."""
    precision: str = "fp8"
    """Weights and matmuls: 'bf16', 'fp8' or 'fp4' (the accelerator must have it)."""
    kv_precision: str = "fp8"
    """KV cache elements: 'bf16' or 'fp8' (or 'fp4' where the accelerator has it)."""
    gpu_memory_utilization: float = GPU_MEMORY_UTILIZATION
    """Usable fraction of HBM for weights, workspace and KV cache."""
    max_num_batched_tokens: int = MAX_NUM_BATCHED_TOKENS
    """Token budget of one iteration (prompt tokens and one per decoding request)."""
    chunked_prefill: bool = True
    """Prompts longer than the budget left are split into chunks that share iterations (vLLM V1, SGLang); False:
    each prompt is prefilled whole in one iteration, and prompts that do not fit its budget together wait for the
    next (TensorRT-LLM's default: `enable_chunked_prefill` False in tensorrt_llm/llmapi/llm_args.py,
    `--enable_chunked_context` off in `trtllm-bench`)."""
    max_batch: int | None = None
    """Engine cap on running requests (vLLM max_num_seqs, TensorRT-LLM max_batch_size); None: the KV cache decides."""
    memory_policy: Literal["vllm", "tensorrt-llm"] = "vllm"
    """How u applies: vLLM, u × HBM holds weights, workspace and KV cache; TensorRT-LLM
    (`kv_cache_free_gpu_mem_fraction`), the KV cache takes u × the memory left after them."""
    cuda_graph_batch_sizes: tuple[int, ...] = ()
    """Batch sizes captured as CUDA graphs with padding on (TensorRT-LLM's PyTorch backend,
    `cuda_graph_config: enable_padding: true, batch_sizes: [...]`): an iteration of d decoding requests and no
    prompt runs the graph of the smallest captured size ≥ d, so its linear ops, all-reduces and logits run over
    that many tokens (the padding requests attend to no cache); () or d above the largest: no padding."""

    def run_tokens(self, step: Iteration) -> float:
        """Tokens the iteration's linear ops run over.

        The padded CUDA-graph batch for a decode-only iteration (`cuda_graph_batch_sizes`), else `Iteration.tokens`.
        """
        if step.chunks == 0 and step.decode > 0:
            need = math.ceil(step.decode - 1e-9)
            size = min((g for g in self.cuda_graph_batch_sizes if g >= need), default=None)
            if size is not None:
                return float(size)
        return step.tokens

    @property
    def gpus(self) -> int:
        """GPUs of the replica, t·e·p."""
        return self.tp * self.ep * self.pp

    def prefill_chunks(self, input_len: int) -> int:
        """Iterations one prompt's prefill spans: ⌈L_in / budget⌉ chunked, 1 whole."""
        return math.ceil(input_len / self.max_num_batched_tokens) if self.chunked_prefill else 1

    def stage_fraction(self, m: ModelConfig) -> float:
        """Share of the layers the largest pipeline stage holds, ⌈L/p⌉/L (1 without pipeline parallelism)."""
        return math.ceil(m.num_hidden_layers / self.pp) / m.num_hidden_layers


def check_replica(m: ModelConfig, replica: Replica, acc: Accelerator, source: str = "replica") -> None:
    """Raise a one-line `InputError` for a replica the model or the accelerator cannot run."""
    if replica.tp < 1 or m.num_attention_heads % replica.tp:
        raise InputError(source, "tp", f"{replica.tp} does not divide the {m.num_attention_heads} attention heads")
    if not 1 <= replica.pp <= m.num_hidden_layers:
        raise InputError(source, "pp", f"pipeline parallelism {replica.pp} must be from 1 to the "
                         f"{m.num_hidden_layers} layers")
    if replica.ep < 1 or (replica.ep > 1 and (not m.moe or m.experts < replica.ep)):
        raise InputError(source, "ep", f"expert parallelism {replica.ep} needs an MoE model with at least as many "
                         f"routed experts ({m.experts})")
    for field_path, precision in (("precision", replica.precision), ("kv_precision", replica.kv_precision)):
        if precision not in WEIGHT_BYTES:
            raise InputError(source, field_path, f"{precision!r} is not one of {', '.join(WEIGHT_BYTES)}")
        if precision not in acc.peak_flops:
            raise InputError(source, field_path, f"{acc.name} has no {precision} tensor cores "
                             f"(has {', '.join(acc.peak_flops)})")
    if not 0.0 < replica.gpu_memory_utilization <= 1.0:
        raise InputError(source, "gpu_memory_utilization", "a fraction in (0, 1]")
    if replica.max_num_batched_tokens < 1 or (replica.max_batch is not None and replica.max_batch < 1):
        raise InputError(source, "max_num_batched_tokens", "token budget and batch cap are at least 1")


def kv_bytes_per_token(m: ModelConfig, kv_precision: str = "bf16", tp: int = 1) -> float:
    """KV-cache bytes one token takes on one GPU of a t-way replica (t = 1: the whole model), bytes.

    GQA: 2·L·max(1, g/t)·d·B_kv; MLA: L·(r_kv + d_rope)·B_kv, replicated on every rank.
    """
    per_element = WEIGHT_BYTES[kv_precision]
    if m.mla:
        return m.num_hidden_layers * (int(m.kv_lora_rank or 0) + int(m.qk_rope_head_dim or 0)) * per_element
    return 2.0 * m.num_hidden_layers * max(1.0, m.kv_heads / tp) * m.d_head * per_element


@dataclass(frozen=True)
class ServingMemory:
    """Memory per GPU of a replica, GB, and what is left for the KV cache."""

    weights_gb: float
    workspace_gb: float
    reserved_gb: float
    usable_gb: float
    """HBM the engine takes: u × capacity (vLLM), or the fixed parts plus the KV cache (TensorRT-LLM)."""
    kv_cache_gb: float
    """usable − weights − workspace − reserved (vLLM); u × (capacity − those) (TensorRT-LLM)."""
    kv_bytes_per_token: float
    """KV-cache bytes one token takes on this GPU."""
    attention_ranks: int = 1
    """Attention data-parallel ranks e of the replica, each caching its own requests."""

    @property
    def kv_tokens(self) -> int:
        """Tokens the KV cache holds, count."""
        return int(self.kv_cache_gb * GB // self.kv_bytes_per_token)

    def max_batch(self, context_len: int) -> int:
        """Requests of the replica whose whole context of `context_len` tokens fits at once, count."""
        return self.kv_tokens // context_len * self.attention_ranks


def serving_memory(m: ModelConfig, replica: Replica, acc: Accelerator, source: str = "replica") -> ServingMemory:
    """Weights, workspace, reserve and KV cache per GPU (module docstring); weights that do not fit: `InputError`.

    Workspace: the widest activation of an iteration of the token budget T, input and output of the first MLP (or
    routed-expert) matmul, T·(h + (m − 1)·i/t)·2 bytes, with i the dense MLP width or k × the expert width.
    """
    check_replica(m, replica, acc, source)
    t, counts = replica.tp, param_counts(m)
    routed = m.moe_layers * m.experts * counts.expert
    local = m.moe_layers * _expert_slots(m, replica.ep) * counts.expert
    stage = replica.stage_fraction(m)
    weights = (counts.total - routed + local) * WEIGHT_BYTES[replica.precision] / t * stage / GB
    width = max(m.ffn_size if m.moe_layers < m.num_hidden_layers else 0, m.top_k * m.expert_size)
    workspace = replica.max_num_batched_tokens * (m.hidden_size + (m.mlp_matrices - 1) * width / t) * BYTES_ACT / GB
    check_fits(MemoryBreakdown(weights, 0.0, 0.0, workspace, RESERVED_GB), acc, source,
               replica.gpu_memory_utilization)
    fixed = weights + workspace + RESERVED_GB
    if replica.memory_policy == "vllm":
        usable = acc.hbm_gb * replica.gpu_memory_utilization
        kv_cache = usable - fixed
    else:
        kv_cache = replica.gpu_memory_utilization * (acc.hbm_gb - fixed)
        usable = fixed + kv_cache
    return ServingMemory(weights_gb=weights, workspace_gb=workspace, reserved_gb=RESERVED_GB, usable_gb=usable,
                         kv_cache_gb=kv_cache,
                         kv_bytes_per_token=kv_bytes_per_token(m, replica.kv_precision, t) * stage,
                         attention_ranks=replica.ep)


@dataclass(frozen=True)
class Iteration:
    """What one engine iteration carries: decoding requests and prompt chunks being prefilled."""

    decode: float = 0.0
    """Requests decoding one token each, d (a mean may be fractional)."""
    decode_context: int = 1
    """Keys each decoding request attends to (its prompt and the tokens generated so far), c_d."""
    chunks: float = 0.0
    """Prompt chunks prefilled, p."""
    chunk_tokens: int = 0
    """Tokens per chunk, s_c."""
    chunk_context: int = 0
    """Keys visible to a chunk's last token (earlier chunks of its prompt and the chunk), c_p ≥ s_c."""
    logit_tokens: float | None = None
    """Tokens whose next token is sampled (default d + p: every decode and every chunk's last token)."""

    @property
    def tokens(self) -> float:
        """Tokens the iteration runs through the layers, max(1, d + p·s_c)."""
        return max(1.0, self.decode + self.chunks * self.chunk_tokens)

    @property
    def logits(self) -> float:
        """Tokens whose next token is sampled: `logit_tokens`, or d + p when not given."""
        return self.decode + self.chunks if self.logit_tokens is None else self.logit_tokens


def _expected_experts(m: ModelConfig, tokens: float) -> float:
    """Routed experts the tokens touch in expectation, E·(1 − (1 − k/E)^N), uniform independent routing."""
    if not m.moe:
        return 0.0
    return m.experts * (1.0 - (1.0 - m.top_k / m.experts) ** tokens)


def _expert_slots(m: ModelConfig, ep: int) -> int:
    """Routed experts a GPU holds per MoE layer, ⌈E/e⌉ (redundant copies fill the slots when e does not divide E)."""
    return -(-m.experts // ep) if m.moe else 0


def layer_parts(m: ModelConfig, replica: Replica, step: Iteration) -> list[tuple[float, OpTable, str]]:
    """The ops of all layers of one GPU's stage for `step`: (times run, ops, precision) (no communication).

    With e attention ranks a GPU runs 1/e of the step's requests and tokens; with p stages the ⌈L/p⌉ layers of the
    largest stage (module docstring; `step` is then one micro-batch).
    """
    return _linear_parts(m, replica, replica.run_tokens(step)) + _attention_parts(m, replica, step)


def _linear_parts(m: ModelConfig, replica: Replica, tokens: float) -> list[tuple[float, OpTable, str]]:
    """Every op of the stage's layers but the attention core, over `tokens` tokens of the replica."""
    t, e, prec, stage = replica.tp, replica.ep, replica.precision, replica.stage_fraction(m)
    linear_shard = Shard(1, max(1, round(tokens / e)), t, precision=prec)
    parts: list[tuple[float, OpTable, str]] = []  # (layers, ops, precision)
    moe = m.moe_layers
    for layers, moe_layer in ((m.num_hidden_layers - moe, False), (moe, True)):
        if layers:
            touched = _expected_experts(m, tokens) / m.experts * _expert_slots(m, e) if moe_layer else None
            ops = layer_ops(m, linear_shard, moe_layer, touched)
            parts.append((layers * stage, ops.select(frozenset(ops.name) - ATTENTION_CORE), prec))
    return parts


def _attention_parts(m: ModelConfig, replica: Replica, step: Iteration) -> list[tuple[float, OpTable, str]]:
    """The attention core of the stage's layers: decode over the KV cache and prompt chunks."""
    t, e, prec, stage = replica.tp, replica.ep, replica.precision, replica.stage_fraction(m)
    kv = WEIGHT_BYTES[replica.kv_precision]
    parts: list[tuple[float, OpTable, str]] = []
    if step.decode > 0:
        attn = _attention_core(m, Shard(1, 1, t, precision=prec, context_len=step.decode_context, kv_bytes=kv))
        parts.append((m.num_hidden_layers * stage, attn.scaled(step.decode / e, step.decode / e),
                      ATTENTION_PRECISION))
    if step.chunks > 0:
        attn = _attention_core(m, Shard(1, step.chunk_tokens, t, precision=prec, context_len=step.chunk_context,
                                        kv_bytes=kv))
        parts.append((m.num_hidden_layers * stage * step.chunks / e, attn, ATTENTION_PRECISION))
    return parts


@lru_cache(maxsize=8192)
def _attention_core(m: ModelConfig, shard: Shard) -> OpTable:
    """The attention-core ops of one layer for `shard` (cached: a simulated run asks for the same few shapes)."""
    return layer_ops(m, shard).select(ATTENTION_CORE)


def _parts_time_s(parts: list[tuple[float, OpTable, str]], acc: Accelerator) -> float:
    """Roofline time of (times run, ops, precision) parts, s."""
    return sum(n * float(op_time_s(ops, acc, p).sum()) for n, ops, p in parts)


TokenTimes = dict[tuple[float, int], float]
"""Memo of the token-dependent part of a stage's time, by (tokens, logit tokens), for one model, replica and
system (`iteration_time_s`)."""


def iteration_time_s(m: ModelConfig, replica: Replica, system: System, step: Iteration,
                     memo: TokenTimes | None = None) -> float:
    """Time of one engine iteration on a replica, s: layers, TP all-reduces, logits (module docstring).

    `memo` (one per model, replica and system) keeps the part that depends on the token count only (linear ops,
    logits, communication), so that a simulator stepping many iterations computes it once per count.
    """
    p = replica.pp
    if p > 1:
        micro = Iteration(step.decode / p, step.decode_context, step.chunks / p, step.chunk_tokens,
                          step.chunk_context, step.logits / p)
        send_s = system.collective("send", micro.tokens / replica.ep * m.hidden_size * BYTES_ACT, 2,
                                   replica.gpus <= system.scale_up_gpus)
        return p * (_stage_time_s(m, replica, system, micro, memo) + send_s)
    return _stage_time_s(m, replica, system, step, memo)


def _stage_time_s(m: ModelConfig, replica: Replica, system: System, step: Iteration,
                  memo: TokenTimes | None) -> float:
    """Time of the largest stage for `step` (the whole replica without pipeline parallelism), s."""
    tokens = replica.run_tokens(step)
    key = (tokens, max(1, round((step.logits + tokens - step.tokens) / replica.ep)))
    token_s = memo.get(key) if memo is not None else None
    if token_s is None:
        token_s = _token_time_s(m, replica, system, *key)
        if memo is not None:
            memo[key] = token_s
    return token_s + _parts_time_s(_attention_parts(m, replica, step), system.accelerator)


def _token_time_s(m: ModelConfig, replica: Replica, system: System, run_tokens: float, logit_tokens: int) -> float:
    """The part of a stage's time set by its token count: linear ops, logits and communication, s."""
    acc, t, e, stage = system.accelerator, replica.tp, replica.ep, replica.stage_fraction(m)
    tokens = run_tokens / e
    head = head_ops(m, Shard(1, logit_tokens, t, precision=replica.precision))[1].select(LOGIT_OPS)
    compute_s = _parts_time_s(_linear_parts(m, replica, run_tokens), acc)
    compute_s += float(op_time_s(head, acc, replica.precision).sum())
    comm_s = 0.0
    if t > 1:
        inside = t <= system.scale_up_gpus
        reduce_s = system.collective("all-reduce", tokens * m.hidden_size * BYTES_ACT, t, inside)
        comm_s = 2 * m.num_hidden_layers * stage * reduce_s
        comm_s += system.collective("all-gather", logit_tokens * m.vocab_size * BYTES_ACT, t, inside)
    if e > 1:
        inside = t * e <= system.scale_up_gpus
        routed_bytes = tokens * m.top_k * m.hidden_size
        dispatch = min(1.0, WEIGHT_BYTES[replica.precision])
        per_domain = max(1, min(e, system.scale_up_gpus // t))
        exchange_s = sum(system.collective("all-to-all", routed_bytes * width, e, inside, per_domain)
                         for width in (dispatch, BYTES_ACT))
        comm_s += m.moe_layers * stage * exchange_s
    return compute_s + comm_s


def prefill_time_s(m: ModelConfig, replica: Replica, system: System, input_len: int) -> float:
    """Time to prefill one prompt alone, s: `Replica.prefill_chunks` chunks, the j-th attending to j·s_c keys.

    Compute-bound for long prompts (2·P_active·L_in FLOPs plus attention quadratic in L_in); this is the TTFT of
    an idle replica.
    """
    chunks = replica.prefill_chunks(input_len)
    size = math.ceil(input_len / chunks)
    return sum(iteration_time_s(m, replica, system, Iteration(chunks=1, chunk_tokens=size, chunk_context=min(
        input_len, (j + 1) * size), logit_tokens=1)) for j in range(chunks))


def decode_step_time_s(m: ModelConfig, replica: Replica, system: System, batch: float, context_len: int) -> float:
    """Time of one decode iteration for `batch` requests with `context_len` cached keys each, s.

    Every step reads the weights (P·B_w/t) and the batch's KV cache from HBM: memory-bound at small batch,
    compute-bound (2·P_active·b FLOPs / t) at large batch.
    """
    return iteration_time_s(m, replica, system, Iteration(decode=batch, decode_context=context_len))


def roofline_batch(m: ModelConfig, replica: Replica, acc: Accelerator) -> float:
    """Decode batch where reading the weights takes as long as the matmuls, P_active·2·b = P·B_w·(peak/BW), count.

    b* = (P·B_w / BW) / (2·P_active / peak): below it decode is memory-bound, above it compute-bound (KV-cache
    reads, which grow with b and the context, move the real crossover further).
    """
    counts = param_counts(m)
    read_s = counts.total * WEIGHT_BYTES[replica.precision] / acc.hbm_bytes_per_s
    flop_s = 2.0 * counts.active / acc.peak(replica.precision)
    return read_s / flop_s
