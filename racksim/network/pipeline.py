"""Phases of one collective pipelined over chunks: the slowest phase paces, the others only fill the pipeline.

NCCL's multi-node all-reduce algorithms do not run their phases one after the other. Tree (src/device/all_reduce.h,
runTreeUpDown) and NVLS-tree (runTreeSplit with the NVLS reduce and multicast inside the node) cut each channel's
share of the message into chunks and push chunk c through the network while chunk c+1 is reduced inside the node.
With stages i = 1..k of per-byte cost β_i (s/byte over all channels) and fixed cost a_i (s), and chunks of span
s_c bytes in flight at once (chunk × channels), a message of S bytes takes

    T(S) = Σ_i a_i − (k−1)·t_launch + max_i β_i · S + (Σ_i β_i − max_i β_i) · min(S, s_c)

seconds: the last chunk leaves the slowest stage after S · max β, and the first chunk has to cross every other stage
once before it (the fill). Below one span the message is a single chunk and the stages add, as the phases of a
chained collective do. One launch t_launch serves all stages. Chunk sizes (src/enqueue.cc calcCollChunking): tree
with Simple runs one step of the 4 MiB buffer per chunk (NCCL_STEPS 8: 512 KiB, src/include/device.h, init.cc
DEFAULT_BUFFSIZE); NVLS-tree chunks are nvlsChunkSize (128 KiB, src/transport/nvls.cc).

Pure: builds a `Cost` evaluated by `protocols.time_s`, vectorized over sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from racksim.network.protocols import Cost

TREE_CHUNK_BYTES = 4 * 2**20 // 8
"""Tree chunk with Simple: one step of the 4 MiB buffer (DEFAULT_BUFFSIZE / NCCL_STEPS, src/enqueue.cc), bytes."""


def pipelined(stages: Sequence[Cost], span_bytes: float, launch_s: float, algorithm: str,
              hops: Sequence[int] | None = None) -> Cost:
    """The stages of one collective run as a chunk pipeline (module docstring), as one `Cost`.

    The first stage gives the channel ramp and protocol; the stages' own fills (in-switch chunk growth) add.
    `span_bytes` is the data in flight per pipeline step (chunk × channels), bytes; `launch_s` the launch cost
    counted once, s. `hops` (default one per stage) counts the store-and-forward hops h_i a chunk makes in stage
    i (a chain of m GPUs reduces up and broadcasts down over 2(m−1)), so the fill is (Σ h_i β_i − max β) · min(S,
    s_c): the first chunk crosses every hop once before the slowest stage paces the rest.
    """
    betas = [stage.s_per_byte for stage in stages]
    slowest = max(betas)
    counts = [1] * len(stages) if hops is None else list(hops)
    return replace(stages[0], fixed_s=sum(s.fixed_s for s in stages) - (len(stages) - 1) * launch_s,
                   s_per_byte=slowest, algorithm=algorithm,
                   fill_s=sum(s.fill_s for s in stages), fill_bytes=min(s.fill_bytes for s in stages),
                   overlap_s_per_byte=sum(h * b for h, b in zip(counts, betas, strict=True)) - slowest,
                   overlap_bytes=span_bytes)
