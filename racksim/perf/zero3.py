"""ZeRO 3's collectives per layer, as FSDP gathers whole layers and as DeepSpeed's ZeRO-3 of 2021 ran per tensor, s.

The exposed part of a step, what overlap hides of these times, is `training._dp_exposed_s`'s; this module times
one layer's gather and reduce-scatter (`zero3_layer_s`) with what the per-tensor path adds around each collective:
the flat staging buffer's copies (`staging_s`), the host's view ops (`HOST_VIEW_OP_S`) and a norm read of every
tensor (`hbm_read_s`).
"""

from __future__ import annotations

from collections.abc import Callable

from racksim.perf.accelerator import Accelerator
from racksim.perf.layout import Layout
from racksim.perf.model import ModelConfig
from racksim.perf.params import layer_matrices, layer_vectors

Meter = Callable[..., float]
"""A collective timer that also counts the bytes sent (`training._Meter`: kind, bytes, ranks, inside, per domain;
keywords `part`, `times`)."""


def zero3_layer_s(m: ModelConfig, layout: Layout, acc: Accelerator, domain: int, coll: Meter, dense: float,
                  expert: float, layers: float, gathers: int) -> tuple[float, float]:
    """ZeRO 3: (gather, reduce-scatter) of one layer's weights and gradients over the data-parallel group, s.

    'layer' (`Layout.zero3_gather`): one collective for the layer's share of the stage's weights (bf16) and
    gradients. 'tensor': one gather per weight matrix (`params.layer_matrices`, split t ways; the local experts' over
    the expert data-parallel group) and one reduce-scatter per parameter tensor, the matrices and the norms and
    biases alike (`params.layer_vectors`: DeepSpeed v0.3.15 keeps tensors under its 1e5-element persistence
    threshold gathered, but with `contiguous_gradients` on, `_reduce_scatter_gradients` reduces every parameter's
    gradient with its own `torch.distributed.reduce_scatter`), averaged over dense and MoE layers; the rest of the
    stage (embedding, output layer, final norm) in one more collective per pass, its share per layer returned.
    Each 'tensor' collective also stages its S bytes through a flat buffer as torch.distributed's list API does
    (`staging_s`).
    Each 'tensor' gather also costs what v0.3.15 does around it with the device idle: after its
    `torch.cuda.synchronize()`, a Python loop builds the n ranks' output views (one `narrow` per rank,
    `HOST_VIEW_OP_S` each) before the collective is launched; after it, `fetch_sub_module` formats a debug string
    holding `param.norm()` of every parameter of the module (evaluated although not printed; removed by DeepSpeed
    commit c0eeb69), one HBM read of each tensor, matrices and the norms and biases alike (`hbm_read_s`).
    `gathers`: times each gather runs per layer and micro-batch (the reduce-scatter once), for the traffic; `acc`
    the GPU, `domain` its scale-up domain, `coll` the step's metered collective timer (`training._Meter`).
    """
    grad_bytes = 4.0 if layout.fp32_grads else 2.0
    where_dense = layout.placement("dp", domain)
    where_expert = layout.placement("edp", domain)
    if layout.zero3_gather == "layer":
        groups = [(dense, where_dense)] + ([(expert, where_expert)] if expert else [])
        return (sum(coll("all-gather", params / layers * 2.0, *where, part="dp", times=gathers)
                    for params, where in groups),
                sum(coll("reduce-scatter", params / layers * grad_bytes, *where, part="dp")
                    for params, where in groups))
    t, moe_fraction = layout.tp, m.moe_layers / m.num_hidden_layers

    def gather_s(params: float, where: tuple[int, bool, int], times: float) -> float:
        return (coll("all-gather", params * 2.0, *where, part="dp", times=gathers * times)
                + staging_s(acc, params * 2.0, where[0], zero_fill=True) + where[0] * HOST_VIEW_OP_S
                + hbm_read_s(acc, params * 2.0))

    def reduce_s(params: float, where: tuple[int, bool, int], times: float) -> float:
        return (coll("reduce-scatter", params * grad_bytes, *where, part="dp", times=times)
                + staging_s(acc, params * grad_bytes, where[0], zero_fill=False))

    gather = reduce = per_layer = 0.0
    for fraction, moe_layer in ((1 - moe_fraction, False), (moe_fraction, True)):
        if fraction <= 0:
            continue
        local = m.experts // layout.ep if moe_layer else 0
        matrices, vectors = ([(n / t, where_dense) for n in shared] + [(n / t, where_expert) for n in routed] * local
                             for shared, routed in (layer_matrices(m, moe_layer), layer_vectors(m, moe_layer)))
        per_layer += fraction * sum(n for n, _ in matrices + vectors)
        gather += fraction * sum(gather_s(*tensor, fraction) for tensor in matrices)
        gather += fraction * sum(hbm_read_s(acc, n * 2.0) for n, _ in vectors)  # kept whole, but normed every pass
        reduce += fraction * sum(reduce_s(*tensor, fraction) for tensor in matrices + vectors)
    rest = max(0.0, dense + expert - layers * per_layer)
    return (gather + gather_s(rest, where_dense, 1 / layers) / layers,
            reduce + reduce_s(rest, where_dense, 1 / layers) / layers)


HOST_VIEW_OP_S = 2.26e-6
"""Host time of one eager PyTorch view op (`narrow`), s. Assumed from PyTorch's operator micro-benchmark of `split`
(a view op) in the message of pytorch/pytorch#32194 (2020): 2.26 µs per call after it (CPU tensors; before it
3.34 µs on CPU and 3.33 µs on CUDA tensors alike, a view's host cost not depending on the device). One unnamed CPU,
not DGX A100's, and `split` rather than `narrow`: assumed, not measured; not fitted. Consistent with a PyTorch
maintainer's "approx 2 us" for an elementwise op from Python (pytorch/pytorch#41383, 2020). The loop's
`torch.distributed.get_rank` call per rank is not counted (no figure)."""


def hbm_read_s(acc: Accelerator, message_bytes: float) -> float:
    """HBM time of one kernel reading `message_bytes` (a reduction such as a norm), s: x / (B·η_mem(x))."""
    return float(acc.hbm_time_s(message_bytes))


def staging_s(acc: Accelerator, message_bytes: float, ranks: int, zero_fill: bool) -> float:
    """HBM time of moving one collective's S bytes through a flat staging buffer, rank by rank, s.

    torch.distributed's list all-gather (reduce-scatter) runs NCCL on a flat buffer and copies each of the n ranks'
    S/n slices out of (into) it, one copy kernel each (ProcessGroupNCCL's `outputTensors[i][j].copy_`, the implicit
    memcpy DeepSpeed's commit c0eeb69 of 2021-10-31 names); DeepSpeed v0.3.15 also allocates its gather buffer with
    `torch.zeros`. Each kernel moving x bytes takes x / (B·η_mem(x)) on the roofline, which includes the fixed
    kernel cost: T = n·(2S/n) / (B·η(2S/n)) + [S / (B·η(S))].
    """
    if ranks <= 1 or message_bytes <= 0:
        return 0.0
    slice_bytes = 2.0 * message_bytes / ranks
    copies = ranks * slice_bytes / (acc.hbm_bytes_per_s * float(acc.memory_efficiency(slice_bytes)))
    fill = hbm_read_s(acc, message_bytes) if zero_fill else 0.0
    return copies + fill
