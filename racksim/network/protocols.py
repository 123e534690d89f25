"""NCCL's protocol and channel facts, and the size-dependent cost of one (algorithm, protocol) choice.

A collective's time at message size S (bytes) is

    T(S) = t_fixed + S · β · C / c(S) + t_fill · min(1, S / S_fill) + β_o · min(S, S_o)

- t_fixed: launch and setup (NCCL's per-protocol base latency) plus k steps of path and per-step latency, s;
- S · β: the bytes term at full bandwidth, β in s/byte over all C channels (CUDA blocks) of the algorithm;
- c(S) = clip(S / b_ch, 1, C): channels NCCL runs at size S. It drops channels while S < C · threads · threshold
  (src/enqueue.cc topoGetAlgoInfo), so below C · b_ch a collective runs on fewer channels and the bytes term
  stretches by C / c(S); b_ch = threads · threshold bytes per channel (constants below);
- t_fill · min(1, S / S_fill): the pipeline fill of chunked algorithms (in-switch reduction): its chunks grow with
  S until S_fill (src/enqueue.cc calcCollChunking) and the fill then stays t_fill, a calibrated per-design latency;
- β_o · min(S, S_o): the fill of phases pipelined over chunks of span S_o (`pipeline.pipelined`): the first chunk
  crosses the faster phases at β_o s/byte before the slowest phase paces the rest.

All functions are pure and vectorized over sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from racksim._types import FloatArray

# Threads per channel and the per-thread work below which NCCL removes a channel (bytes per thread).
# NCCL src/include/device.h: NCCL_LL_MAX_NTHREADS 512, NCCL_LL128_MAX_NTHREADS 640, NCCL_SIMPLE_MAX_NTHREADS 512;
# src/include/comm.h: NCCL_LL_THREAD_THRESHOLD 8, NCCL_LL128_THREAD_THRESHOLD 8, NCCL_SIMPLE_THREAD_THRESHOLD 64;
# src/graph/tuning.cc (ncclTopoTuneModel): the ring LL threshold is multiplied by the rank count.
THREADS_PER_CHANNEL = {"ll": 512, "ll128": 640, "simple": 512}
THREAD_THRESHOLD_BYTES = {"ll": 8, "ll128": 8, "simple": 64}

NVLS_CHUNK_BYTES = 128 * 1024
"""In-switch (NVLS) chunk at full size, bytes (NCCL comm->nvlsChunkSize default, 128 KiB, src/init.cc)."""
NVLS_FULL_CHUNK_OPS = 64
"""NVLS uses full chunks once S ≥ 64 · channels · chunk (src/enqueue.cc calcCollChunking, NVLS branch)."""


def bytes_per_channel(protocol: str, algorithm: str, n_ranks: int) -> float:
    """b_ch = threads · threshold: the message share under which NCCL drops a channel, bytes."""
    threshold = THREAD_THRESHOLD_BYTES[protocol] * (n_ranks if (protocol, algorithm) == ("ll", "ring") else 1)
    return float(THREADS_PER_CHANNEL[protocol] * threshold)


def in_switch_fill_bytes(channels: int) -> float:
    """S_fill = 64 · channels · 128 KiB: the size from which in-switch reduction runs full chunks, bytes."""
    return float(NVLS_FULL_CHUNK_OPS * channels * NVLS_CHUNK_BYTES)


@dataclass(frozen=True)
class Cost:
    """The cost of one (algorithm, protocol) at any size: T(S) as in the module docstring.

    `channels` 0 means no channel ramp (the bytes term is S · β at every size).
    """

    fixed_s: float
    s_per_byte: float
    algorithm: str
    protocol: str
    channels: int = 0
    channel_bytes: float = 0.0
    fill_s: float = 0.0
    fill_bytes: float = math.inf
    overlap_s_per_byte: float = 0.0
    overlap_bytes: float = 0.0


def time_s(cost: Cost, size_bytes: FloatArray | float) -> FloatArray:
    """T(S) of `cost` at each message size (bytes), s (module docstring)."""
    size = np.asarray(size_bytes, dtype=np.float64)
    stretch = cost.channels / np.clip(size / cost.channel_bytes, 1.0, cost.channels) if cost.channels > 0 else 1.0
    fill = cost.fill_s * np.minimum(1.0, size / cost.fill_bytes) if cost.fill_s > 0 else 0.0
    overlap = cost.overlap_s_per_byte * np.minimum(size, cost.overlap_bytes)
    return np.asarray(cost.fixed_s + size * cost.s_per_byte * stretch + fill + overlap, dtype=np.float64)
