"""The training step of a layout: step time and its breakdown, MFU, HFU, tokens/s per GPU, memory per GPU.

Per micro-batch, a pipeline stage runs its ⌈L/p⌉ or ⌊L/p⌋ layers forward (F) and backward with any recompute (B),
each op on the roofline (`racksim.perf.ops`), plus the layers' exposed tensor-, context- and expert-parallel
communication. The most loaded stage (embedding on the first, logits and loss on the last) paces the pipeline. A
step is

    T = m·(F + B) + (p − 1)/v · (F + B) + 2·m·v·T_send + T_dp,exposed + T_optimizer

with m = global batch / (d·b) micro-batches, F + B those of the slowest stage (layers split as evenly as possible,
the short stages at the ends, `pace_stage`), the 1F1B bubble (p − 1)/(v·m) of the ideal time (interleaved with v
virtual stages), one activation send per micro-batch and chunk each way on the critical path, and the data-parallel
gradient reduce-scatter (all-reduce at ZeRO 0) and parameter all-gather exposed beyond the last micro-batch's
backward and the first one's forward when overlapped (`Layout.dp_overlap`), in full otherwise; ZeRO 3 gathers
each layer's weights for every micro-batch's forward and backward and reduce-scatters its gradients, prefetching
`Layout.zero3_prefetch_layers` ahead (none: all exposed), one collective per layer or per weight matrix
(`Layout.zero3_gather`, `_dp_exposed_s`). Data-parallel groups that span racks are timed with their ranks per rack
(`Layout.placement`), so the network's multi-node algorithms see the real hierarchy. Under DualPipe
(`Layout.pp_schedule`) the pipeline terms are `racksim.perf.dualpipe`'s instead: paired chunks whose all-to-alls
and sends hide behind each other's compute, and Table 2's bubble.

Communication per layer and micro-batch, message M = b·(s/cp)·h·2 bytes: without sequence parallelism 2
all-reduces forward and 2 backward; with it 2 all-gathers and 2 reduce-scatters forward, the same backward plus the
2 all-gathers Megatron repeats instead of storing their output; full recompute repeats the forward's; with
`Layout.tp_comm_overlap` only what the GEMMs they run with do not hide (`racksim.perf.tp_overlap`). Expert
parallelism: an all-to-all dispatch and combine of k·M forward and again backward (dispatches in FP8 with
`Layout.ep_fp8_dispatch`; node-limited routing splits each into a fabric and an NVLink part,
`comm.node_limited_all_to_all`). Recompute adds the norms (and MLA's up-projections, `Layout.recompute_norms`) and
the MLP activation (`Layout.fp8_activations`) to the backward. Context parallelism: the
keys and values of all cp ranks, KV = cp·(b·s/cp)·2·g·d·2/t bytes (g KV heads, d head width), all-gathered forward
and again for the backward (or its recomputed forward) and their gradients reduce-scattered, 3 collectives of KV per
layer and micro-batch: exposed beyond the attention core's compute when overlapped (`Layout.cp_overlap`, ring
attention; the backward's two behind the backward core), in full otherwise (Llama 3's all-gather CP).

Traffic: every collective the step times also counts the bytes each GPU sends over the scale-up links and the
scale-out NICs (`comm.link_bytes`, bus bytes), times the calls it stands for; `StepTraffic` is their sum for a GPU
of the stage that paces the step, so the traffic and the step time come from the same list of collectives.

MFU = model FLOPs / (GPUs · dense peak · T), model FLOPs = 3 × the forward matmul FLOPs of the model for the global
batch with full (unmasked) s² attention, as in Megatron-LM's 72·B·s·l·h²(1 + s/6h + V/12lh) (Korthikanti et al.
2022, §6) and PaLM's 6N + 12·L·H·Q·T per token (Chowdhery et al., App. B, the count the Llama 3 paper cites),
routed experts counted k per token; a causal kernel executes about half of the attention term.
HFU adds the recomputed forward FLOPs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from racksim.perf.accelerator import Accelerator
from racksim.perf.comm import CollectiveTime, Kind, link_bytes, node_limited_all_to_all
from racksim.perf.dualpipe import dualpipe_step, weight_grad_s
from racksim.perf.layout import Layout, check_layout, stage_layers
from racksim.perf.memory import MemoryBreakdown, check_fits, memory_per_gpu, recomputed_ops, stage_params
from racksim.perf.model import ModelConfig
from racksim.perf.ops import (
    ATTENTION_CORE,
    BYTES_ACT,
    FP8_TILE_BYTES,
    OpTable,
    Shard,
    head_ops,
    layer_ops,
    op_time_s,
    optimizer_ops,
)
from racksim.perf.tp_overlap import exposed_tp_s
from racksim.perf.zero3 import zero3_layer_s


@dataclass(frozen=True)
class System:
    """What a layout runs on: the GPU, the collective timer, and GPUs per scale-up (NVLink) domain."""

    accelerator: Accelerator
    collective: CollectiveTime
    scale_up_gpus: int


@dataclass(frozen=True)
class StepBreakdown:
    """Where a step's time goes, s (the parts add up to the step time)."""

    compute_s: float
    tp_comm_s: float
    cp_comm_s: float
    ep_comm_s: float
    pp_comm_s: float
    dp_comm_s: float
    bubble_s: float
    optimizer_s: float

    @property
    def total_s(self) -> float:
        """Sum of the parts, s."""
        return sum(self.__dict__.values())


