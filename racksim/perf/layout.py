"""A training layout: how a model is split over GPUs and how a step is run.

Ranks are placed as Megatron-LM orders them, tensor-parallel fastest, then context, data (expert-parallel groups
inside it) and pipeline: a group is inside the scale-up (NVLink) domain when its span of ranks fits in one domain.

Pipeline schedules: '1f1b' (interleaved with v > 1 virtual stages) and 'dualpipe', DeepSeek-V3's bidirectional
schedule (arXiv 2412.19437 §3.2.1; deepseek-ai/DualPipe): micro-batches fed from both ends, rank i holding
pipeline stages i and p − 1 − i (`pipeline_ranks`), which needs p even and an even number of micro-batches, at
least 2p (DualPipe's `step` asserts both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from racksim.errors import InputError
from racksim.perf.model import ModelConfig

Recompute = Literal["none", "selective", "full"]
Zero3Gather = Literal["layer", "tensor"]
PipelineSchedule = Literal["1f1b", "dualpipe"]
Fp8Blocks = Literal["none", "deepseek", "mxfp8"]


@dataclass(frozen=True)
class Layout:
    """Parallel degrees, batch and step options of one training job."""

    global_batch: int
    """Sequences per step."""
    seq_len: int
    """Tokens per sequence."""
    micro_batch: int = 1
    """Sequences per micro-batch b."""
    tp: int = 1
    """Tensor-parallel degree t."""
    pp: int = 1
    """Pipeline-parallel degree p."""
    dp: int = 1
    """Data-parallel degree d."""
    cp: int = 1
    """Context-parallel degree (sequence split for attention)."""
    ep: int = 1
    """Expert-parallel degree (carved out of the data-parallel ranks)."""
    vpp: int = 1
    """Virtual pipeline stages per GPU v (interleaved 1F1B when > 1)."""
    sequence_parallel: bool = False
    """Megatron sequence parallelism: norms and dropout split over the TP group; reduce-scatter/all-gather."""
    recompute: Recompute = "none"
    """Activation recomputation: none, selective (attention core) or full (each layer from its input)."""
    zero: int = 1
    """ZeRO stage 0-3 over the data-parallel group (1 = Megatron's distributed optimizer); 3 = FSDP."""
    precision: str = "bf16"
    """Matmul precision ('bf16', 'fp8', 'fp4'); activations and weights are kept in 2-byte bf16."""
    fp8_attention: bool = False
    """Fused attention (scores and context) at `precision` too. False: in BF16 whatever `precision` is, as
    Megatron-Core runs it by default under an FP8 recipe (TransformerConfig `fp8_dot_product_attention` False:
    Transformer Engine's dot-product attention stays BF16)."""
    fp8_current_scaling: bool = False
    """FP8 per-tensor current scaling (Transformer Engine `Float8CurrentScaling`, Megatron-Bridge's FP8-CS): every
    FP8 GEMM's activation input (forward) and output gradient (backward) is quantized by kernels of its own that read
    the BF16 tensor twice, for its amax and then to cast ("FP8 Current Scaling requires two tensor reads per
    quantization", Transformer Engine's FP8 Delayed Scaling page), and write it in FP8 (`ops` quantize rows). False:
    quantization fused into the kernels that produce the inputs (delayed scaling's cast), not timed."""
    fp8_block_scaling: Fp8Blocks = "none"
    """Fine-grained FP8 scaling, its quantize kernels timed (`ops` quantize rows: each activation and output gradient
    read once in BF16 and written twice in FP8, row-wise for its GEMM and transposed for the weight gradient, with
    the scales). 'deepseek': DeepSeek-V3's 1×128 activation tiles and 128×128 weight blocks whose scales the GEMM
    applies on CUDA cores (§3.3.2), GEMMs on the accelerator's block-scaled FP8 curve (`matmul_precision`);
    'mxfp8': Blackwell's MXFP8 (an E8M0 scale per 32 elements, applied by the tensor cores: the FP8 curve). 'none':
    per-tensor scales (`fp8_current_scaling`, or delayed scaling's cast fused into the producing kernels)."""
    fp8_output_layer: bool = False
    """Output layer (logits) at `precision` too. False: in BF16, as Megatron-Core runs it by default (its LM head is
    a tensor_parallel.ColumnParallelLinear outside Transformer Engine's FP8 autocast; `fp8_output_proj` False)."""
    flash_attention: bool = True
    """Fused attention (FlashAttention): causal half of the scores computed, no s×s tensor in HBM."""
    dp_overlap: bool = True
    """Gradient reduce-scatter overlapped with the last micro-batch's backward, parameter gather with the forward."""
    cp_overlap: bool = True
    """Context parallelism: the keys' and values' all-gather (and their gradients' reduce-scatter) hidden behind the
    attention compute, as ring attention passes K/V blocks while it computes (Megatron-Core, Transformer Engine).
    False: gathered whole before the attention and exposed in full, Llama 3's all-gather CP (Dubey et al. 2024,
    §3.3.2: "the all-gather communication latency is exposed in the critical path")."""
    tp_comm_overlap: bool = False
    """Tensor-parallel collectives overlapped with the GEMMs that produce or consume their tensors (Transformer
    Engine userbuffers, Megatron-Core `tp_comm_overlap`; `racksim.perf.tp_overlap`). Needs sequence parallelism
    and TP > 1, as Megatron-Bridge requires (otherwise it turns the overlap off, and so does the model)."""
    fp32_grads: bool = True
    """Gradients accumulated in fp32 (Megatron's main grads): 18 bytes of state per parameter instead of 16."""
    zero3_prefetch_layers: int = 1
    """ZeRO 3: layers whose weights are gathered ahead of the compute (PyTorch FSDP: one all-gather ahead). 0: no
    overlap, every gather waits for the compute before it and the compute for the gather (DeepSpeed's ZeRO-3 of
    2021 synchronized the device before each gather, `_allgather_param` in v0.3.15)."""
    pp_schedule: PipelineSchedule = "1f1b"
    """Pipeline schedule: '1f1b' (interleaved when vpp > 1) or 'dualpipe' (DeepSeek-V3's bidirectional schedule:
    each forward chunk overlapped with another micro-batch's backward chunk, expert all-to-all and pipeline sends
    hidden behind their compute where it covers them; bubble (p/2 − 1)(F&B + B − 3W); two stages' parameters and
    p + 1 micro-batches' activations per rank)."""
    comm_sm_fraction: float = 0.0
    """Share of the GPU's streaming multiprocessors kept for communication kernels while compute overlaps them
    ('dualpipe'): the compute runs on the rest, 1/(1 − share) slower. DeepSeek-V3: 20 of H800's 132 SMs (§3.2.2)."""
    ep_max_domains: int = 0
    """Node-limited routing: a token's routed experts lie in at most this many scale-up domains (DeepSeek-V3: 4
    nodes, §2.1.2), its dispatch crossing the fabric once per remote domain and forwarded over NVLink inside it
    (§3.2.2; the combine the reverse). 0: no limit, every routed copy sent to its expert's GPU directly."""
    ep_fp8_dispatch: bool = False
    """Expert dispatch (forward activations, and the backward's activation gradients before the down-projections)
    sent in FP8 with one fp32 scale per 128 elements; combines stay BF16 (DeepSeek-V3 §3.3.4)."""
    recompute_norms: bool = False
    """Norm outputs, and with multi-head latent attention the query, key and value up-projections, recomputed in the
    backward from their stored inputs instead of kept (DeepSeek-V3 §3.2.3)."""
    fp8_activations: bool = False
    """Matmul inputs kept for the backward in FP8 (1 byte; the attention output in the 12-bit E5M6), the MLP
    activation's inputs cached in FP8 and its output recomputed (DeepSeek-V3 §3.3.4). Needs precision 'fp8'."""
    adam_bf16_moments: bool = False
    """Adam's momentum and variance in BF16, 8 bytes of optimizer state per parameter instead of 12 (fp32 master
    weights kept; DeepSeek-V3 §3.3.4)."""
    zero3_gather: Zero3Gather = "layer"
    """ZeRO 3 collectives: 'layer', one all-gather and one reduce-scatter per layer and pass, the weights gathered for
    a recomputed forward kept for its backward (FSDP wrapping each block); 'tensor', one per weight matrix, each
    module released after its forward, so full recompute gathers a third time (DeepSpeed v0.3.15's per-parameter
    all-gather and reduce-scatter; norms and biases under its 1e5-element persistence threshold stay whole)."""

    @property
    def gpus(self) -> int:
        """GPUs of the job: t·p·d·cp."""
        return self.tp * self.pp * self.dp * self.cp

    @property
    def attention_precision(self) -> str:
        """Precision of the attention matmuls: 'fp8' with `fp8_attention` under an FP8 or FP4 recipe, else 'bf16'."""
        return "fp8" if self.fp8_attention and self.precision != "bf16" else "bf16"

    @property
    def matmul_precision(self) -> str:
        """Precision of the linear layers' GEMMs: 'fp8_block' under DeepSeek's block scaling, else `precision`.

        'fp8_block' (`fp8_block_scaling` 'deepseek') runs on its own curve at the fp8 peak (`Accelerator.peak`).
        """
        return "fp8_block" if self.fp8_block_scaling == "deepseek" and self.precision == "fp8" else self.precision

    @property
    def output_precision(self) -> str:
        """Precision of the output layer (logits): `precision` with `fp8_output_layer`, else BF16."""
        return self.precision if self.fp8_output_layer else "bf16"

    @property
    def microbatches(self) -> int:
        """Micro-batches per pipeline per step: global batch / (d · b)."""
        return self.global_batch // (self.dp * self.micro_batch)

    def group_span(self, group: str) -> int:
        """Ranks spanned by one group of `group` ('tp', 'cp', 'ep', 'dp', 'pp') in Megatron's rank order."""
        spans = {"tp": self.tp, "cp": self.tp * self.cp, "ep": self.tp * self.cp * self.ep,
                 "dp": self.tp * self.cp * self.dp, "pp": self.gpus}
        return spans[group]

    def placement(self, group: str, domain: int) -> tuple[int, bool, int]:
        """(ranks, inside one scale-up domain of `domain` GPUs, ranks per domain) of one `group` in rank order.

        Groups: 'tp', 'cp', 'ep', 'dp' and 'edp' (expert data parallel, d/ep ranks at stride t·cp·ep). A group of
        n ranks at stride s spans s·n ranks; beyond one domain it has gcd(n, max(1, D // s)) ranks in each.
        """
        size = {"tp": self.tp, "cp": self.cp, "ep": self.ep, "dp": self.dp, "edp": self.dp // self.ep}[group]
        stride = {"tp": 1, "cp": self.tp, "ep": self.tp * self.cp, "dp": self.tp * self.cp,
                  "edp": self.tp * self.cp * self.ep}[group]
        if size * stride <= domain:
            return size, True, size
        return size, False, math.gcd(size, max(1, domain // stride))


def stage_layer_counts(layers: int, pp: int, vpp: int = 1) -> list[int]:
    """Layers of each of the p pipeline stages, first to last (p = 1: [L]).

    The L layers split into p·v chunks (v virtual stages per GPU) as evenly as possible, ⌈L/pv⌉ or ⌊L/pv⌋ each.
    The short chunks go first to the two ends, which also carry the embedding (first stage) and the output layer
    and loss (last), as Llama 3's 405B pipeline (126 layers) balances its first and last stages; the long chunks
    then spread round-robin over the middle stages before the ends. A stage's layers are its v chunks'.
    """
    if pp == 1:
        return [layers]
    low, extra = divmod(layers, pp * vpp)
    short = pp * vpp - extra
    room = [vpp] * pp  # long chunks each stage can still take
    room[-1] -= 1 if short >= 1 else 0
    room[0] -= 1 if short >= 2 else 0
    longs = [0] * pp
    order = [*range(1, pp - 1), 0, pp - 1]
    while extra:
        for stage in order:
            if extra and longs[stage] < room[stage]:
                longs[stage] += 1
                extra -= 1
    return [vpp * low + n for n in longs]


def stage_layers(layers: int, pp: int, vpp: int = 1) -> tuple[int, int, int]:
    """Layers of the (first, most loaded middle, last) pipeline stage; middle 0 when p ≤ 2; p = 1: (L, 0, L)."""
    counts = stage_layer_counts(layers, pp, vpp)
    if pp == 1:
        return layers, 0, layers
    return counts[0], max(counts[1:-1]) if pp > 2 else 0, counts[-1]


def pipeline_ranks(layout: Layout) -> list[tuple[int, ...]]:
    """The pipeline stages each rank holds: (i,) under 1F1B; (i, p − 1 − i) for the first p/2 ranks under DualPipe.

    DualPipe's rank p − 1 − i holds the same two stages as rank i (mirror ranks), so only the first half is listed.
    """
    if layout.pp_schedule == "dualpipe":
        return [(i, layout.pp - 1 - i) for i in range(layout.pp // 2)]
    return [(i,) for i in range(layout.pp)]


def dualpipe_stages_ok(pp: int, vpp: int) -> bool:
    """DualPipe's stage rule: an even number of pipeline stages, no virtual stages."""
    return pp % 2 == 0 and vpp == 1


def dualpipe_microbatches_ok(pp: int, microbatches: int) -> bool:
    """DualPipe's micro-batch rule: an even number, at least 2 × the `pp` stages."""
    return microbatches % 2 == 0 and microbatches >= 2 * pp


def check_layout(model: ModelConfig, layout: Layout, source: str = "layout") -> None:
    """Raise a one-line `InputError` for a layout the model cannot run with (divisibility rules)."""
    if min(layout.global_batch, layout.seq_len, layout.micro_batch, layout.tp, layout.pp, layout.dp, layout.cp,
           layout.ep, layout.vpp) < 1:
        raise InputError(source, "layout", "every degree and size is at least 1")
    rules = [
        (layout.global_batch % (layout.dp * layout.micro_batch) == 0, "global_batch",
         f"{layout.global_batch} sequences do not split into micro-batches of {layout.micro_batch} over "
         f"{layout.dp} data-parallel ranks"),
        (model.num_attention_heads % layout.tp == 0, "tp",
         f"{layout.tp} does not divide the {model.num_attention_heads} attention heads"),
        (layout.pp * layout.vpp <= model.num_hidden_layers, "pp",
         f"{layout.pp} stages × {layout.vpp} virtual stages need at least as many layers "
         f"({model.num_hidden_layers})"),
        (layout.seq_len % layout.cp == 0, "cp", f"{layout.cp} does not divide the sequence of {layout.seq_len}"),
        (layout.dp % layout.ep == 0, "ep", f"expert parallelism {layout.ep} must divide data parallelism "
                                           f"{layout.dp}"),
        (layout.ep == 1 or (model.moe and model.experts % layout.ep == 0), "ep",
         f"{layout.ep} does not divide the {model.experts} routed experts"),
        (layout.vpp == 1 or layout.pp > 1, "vpp", "virtual stages need pipeline parallelism"),
        (0 <= layout.zero <= 3, "zero", "ZeRO stage is 0, 1, 2 or 3"),
        (layout.zero3_prefetch_layers >= 0, "zero3_prefetch_layers", "at least 0 layers"),
        (layout.zero3_gather in ("layer", "tensor"), "zero3_gather", "layer or tensor"),
        (layout.recompute in ("none", "selective", "full"), "recompute", "none, selective or full"),
        (layout.pp_schedule in ("1f1b", "dualpipe"), "pp_schedule", "1f1b or dualpipe"),
        (layout.pp_schedule != "dualpipe" or dualpipe_stages_ok(layout.pp, layout.vpp), "pp_schedule",
         f"dualpipe needs an even number of pipeline stages and no virtual stages (pp {layout.pp}, "
         f"vpp {layout.vpp})"),
        (layout.pp_schedule != "dualpipe" or dualpipe_microbatches_ok(layout.pp, layout.microbatches), "pp_schedule",
         f"dualpipe needs an even number of micro-batches, at least 2 × {layout.pp} stages "
         f"(has {layout.microbatches})"),
        (0.0 <= layout.comm_sm_fraction < 1.0, "comm_sm_fraction", "at least 0 and below 1"),
        (layout.ep_max_domains >= 0, "ep_max_domains", "at least 0 (0: no limit)"),
        (not layout.fp8_activations or layout.precision == "fp8", "fp8_activations", "needs precision fp8"),
        (layout.fp8_block_scaling in ("none", "deepseek", "mxfp8"), "fp8_block_scaling", "none, deepseek or mxfp8"),
        (layout.fp8_block_scaling == "none" or (layout.precision == "fp8" and not layout.fp8_current_scaling),
         "fp8_block_scaling", "needs precision fp8 and no per-tensor current scaling"),
    ]
    for ok, field_path, rule in rules:
        if not ok:
            raise InputError(source, field_path, rule)
