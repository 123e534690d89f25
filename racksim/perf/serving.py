"""Continuous batching at a concurrency: TTFT, TPOT, tokens/s per GPU and per user, the throughput-interactivity curve.

**Scheduling model** (steady state, closed loop: C clients each send a request of L_in prompt tokens and L_out
output tokens, and the next one as soon as it completes, as `genai-perf --concurrency` and `vllm bench serve
--max-concurrency` do). The engine runs B = min(C, B_max) requests at once, B_max the KV-cache limit at a context of
L_in + L_out (`ServingMemory.max_batch`) or the engine's cap; the other C − B wait in a queue. Prefill is chunked
and interleaved with decode (vLLM V1, SGLang): a prompt takes n_c = ⌈L_in / T⌉ iterations of the token budget T,
its last emitting the first token, then L_out − 1 decode iterations, so a request lives n = n_c + L_out − 1
iterations. Without chunking (`Replica.chunked_prefill` False, TensorRT-LLM's default) a prompt is prefilled whole
in one iteration (n_c = 1) with the decodes in flight, and ⌊(T − d)/L_in⌋ prompts (at least one) fit one
iteration. In steady state an iteration carries, on average,

    d_o = (B − 1)·(L_out − 1)/n other decoding requests (mean context c_d = L_in + L_out/2), and
    p = (B − 1)·n_c/n chunks of other requests' prompts,

and the mean iteration time with a fractional p is the mixture T(p) = (1 − f)·T_it(⌊p⌋) + f·T_it(⌊p⌋ + 1),
f = p − ⌊p⌋, of iterations with whole chunks (`inference.iteration_time_s`), with 1 + d_o decoding requests
while a request decodes and d_o while it prefills. Then

    TPOT = T(p)                          (one token per decoding request per iteration)
    S = n_c·T(p + 1)                     (a prompt's own chunks)
    S_q = T(p + 1)·L_in / (T − d)        (the share of the iterations' prefill budget, T − d tokens, it holds;
                                          whole prompts: S_q = T(p + 1) / max(1, ⌊(T − d)/L_in⌋))
    W = ρ·S_q / (2·(1 − ρ)),  ρ = λ·S_q·(B − 1)/B   (a prompt waits for the other requests' prefills: the
                                          prefill budget as an M/D/1 server, first come first served, arrivals
                                          taken as Poisson; ρ < 1 also caps λ at the prefill capacity)
    TTFT_service = W + S + [B > 1]·T(p)/2  (and for the iteration in flight, half of one on average)
    life = TTFT_service + (L_out − 1)·TPOT,  λ = B / life requests/s   (Little's law; λ solved by bisection,
                                          since W depends on λ)
    queue = (C − B)/λ,  TTFT = queue + TTFT_service
    tokens/s per GPU = λ·L_out / (t·e),  tokens/s per user = 1/TPOT (TensorRT-LLM's "per user output speed").

Not modelled: the serving front end (HTTP, tokenization, detokenization), scheduler gaps between iterations,
speculative decoding, prefix caching, preemption, and the spread of lengths (all requests alike).
`racksim.perf.serving_sim` steps the same engine iteration by iteration with the benchmark's own arrivals (a
closed loop of clients starting together, a Poisson stream, or a queue served to the last) and per-request
latencies. Where each is used: this model for the layout search over concurrencies and the scenarios (a point in
milliseconds); the simulator for the published cases and `racksim perf serve --concurrency`. They agree on TPOT and
tokens/s per GPU within 4.1 % and 2.5 % on a grid of 48 cases (tests/test_perf_serving_sim.py, VALIDATION.md);
below the KV-cache limit the simulated closed loop's TTFT is several times this model's (synchronized clients
arrive in bursts, the M/D/1 wait assumes spread-out arrivals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from racksim._types import FloatArray
from racksim.errors import InputError
from racksim.perf.inference import Iteration, Replica, iteration_time_s, serving_memory
from racksim.perf.model import ModelConfig
from racksim.perf.training import System


@dataclass(frozen=True)
class ServingPoint:
    """The steady state of a replica at one concurrency."""

    concurrency: int
    """Clients C."""
    batch: int
    """Requests running at once, B = min(C, B_max)."""
    max_batch: int
    """B_max: the KV-cache limit (or the engine's cap)."""
    ttft_s: float
    """Time to first token, queue included, s."""
    tpot_s: float
    """Time per output token after the first (inter-token latency), s."""
    queue_s: float
    """Wait before admission when C > B_max, s."""
    requests_per_s: float
    """Completed requests per second of the replica."""
    tokens_per_s_per_gpu: float
    """Output tokens per second per GPU."""
    tokens_per_s_per_user: float
    """1 / TPOT, tokens/s."""


def _mixture_s(m: ModelConfig, replica: Replica, system: System, base: Iteration, chunks: float) -> float:
    """Mean iteration time with `chunks` prompt chunks on average: mixture of ⌊p⌋ and ⌊p⌋ + 1 whole chunks, s."""
    whole = math.floor(chunks)
    frac = chunks - whole

    def at(k: int) -> float:
        step = Iteration(base.decode, base.decode_context, float(k), base.chunk_tokens, base.chunk_context)
        return iteration_time_s(m, replica, system, step)

    return at(whole) if frac == 0 else (1.0 - frac) * at(whole) + frac * at(whole + 1)


def _arrival_rate(batch: int, queue_service_s: float, rest_s: float) -> float:
    """λ solving λ·(rest + W(λ)) = B by bisection, requests/s.

    W = ρ·S_q/(2·(1 − ρ)) is the M/D/1 wait behind the other B − 1 requests' prompts, ρ = λ·S_q·(B − 1)/B. The left
    side grows from 0 at λ = 0 to at least B at λ = min(B/rest, B/((B − 1)·S_q)), so the root is unique.
    """
    low = 0.0
    high = batch / rest_s if batch == 1 else min(batch / rest_s, batch / ((batch - 1) * queue_service_s))
    for _ in range(80):
        rate = 0.5 * (low + high)
        load = rate * queue_service_s * (batch - 1) / batch
        if load >= 1.0 or rate * (rest_s + load * queue_service_s / (2.0 * (1.0 - load))) > batch:
            high = rate
        else:
            low = rate
    return 0.5 * (low + high)


def running_limit(m: ModelConfig, replica: Replica, system: System, context_len: int, source: str = "serve") -> int:
    """B_max: requests of `context_len` tokens the KV cache holds at once, capped by `Replica.max_batch`.

    One-line `InputError` when the weights do not fit or the KV cache cannot hold one request.
    """
    memory = serving_memory(m, replica, system.accelerator, source)
    limit = memory.max_batch(context_len)
    if replica.max_batch is not None:
        limit = min(limit, replica.max_batch)
    if limit < 1:
        raise InputError(source, "memory", f"KV cache of {memory.kv_cache_gb:.1f} GB per GPU holds "
                         f"{memory.kv_tokens} tokens; one request needs {context_len}")
    return limit


def serve(m: ModelConfig, replica: Replica, system: System, input_len: int, output_len: int, concurrency: int,
          source: str = "serve") -> ServingPoint:
    """The steady state at `concurrency` clients (module docstring for the equations).

    One-line `InputError`s: lengths or concurrency below 1, weights that do not fit, a KV cache too small for one
    request's context.
    """
    if min(input_len, output_len, concurrency) < 1:
        raise InputError(source, "concurrency", "input length, output length and concurrency are at least 1")
    max_batch = running_limit(m, replica, system, input_len + output_len, source)
    batch = min(concurrency, max_batch)
    n_chunks = replica.prefill_chunks(input_len)
    chunk = math.ceil(input_len / n_chunks)
    life_iterations = n_chunks + output_len - 1
    others_decoding = (batch - 1) * (output_len - 1) / life_iterations
    decoding = Iteration(decode=1.0 + others_decoding, decode_context=input_len + output_len // 2,
                         chunk_tokens=chunk, chunk_context=min(input_len, chunk * (n_chunks + 1) // 2))
    prefilling = Iteration(others_decoding, decoding.decode_context, 0.0, chunk, decoding.chunk_context)
    others = (batch - 1) * n_chunks / life_iterations
    tpot = _mixture_s(m, replica, system, decoding, others)
    with_chunk = _mixture_s(m, replica, system, prefilling, others + 1.0)
    budget = max(1.0, replica.max_num_batched_tokens - decoding.decode)
    if replica.chunked_prefill:  # a prompt holds its share of the iterations' prompt budget
        queue_service = with_chunk * input_len / budget
    else:  # whole prompts: as many as fit the budget share one iteration, at least one
        queue_service = with_chunk / max(1, math.floor(budget / input_len))
    rest = n_chunks * with_chunk + (tpot / 2 if batch > 1 else 0.0) + (output_len - 1) * tpot
    rate = _arrival_rate(batch, queue_service, rest)
    ttft_service = batch / rate - (output_len - 1) * tpot
    queue = (concurrency - batch) / rate
    return ServingPoint(concurrency=concurrency, batch=batch, max_batch=max_batch, ttft_s=queue + ttft_service,
                        tpot_s=tpot, queue_s=queue, requests_per_s=rate,
                        tokens_per_s_per_gpu=rate * output_len / replica.gpus, tokens_per_s_per_user=1.0 / tpot)


@dataclass(frozen=True)
class ServingCurve:
    """The throughput-interactivity curve of a design: one entry per concurrency, arrays of equal length."""

    concurrency: npt.NDArray[np.int64]
    ttft_s: FloatArray
    tpot_s: FloatArray
    tokens_per_s_per_gpu: FloatArray
    tokens_per_s_per_user: FloatArray
    points: tuple[ServingPoint, ...]


def serving_curve(m: ModelConfig, replica: Replica, system: System, input_len: int, output_len: int,
                  concurrencies: npt.ArrayLike | None = None) -> ServingCurve:
    """`serve` over concurrencies (default 1, 2, 4, … up to twice the KV-cache limit).

    Gives tokens/s per GPU against tokens/s per user. Concurrencies at or past the limit all run the same batch,
    so that batch is computed once and only the queue grows.
    """
    if concurrencies is None:
        limit = serve(m, replica, system, input_len, output_len, 1).max_batch
        concurrencies = 2 ** np.arange(int(math.log2(max(1, 2 * limit))) + 1)
    levels = np.asarray(concurrencies, dtype=np.int64)
    points: list[ServingPoint] = []
    saturated: ServingPoint | None = None
    for c in levels.tolist():
        if saturated is not None:  # same batch, only the queue grows: TTFT += (C − B)/λ
            queue = (c - saturated.batch) / saturated.requests_per_s
            points.append(ServingPoint(**{**saturated.__dict__, "concurrency": c, "queue_s": queue,
                                          "ttft_s": saturated.ttft_s - saturated.queue_s + queue}))
            continue
        point = serve(m, replica, system, input_len, output_len, c)
        saturated = point if point.batch < c or point.batch == point.max_batch else None
        points.append(point)
    return ServingCurve(
        concurrency=levels, ttft_s=np.array([p.ttft_s for p in points]), tpot_s=np.array([p.tpot_s for p in points]),
        tokens_per_s_per_gpu=np.array([p.tokens_per_s_per_gpu for p in points]),
        tokens_per_s_per_user=np.array([p.tokens_per_s_per_user for p in points]), points=tuple(points))


def operating_point(curve: ServingCurve, max_tpot_s: float | None = None,
                    max_ttft_s: float | None = None) -> ServingPoint | None:
    """The point of highest tokens/s per GPU meeting the SLO (TPOT ≤ max_tpot_s and TTFT ≤ max_ttft_s); None if none.

    An SLO on TPOT is a floor on tokens/s per user, 1/max_tpot_s.
    """
    ok = np.ones(curve.concurrency.size, dtype=bool)
    if max_tpot_s is not None:
        ok &= curve.tpot_s <= max_tpot_s
    if max_ttft_s is not None:
        ok &= curve.ttft_s <= max_ttft_s
    if not ok.any():
        return None
    best = int(np.argmax(np.where(ok, curve.tokens_per_s_per_gpu, -np.inf)))
    return curve.points[best]