@dataclass(frozen=True)
class StepTraffic:
    """Bytes one GPU of the pacing stage sends per step over (scale-up links, scale-out NICs), GB."""

    layers_gbyte: tuple[float, float] = (0.0, 0.0)
    """Tensor-, context-, expert- and pipeline-parallel collectives of every layer and micro-batch."""
    dp_gbyte: tuple[float, float] = (0.0, 0.0)
    """Data-parallel gradient reduction and parameter gathers (ZeRO 3: every layer, every micro-batch)."""

    @property
    def total_gbyte(self) -> tuple[float, float]:
        """Both, (scale-up, scale-out), GB."""
        return (self.layers_gbyte[0] + self.dp_gbyte[0], self.layers_gbyte[1] + self.dp_gbyte[1])


@dataclass
class _Meter:
    """The step's collective timer, adding up the bytes each GPU sends (`comm.link_bytes`) as it times the calls.

    Each call says the `part` its bytes belong to ('layers' or 'dp'), whether it runs per layer and micro-batch or
    per step (`per`), and how many calls of its size that time stands for (`times`).
    """

    coll: CollectiveTime
    sent: dict[tuple[str, str], np.ndarray] = field(default_factory=lambda: defaultdict(lambda: np.zeros(2)))

    def __call__(self, kind: Kind, message_bytes: float, group_size: int, scale_up: bool, per_domain: int = 1, *,
                 part: str = "layers", per: str = "layer", times: float = 1.0) -> float:
        """Time of one call, s (the collective timer's); counts `times` calls' bytes."""
        self.sent[part, per] += times * np.array(link_bytes(kind, message_bytes, group_size, scale_up, per_domain))
        return self.coll(kind, message_bytes, group_size, scale_up, per_domain)

    def traffic(self, layer_calls: float) -> StepTraffic:
        """Bytes per step with `layer_calls` layer passes per step (micro-batches × layers on the stage), GB."""
        def gbyte(part: str) -> tuple[float, float]:
            total = (layer_calls * self.sent[part, "layer"] + self.sent[part, "step"]) / 1e9
            return float(total[0]), float(total[1])
        return StepTraffic(gbyte("layers"), gbyte("dp"))


@dataclass(frozen=True)
class TrainingStep:
    """The prediction for one training step."""

    step_time_s: float
    breakdown: StepBreakdown
    mfu: float
    hfu: float
    tokens_per_s_per_gpu: float
    memory: MemoryBreakdown
    model_flops: float
    hardware_flops: float
    traffic: StepTraffic = StepTraffic()
    """Bytes each GPU of the pacing stage sends per step, by link class."""


def layer_mix(m: ModelConfig, shard: Shard, experts_local: int) -> list[tuple[float, OpTable]]:
    """(fraction of layers, forward ops) for dense and MoE layers."""
    moe_fraction = m.moe_layers / m.num_hidden_layers
    mix = [(1 - moe_fraction, layer_ops(m, shard))]
    if moe_fraction:
        mix.append((moe_fraction, layer_ops(m, shard, moe_layer=True, experts_local=experts_local)))
    return [(f, ops) for f, ops in mix if f > 0]


