"""Tensor-parallel communication overlapped with the GEMMs (Transformer Engine userbuffers): the exposed part, s.

With `Layout.tp_comm_overlap` (Megatron-Core `tp_comm_overlap`, which needs sequence parallelism) every one of a
layer's tensor-parallel collectives runs together with the GEMM that produces or consumes its tensor, as
Megatron-Bridge's `TransformerLayerTPOverlapCfg` presets pair them (src/megatron/bridge/training/comm_overlap.py at
5776a6d, e.g. `userbuffers_fp8_h100_h8192_tp4_mbs1_seqlen8192`):

- ring exchange (forward: the all-gathers before the QKV and MLP-in GEMMs and the reduce-scatters after the output
  projection and MLP-out GEMMs; backward: the output gradient's all-gathers before the output projection's and
  MLP-out's dgrad GEMMs). The GEMM of time g is split into t chunks, one per TP rank, and the collective into t − 1
  point-to-point steps of c/(t − 1), each under one chunk, the last chunk alone (Wang et al., "Overlap Communication
  with Dependent Computation via Decomposition in Large Deep Learning Models", ASPLOS 2023, the scheme userbuffers
  implements): T = (t − 1)·max(g/t, c/(t − 1)) + g/t;
- bulk (backward: the all-gather of the QKV and MLP-in inputs under those layers' dgrad GEMMs, the reduce-scatter of
  their dgrad outputs under the wgrad GEMMs): both run at once, T = max(g, c).

The exposed time is T − g. A linear layer's dgrad and wgrad GEMMs are each half of its backward (`OpTable.backward`).
Not modelled: the SMs the bulk and pipelined overlaps give to communication (`num_sm` 1-32 in the presets) and the
efficiency the chunked GEMMs lose, so this hides at most what the real overlap hides. Collectives without their GEMM
in the layer (an MoE layer's MLP ones) stay exposed in full.
"""

from __future__ import annotations

FORWARD_PAIRS = (("all-gather", "qkv", "ring"), ("reduce-scatter", "out_proj", "ring"),
                 ("all-gather", "mlp_in", "ring"), ("reduce-scatter", "mlp_out", "ring"))
"""Forward: (collective, GEMM it overlaps, method), Megatron-Bridge's qkv/proj/fc1/fc2 `_fprop` entries."""
BACKWARD_PAIRS = (("all-gather", "out_proj", "ring"), ("all-gather", "mlp_out", "ring"),
                  ("all-gather", "qkv", "bulk"), ("reduce-scatter", "qkv", "bulk"),
                  ("all-gather", "mlp_in", "bulk"), ("reduce-scatter", "mlp_in", "bulk"))
"""Backward: proj/fc2 `_dgrad` (ring exchange), qkv/fc1 `_dgrad` (bulk all-gather) and `_wgrad` (bulk
reduce-scatter); the GEMM time is the layer's dgrad or wgrad half of its backward."""


def overlapped_s(gemm_s: float, comm_s: float, tp: int, method: str) -> float:
    """Time of one GEMM of `gemm_s` run with one collective of `comm_s` over `tp` ranks, s (module docstring)."""
    if method == "bulk" or tp < 2:
        return max(gemm_s, comm_s)
    return (tp - 1) * max(gemm_s / tp, comm_s / (tp - 1)) + gemm_s / tp


def exposed_tp_s(forward_s: dict[str, float], backward_s: dict[str, float], collective_s: dict[str, float], tp: int,
                 recompute_full: bool) -> float:
    """Exposed TP communication of one layer and micro-batch, s.

    `forward_s`, `backward_s`: the layer's op times by name (forward; backward = dgrad + wgrad); `collective_s`: one
    'all-gather' and one 'reduce-scatter' of the layer's message over the TP group, s. Full recompute runs the
    forward's collectives again with the recomputed GEMMs.
    """
    def exposed(kind: str, gemm: str, method: str, times: dict[str, float], share: float) -> float:
        comm = collective_s[kind]
        if gemm not in times:
            return comm
        gemm_s = share * times[gemm]
        return overlapped_s(gemm_s, comm, tp, method) - gemm_s

    forward = sum(exposed(kind, gemm, method, forward_s, 1.0) for kind, gemm, method in FORWARD_PAIRS)
    backward = sum(exposed(kind, gemm, method, backward_s, 0.5) for kind, gemm, method in BACKWARD_PAIRS)
    return forward * (2 if recompute_full else 1) + backward
