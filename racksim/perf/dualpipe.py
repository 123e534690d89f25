"""DualPipe, DeepSeek-V3's bidirectional pipeline schedule: the time of a step on the rank that paces it.

DeepSeek-V3 technical report (arXiv 2412.19437, §3.2.1, Table 2) and deepseek-ai/DualPipe: micro-batches enter
from both ends of the pipeline, rank i running stage i for one direction and stage p − 1 − i for the other
(`layout.pipeline_ranks`), so each rank runs every micro-batch once, half on each of its stages. In the steady
state a forward chunk of one micro-batch runs with the backward chunk of another, each one's expert all-to-all and
pipeline sends overlapped with the other's compute, the compute on the SMs left after communication's share
(`Layout.comm_sm_fraction`):

    F&B = C·/(1 − σ) + X + max(0, A − C·/(1 − σ))

with C the pair's compute (F + B of the rank's mean stage, heads included), σ the communication SM share, X the
tensor- and context-parallel communication (blocking, not overlapped by DualPipe), A the pair's all-to-alls and
two sends. A step of m micro-batches (m even, ≥ 2p) takes m·F&B plus Table 2's bubble

    (p/2 − 1)·(F&B + B − 3W)

with B a backward chunk alone (its all-to-all and send exposed) and W its weight-gradient GEMMs (`weight_grad_s`),
against 1F1B's (p − 1)(F + B). The exposed communication is split between the expert and pipeline parts by their
shares of A.
"""

from __future__ import annotations

from racksim.perf.accelerator import Accelerator
from racksim.perf.layout import Layout, pipeline_ranks, stage_layer_counts
from racksim.perf.model import ModelConfig
from racksim.perf.ops import FUSED_ATTENTION, OpTable, op_time_s


def weight_grad_s(ops: OpTable, acc: Accelerator, precision: str) -> float:
    """W, the weight-gradient GEMMs of the backward of `ops`, s.

    Half the backward time of each matmul with weights (every matmul but the attention core's): a weight's backward
    is an input-gradient and a weight-gradient GEMM of the forward's size each.
    """
    weighted = frozenset(name for name, matmul in zip(ops.name, ops.matmul, strict=True) if matmul) - FUSED_ATTENTION
    return 0.5 * float(op_time_s(ops.select(weighted).backward(), acc, precision).sum())


def dualpipe_step(m: ModelConfig, layout: Layout, layer: tuple[float, ...], send_s: float,
                  heads: tuple[OpTable, OpTable], acc: Accelerator) -> tuple[float, dict[str, float]]:
    """(layers per micro-batch, breakdown parts) of a DualPipe step on the rank that paces it (module docstring).

    `layer`: one layer's (F, B, W, exposed TP and CP communication, forward and backward expert all-to-all) for one
    micro-batch, s; `send_s` one pipeline send; `heads` the (first, last) stage's extra ops.
    """
    f, b, w, blocking, ep_fwd, ep_bwd = layer
    out, p = layout.output_precision, layout.pp  # the ends' ops at the output layer's precision, as 1F1B times them
    counts = stage_layer_counts(m.num_hidden_layers, p)
    head_fbw = {stage: (float(op_time_s(ops, acc, out).sum()), float(op_time_s(ops.backward(), acc, out).sum()),
                        weight_grad_s(ops, acc, out)) for stage, ops in ((0, heads[0]), (p - 1, heads[1]))}

    def rank_load(stages: tuple[int, ...]) -> tuple[float, float, float, float]:
        """Mean over the rank's stages (it runs each for half the micro-batches): layers, head F, B, W."""
        ends = [head_fbw.get(stage, (0.0, 0.0, 0.0)) for stage in stages]
        f_end, b_end, w_end = (sum(end[i] for end in ends) / len(stages) for i in range(3))
        return sum(counts[stage] for stage in stages) / len(stages), f_end, b_end, w_end

    n, head_f, head_b, head_w = max((rank_load(stages) for stages in pipeline_ranks(layout)),
                                    key=lambda load: load[0] * (f + b + blocking + ep_fwd + ep_bwd) + load[1] + load[2])
    overlapped = (n * (f + b) + head_f + head_b) / (1.0 - layout.comm_sm_fraction)
    comm = n * (ep_fwd + ep_bwd) + 2 * send_s
    exposed = max(0.0, comm - overlapped)
    pair = overlapped + n * blocking + exposed
    backward_alone = n * b + head_b + n * ep_bwd + send_s
    bubble = (p / 2 - 1) * max(0.0, pair + backward_alone - 3 * (n * w + head_w))
    ep_share = n * (ep_fwd + ep_bwd) / comm if comm > 0 else 0.0
    mb = layout.microbatches
    return n, {"compute_s": mb * overlapped, "ep_comm_s": mb * exposed * ep_share,
               "pp_comm_s": mb * exposed * (1.0 - ep_share), "bubble_s": bubble}