def model_flops(m: ModelConfig, global_batch: int, seq_len: int, recompute: str = "none") -> float:
    """3 × forward matmul FLOPs for the global batch (full s² attention), plus recomputed forward FLOPs, FLOPs."""
    shard = Shard(micro_batch=1, seq_len=seq_len, flash_attention=False)
    per_seq = sum(f * m.num_hidden_layers * ops.matmul_flops for f, ops in layer_mix(m, shard, m.experts))
    per_seq += head_ops(m, shard)[1].matmul_flops
    extra = 0.0
    if recompute == "full":
        extra = per_seq - head_ops(m, shard)[1].matmul_flops
    elif recompute == "selective":
        extra = sum(f * m.num_hidden_layers * ops.select(ATTENTION_CORE).matmul_flops
                    for f, ops in layer_mix(m, shard, m.experts))
    return global_batch * (3.0 * per_seq + extra)


def step_shard(layout: Layout, acc: Accelerator | None = None) -> Shard:
    """What one GPU computes for one micro-batch of the layout (on `acc`: its FP8 layout rule, `Shard`)."""
    scaled = layout.fp8_current_scaling and layout.precision != "bf16"
    return Shard(layout.micro_batch, layout.seq_len, layout.tp, layout.cp, layout.sequence_parallel,
                 layout.flash_attention, layout.precision, fp8_current_scaling=scaled,
                 fp8_transposed_copy=scaled and acc is not None and acc.fp8_tn_only,
                 fp8_block_scaling=layout.fp8_block_scaling if layout.precision == "fp8" else "none", moe_permute=True)


def tp_collectives(layout: Layout) -> tuple[list[Kind], list[Kind]]:
    """Tensor-parallel collectives of one layer: (forward, backward incl. recompute)."""
    if layout.tp == 1:
        return [], []
    fwd: list[Kind] = ["all-gather", "reduce-scatter"] * 2 if layout.sequence_parallel else ["all-reduce"] * 2
    bwd: list[Kind] = fwd + (["all-gather"] * 2 if layout.sequence_parallel else [])
    return fwd, bwd + (fwd if layout.recompute == "full" else [])


def optimizer_params(layout: Layout, dense: float, expert: float) -> float:
    """Parameters one GPU's Adam step updates: its stage's `dense` and `expert` ones, sharded with ZeRO ≥ 1.

    Dense parameters are sharded d ways, expert ones d/ep ways (at least 1).
    """
    if not layout.zero:
        return dense + expert
    return dense / layout.dp + expert / max(1, layout.dp // layout.ep)


def train_step(m: ModelConfig, layout: Layout, system: System, check_memory: bool = True,
               source: str = "layout") -> TrainingStep:
    """Predict one training step of `m` under `layout` on `system` (see the module docstring for the model).

    Raises a one-line `InputError` for an impossible layout or, with `check_memory`, one that does not fit HBM.
    """
    check_layout(m, layout, source)
    acc, domain = system.accelerator, system.scale_up_gpus
    coll = _Meter(system.collective)
    memory = memory_per_gpu(m, layout)
    if check_memory:
        check_fits(memory, acc, source)
    prec, attn = layout.matmul_precision, layout.attention_precision
    shard = step_shard(layout, acc)
    fwd_s = bwd_s = w_s = cp_s = ep_s = ep_fwd_s = tp_hidden_s = 0.0
    message = shard.tokens * m.hidden_size * BYTES_ACT
    tp_inside = layout.tp <= domain
    tp_overlap = layout.tp_comm_overlap and layout.sequence_parallel and layout.tp > 1
    tp_once = {kind: system.collective(kind, message, layout.tp, tp_inside)
               for kind in ("all-gather", "reduce-scatter")} if tp_overlap else {}
    again = recomputed_ops(m, layout)
    for fraction, ops in layer_mix(m, shard, m.experts // layout.ep if m.moe else 0):
        f_ops, b_ops = op_time_s(ops, acc, prec, attn), op_time_s(ops.backward(), acc, prec, attn)
        f, b = float(f_ops.sum()), float(b_ops.sum())
        if tp_overlap:
            tp_hidden_s += fraction * exposed_tp_s(dict(zip(ops.name, f_ops.tolist(), strict=True)),
                                                   dict(zip(ops.name, b_ops.tolist(), strict=True)), tp_once,
                                                   layout.tp, layout.recompute == "full")
        core = float(op_time_s(ops.select(ATTENTION_CORE), acc, prec, attn).sum())
        rec = {"none": 0.0, "selective": core, "full": f}[layout.recompute]
        if again:
            rec += float(op_time_s(ops.select(again), acc, prec).sum())
        fwd_s += fraction * f
        bwd_s += fraction * (b + rec)
        if layout.cp > 1:  # K and V gathered forward (and again before backward), gradients scattered
            kv = layout.cp * shard.tokens * 2 * m.kv_heads * m.d_head * BYTES_ACT / layout.tp
            gather = coll("all-gather", kv, *layout.placement("cp", domain), times=3 * fraction)  # 2 AG + RS
            hidden = core if layout.cp_overlap else 0.0
            cp_s += fraction * (max(0.0, gather - hidden) + max(0.0, 2 * gather - 2 * hidden))
        if layout.pp_schedule == "dualpipe":  # W: only DualPipe's bubble needs it
            w_s += fraction * weight_grad_s(ops, acc, prec)
        if "router" in ops.name and layout.ep > 1:
            fwd_a2a, bwd_a2a = _ep_all_to_all_s(m, layout, shard, domain, coll, fraction)
            ep_s += fraction * (fwd_a2a + bwd_a2a)
            ep_fwd_s += fraction * fwd_a2a
    fwd_kinds, bwd_kinds = tp_collectives(layout)
    tp_s = float(sum(coll(kind, message, layout.tp, tp_inside) for kind in fwd_kinds + bwd_kinds))  # bytes metered
    if tp_overlap:  # the same bytes sent, only what the GEMMs do not hide exposed
        tp_s = tp_hidden_s
    first, last = head_ops(m, shard)
    mb, p, v = layout.microbatches, layout.pp, layout.vpp
    send_s = 0.0
    if p > 1:
        send = message / layout.tp  # scatter-gather: each TP rank sends its 1/t, then an NVLink all-gather
        send_s = coll("send", send, 2, 2 * layout.group_span("dp") <= domain, per="step", times=2 * mb * v)
    if layout.pp_schedule == "dualpipe":
        per_stage, parts = dualpipe_step(m, layout, (fwd_s, bwd_s, w_s, tp_s + cp_s, ep_fwd_s, ep_s - ep_fwd_s),
                                     send_s, (first, last), acc)
    else:
        out = layout.output_precision
        head = {name: float(op_time_s(ops, acc, out).sum() + op_time_s(ops.backward(), acc, out).sum())
                for name, ops in (("first", first), ("last", last))}
        per_stage, ends_s = pace_stage(m.num_hidden_layers, p, fwd_s + bwd_s + tp_s + cp_s + ep_s,
                                       head["first"], head["last"], v)
        compute_mb = per_stage * (fwd_s + bwd_s) + ends_s
        comm_mb = per_stage * (tp_s + cp_s + ep_s)
        parts = {"compute_s": mb * compute_mb, "ep_comm_s": mb * per_stage * ep_s, "pp_comm_s": 2 * mb * v * send_s,
                 "bubble_s": (p - 1) / v * (compute_mb + comm_mb)}
    dense, expert = stage_params(m, layout)
    dp_s = _dp_exposed_s(m, layout, system, coll, dense, expert, per_stage, fwd_s, bwd_s)
    opt_s = float(op_time_s(optimizer_ops(optimizer_params(layout, dense, expert)), acc, prec).sum())
    breakdown = StepBreakdown(tp_comm_s=mb * per_stage * tp_s, cp_comm_s=mb * per_stage * cp_s, dp_comm_s=dp_s,
                              optimizer_s=opt_s, **parts)
    step_s = breakdown.total_s
    peak_total = layout.gpus * acc.peak(prec)
    mflops = model_flops(m, layout.global_batch, layout.seq_len)
    hflops = model_flops(m, layout.global_batch, layout.seq_len, layout.recompute)
    return TrainingStep(
        step_time_s=step_s, breakdown=breakdown, mfu=mflops / (peak_total * step_s), hfu=hflops / (peak_total * step_s),
        tokens_per_s_per_gpu=layout.global_batch * layout.seq_len / (step_s * layout.gpus), memory=memory,
        model_flops=mflops, hardware_flops=hflops, traffic=coll.traffic(mb * per_stage))


def pace_stage(layers: int, pp: int, layer_s: float, first_head_s: float, last_head_s: float,
               vpp: int = 1) -> tuple[int, float]:
    """(layers, head time in s) of the pipeline stage that sets the pace: the slowest per micro-batch.

    Stage loads are n_i · `layer_s` plus the embedding on the first and the output layer and loss on the last,
    with the layer counts of `layout.stage_layers`; one stage (p = 1) carries both ends.
    """
    first, middle, last = stage_layers(layers, pp, vpp)
    if pp == 1:
        return layers, first_head_s + last_head_s
    stages = [(first, first_head_s), (last, last_head_s)] + ([(middle, 0.0)] if middle else [])
    return max(stages, key=lambda stage: stage[0] * layer_s + stage[1])


def _ep_all_to_all_s(m: ModelConfig, layout: Layout, shard: Shard, domain: int, coll: _Meter,
                     fraction: float) -> tuple[float, float]:
    """(forward, backward with recompute) expert all-to-all time of one MoE layer and micro-batch, s.

    Forward: the dispatch of the k routed copies of every token and their combine. Backward: the output gradients
    dispatched to the experts (before their down-projections) and the input gradients combined back; full recompute
    runs the forward's pair again. Dispatches move `ops.FP8_TILE_BYTES` per element with
    `Layout.ep_fp8_dispatch` (DeepSeek-V3 §3.3.4: both dispatches FP8, both combines BF16), 2 bytes otherwise; each
    all-to-all is split as `comm.node_limited_all_to_all` says, its parts pipelined (the slower sets the time).
    """
    elements = shard.tokens * m.top_k * m.hidden_size / layout.tp
    size, _, per_domain = layout.placement("ep", domain)
    passes = 2 + (1 if layout.recompute == "full" else 0)

    def all_to_all_s(bytes_per_element: float) -> float:
        calls = node_limited_all_to_all(elements * bytes_per_element, size, per_domain, m.top_k,
                                        layout.ep_max_domains)
        return max(coll(*call, times=fraction * passes) for call in calls)

    pair = all_to_all_s(FP8_TILE_BYTES if layout.ep_fp8_dispatch else BYTES_ACT) + all_to_all_s(BYTES_ACT)
    return pair, (passes - 1) * pair


def _dp_exposed_s(m: ModelConfig, layout: Layout, system: System, coll: _Meter, dense: float, expert: float,
                  layers: float, fwd_s: float, bwd_s: float) -> float:
    """Exposed data-parallel time per step, s: gradient reduction and parameter gathering (module docstring).

    `layers` on the stage; `fwd_s`, `bwd_s`: one layer's forward and backward (with recompute) for one micro-batch,
    the windows overlap may hide communication in. ZeRO 0-2: the gradient reduction overlaps the last micro-batch's
    backward, the parameter all-gather (ZeRO 1-2, after the optimizer) the first forward. ZeRO 3 (FSDP) gathers
    each layer's weights before its forward and again before its backward, and reduce-scatters its gradients after
    its backward, every micro-batch (`zero3.zero3_layer_s`: g, r). With gathers prefetched ahead of the compute
    (`Layout.zero3_prefetch_layers` ≥ 1, one communication stream), per micro-batch

        T_exposed = g + (L − 1)·max(0, g − f) + k·g + (L − 1)·max(0, k·g + r − b) + r

    with f, b one layer's forward and backward, k = 2 backward gathers when full recompute re-gathers
    (`Layout.zero3_gather` 'tensor') and 1 otherwise (the first gather of each pass and the last reduce-scatter
    have no compute to hide behind). Without prefetch (0 layers) all of it, L·(g + k·g + r), adds to the compute.
    """
    domain = system.scale_up_gpus
    grad_bytes = 4.0 if layout.fp32_grads else 2.0
    groups = [(dense, layout.placement("dp", domain))]
    if expert:
        groups.append((expert, layout.placement("edp", domain)))
    if layout.zero == 3:
        regathers = 2 if layout.zero3_gather == "tensor" and layout.recompute == "full" else 1
        gather, reduce = zero3_layer_s(m, layout, system.accelerator, domain, coll, dense, expert, layers,
                                       1 + regathers)
        if not layout.dp_overlap or layout.zero3_prefetch_layers == 0:
            return layout.microbatches * layers * ((1 + regathers) * gather + reduce)
        hidden = max(0.0, layers - 1)
        forward = gather + hidden * max(0.0, gather - fwd_s)
        backward = regathers * gather + hidden * max(0.0, regathers * gather + reduce - bwd_s) + reduce
        return layout.microbatches * (forward + backward)
    reduce_s = gather_s = 0.0
    for params, where in groups:
        if layout.zero == 0:
            reduce_s += coll("all-reduce", params * grad_bytes, *where, part="dp", per="step")
        else:
            reduce_s += coll("reduce-scatter", params * grad_bytes, *where, part="dp", per="step")
            gather_s += coll("all-gather", params * 2.0, *where, part="dp", per="step")
    if not layout.dp_overlap:
        return reduce_s + gather_s
    return max(0.0, reduce_s - layers * bwd_s) + max(0.0, gather_s - layers * fwd_s)
