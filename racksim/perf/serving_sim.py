"""Iteration-level serving simulator: a continuous-batching engine fed by a closed loop of clients or a Poisson stream.

Where `racksim.perf.serving` solves a steady state analytically (an M/D/1 queue for prompts, arrivals taken as
Poisson), this module steps the engine one iteration at a time and records every request, so latency percentiles
are per request and the arrival pattern is the benchmark's own:

- **closed loop** (`genai-perf --concurrency C`, `vllm bench serve --max-concurrency`): C clients send their first
  request together at t = 0 and each sends its next one the moment the previous completes (think time 0), all with
  the same L_in prompt and L_out output tokens;
- **open Poisson stream**: requests arrive at rate λ, exponential gaps drawn from a seeded `numpy.random.Generator`;
- **offline** (`trtllm-bench throughput`): N requests all queued at t = 0, throughput over the whole run.

**One iteration** (in-flight batching, first come first served). Requests that have arrived are admitted in arrival
order while fewer than B_max run (B_max: the KV-cache limit at a context of L_in + L_out, `ServingMemory.max_batch`,
or the engine's cap, `Replica.max_batch`). Every running request past its prefill decodes one token (d requests,
mean context c_d = L_in + tokens generated). The budget left, T − d (T = `Replica.max_num_batched_tokens`), goes to
the admitted prompts in order: whole prompts while they fit, at least one (`Replica.chunked_prefill` False,
TensorRT-LLM's default), or chunks of the prompts' remaining tokens filling it (chunked). The iteration takes

    Δt = T_it(d, c_d, p, s̄_c, c̄_p)     (`inference.iteration_time_s`: the same roofline as the analytic model,
                                         p prompt pieces of mean s̄_c tokens ending at mean context c̄_p)

with c_d linearly interpolated between multiples of 32 tokens (each grid point computed once). A prompt whose last
piece ran emits its first token at the iteration's end (TTFT = end − arrival); a decoding request that emits its
L_out-th token completes there (TPOT = (completion − first token)/(L_out − 1)), and in the closed loop its client's
next request arrives at that instant. When nothing runs and nothing waits, the clock jumps to the next arrival. A
stretch of decode-only iterations with no completion and no admission inside is stepped in one go (the same
iterations, without the per-request bookkeeping).

**Measurement** (as a benchmark's steady-state window): each closed-loop client's first `warmup` requests are left
out of the latency statistics, and each sends one more (unmeasured) so the last measured round runs under the same
load; throughput is the output tokens emitted by iterations ending inside the window of
client 0's measured requests (from its first measured arrival to its last completion: whole cycles of the loop),
divided by the window's length. The open stream leaves out the first `warmup` requests and counts
tokens from the first to the last measured arrival.

Not modelled (as in the analytic model): the front end (HTTP, tokenization), scheduler gaps between iterations,
preemption, prefix caching, speculative decoding, and a spread of lengths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from racksim._types import FloatArray
from racksim.errors import InputError
from racksim.perf.inference import Iteration, Replica, TokenTimes, iteration_time_s
from racksim.perf.model import ModelConfig
from racksim.perf.serving import ServingPoint, running_limit
from racksim.perf.training import System

CONTEXT_GRID = 32
"""Tokens between the decode contexts at which the iteration time is computed (linear in between)."""
CLIENT_TURNAROUND_S = 1e-3
"""Time from a response's last token to the client's next request reaching the engine, s (think time 0). Assumed,
not fitted: any value above 0 and below one decode iteration (~20 ms here) gives the same schedule, in which a
request that completes at the end of iteration i is scheduled at the earliest in iteration i + 2 (the engine forms
iteration i + 1 as i ends); 1 ms against 10 ms moves the NIM TTFTs by 9 ms."""
CLOSED_LOOP_WARMUP, CLOSED_LOOP_ROUNDS = 2, 4
"""Requests per client left out before the measurement (the synchronized start and the queue's first waves), and
measured after it: the benchmark's steady-state window (`benchmark_loop`: the NIM validation rows and
`racksim perf serve --concurrency`)."""


@dataclass(frozen=True)
class SimulatedServing:
    """Per-request results of one simulated run and their summary (measured requests only)."""

    ttft_s: FloatArray
    """Time to first token of each measured request (queue included), s."""
    queue_s: FloatArray
    """Wait of each measured request from its arrival to its admission (KV-cache limit or batch cap), s."""
    tpot_s: FloatArray
    """Mean time per output token after the first of each measured request, s (NaN when L_out = 1)."""
    tokens_per_s: float
    """Output tokens per second of the replica over the measurement window."""
    gpus: int
    """GPUs of the replica."""
    max_batch: int
    """B_max, the running-request limit."""
    iterations: int
    """Engine iterations simulated."""

    @property
    def ttft_p50_s(self) -> float:
        """Median TTFT, s."""
        return float(np.median(self.ttft_s))

    @property
    def ttft_p99_s(self) -> float:
        """99th-percentile TTFT, s."""
        return float(np.percentile(self.ttft_s, 99))

    @property
    def tpot_p50_s(self) -> float:
        """Median TPOT, s."""
        return float(np.nanmedian(self.tpot_s))

    @property
    def tpot_p99_s(self) -> float:
        """99th-percentile TPOT, s."""
        return float(np.nanpercentile(self.tpot_s, 99))

    @property
    def tokens_per_s_per_gpu(self) -> float:
        """Output tokens/s per GPU."""
        return self.tokens_per_s / self.gpus

    @property
    def tokens_per_s_per_user(self) -> float:
        """1 / mean TPOT, tokens/s (TensorRT-LLM's per-user output speed)."""
        return 1.0 / float(np.nanmean(self.tpot_s))

    def point(self, concurrency: int, output_len: int) -> ServingPoint:
        """The run's means as a `ServingPoint` (TPOT 0 when L_out = 1: no token after the first)."""
        tpot = float(np.nanmean(self.tpot_s)) if output_len > 1 else 0.0
        return ServingPoint(concurrency=concurrency, batch=min(concurrency, self.max_batch), max_batch=self.max_batch,
                            ttft_s=float(self.ttft_s.mean()), tpot_s=tpot, queue_s=float(self.queue_s.mean()),
                            requests_per_s=self.tokens_per_s / output_len,
                            tokens_per_s_per_gpu=self.tokens_per_s_per_gpu,
                            tokens_per_s_per_user=1.0 / tpot if tpot > 0 else math.inf)


class _Clock:
    """Iteration times on the replica's roofline, the decode context interpolated on a grid (cached per run)."""

    def __init__(self, m: ModelConfig, replica: Replica, system: System) -> None:
        self.m, self.replica, self.system = m, replica, system
        self.at = cache(self._at)
        self.memo: TokenTimes = {}

    def _at(self, decode: int, context: int, pieces: int, piece_tokens: int, piece_context: int) -> float:
        step = Iteration(float(decode), max(1, context), float(pieces), piece_tokens, piece_context)
        return iteration_time_s(self.m, self.replica, self.system, step, self.memo)

    def time_s(self, decode: int, context: float, pieces: int, piece_tokens: int, piece_context: int) -> float:
        """Δt of an iteration with `decode` requests at mean context `context` and `pieces` prompt pieces, s."""
        if decode == 0:
            return self.at(0, 1, pieces, piece_tokens, piece_context)
        low = int(context // CONTEXT_GRID) * CONTEXT_GRID
        frac = (context - low) / CONTEXT_GRID
        t_low = self.at(decode, low, pieces, piece_tokens, piece_context)
        if frac == 0.0:
            return t_low
        return (1.0 - frac) * t_low + frac * self.at(decode, low + CONTEXT_GRID, pieces, piece_tokens, piece_context)


def _prefill_share(remaining: np.ndarray, budget: int, chunked: bool) -> np.ndarray:
    """Prompt tokens each waiting prompt (in admission order) gets this iteration."""
    if chunked:
        before = np.cumsum(remaining) - remaining
        return np.clip(budget - before, 0, remaining)
    fits = np.cumsum(remaining) <= budget
    fits[0] = True  # at least one whole prompt per iteration
    return np.where(np.logical_and.accumulate(fits), remaining, 0)


def _run(m: ModelConfig, replica: Replica, system: System, input_len: int, output_len: int,
         arrival_s: np.ndarray, client: np.ndarray | None, stop: int, turnaround_s: float,
         limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Step the engine until the first `stop` requests complete; closed loop when `client` is given.

    `client[k]` is the request its client sends when request k completes (−1: none); `limit` is B_max.

    Returns arrival, admission, first-token and completion times per request, the iterations' (end time, tokens)
    and their count.
    """
    clock = _Clock(m, replica, system)
    n = arrival_s.size
    arrival = arrival_s.astype(float).copy()
    first = np.full(n, np.nan)
    done = np.full(n, np.nan)
    admit = np.full(n, np.nan)
    admitted = np.zeros(n, dtype=bool)
    prefilled = np.zeros(n, dtype=np.int64)
    generated = np.zeros(n, dtype=np.int64)
    live = np.zeros(0, dtype=np.int64)  # admitted, not completed, in admission order
    ends: list[float] = []  # each iteration's end time and output tokens
    emitted: list[int] = []
    now, pending, earliest = 0.0, stop, float(np.min(arrival))  # earliest: first arrival not yet admitted
    while pending:
        if live.size < limit and earliest <= now:
            waiting = np.flatnonzero(~admitted & (arrival <= now))
            take = waiting[np.argsort(arrival[waiting], kind="stable")][:limit - live.size]
            admitted[take], admit[take] = True, now
            live = np.concatenate([live, take])
            earliest = float(np.min(arrival[~admitted], initial=np.inf))
        if not live.size:
            now = earliest
            continue
        decoding = live[generated[live] >= 1]
        prefill = live[prefilled[live] < input_len]
        d = decoding.size
        if not prefill.size and d:  # decode-only until the next completion or admission: step it at once
            stretch = _decode_stretch(clock, d, input_len + int(generated[decoding].sum()) / d,
                                      int(np.min(output_len - generated[decoding])) - 1, now,
                                      earliest if live.size < limit else np.inf)
            if stretch.size:
                generated[decoding] += stretch.size
                now = float(stretch[-1])
                ends.extend(stretch.tolist())
                emitted.extend([d] * stretch.size)
                continue
        share = _prefill_share(input_len - prefilled[prefill], max(1, replica.max_num_batched_tokens - d),
                               replica.chunked_prefill) if prefill.size else np.zeros(0, dtype=np.int64)
        pieces = prefill[share > 0]
        tokens = share[share > 0]
        context = input_len + int(generated[decoding].sum()) / d if d else 1.0  # means as integer sums / counts
        piece_tokens = round(int(tokens.sum()) / tokens.size) if tokens.size else 0
        piece_context = round(int((prefilled[pieces] + tokens).sum()) / tokens.size) if tokens.size else 0
        now += clock.time_s(d, context, pieces.size, piece_tokens, piece_context)
        generated[decoding] += 1
        prefilled[pieces] += tokens
        ready = pieces[prefilled[pieces] >= input_len]
        first[ready], generated[ready] = now, 1
        finished = np.concatenate([decoding, ready])
        finished = finished[generated[finished] >= output_len]
        done[finished] = now
        pending -= int(np.count_nonzero(finished < stop))
        live = live[np.isnan(done[live])]
        if client is not None:
            nxt = client[finished]
            arrival[nxt[nxt >= 0]] = now + turnaround_s
            earliest = min(earliest, now + turnaround_s) if (nxt >= 0).any() else earliest
        ends.append(now)
        emitted.append(d + ready.size)
    return arrival, admit, first, done, np.column_stack([ends, emitted]), len(ends)


def _decode_stretch(clock: _Clock, decode: int, context: float, iterations: int, now: float,
                    next_arrival_s: float) -> np.ndarray:
    """End times of up to `iterations` decode-only iterations from `now`, each one token longer in context, s.

    Stops before an iteration that would start at or after `next_arrival_s` (an admission changes the batch).

    The same iterations the main loop would step, without its per-request bookkeeping: no request completes or
    joins inside a stretch.
    """
    end_s: list[float] = []
    for step in range(max(0, iterations)):
        if now >= next_arrival_s:
            break
        now += clock.time_s(decode, context + step, 0, 0, 0)
        end_s.append(now)
    return np.asarray(end_s)


def _window_tokens_per_s(log: np.ndarray, start_s: float, end_s: float) -> float:
    """Output tokens emitted by iterations ending in (start, end], per second of that window."""
    inside = (log[:, 0] > start_s) & (log[:, 0] <= end_s)
    return float(log[inside, 1].sum()) / (end_s - start_s)


def simulate_closed_loop(m: ModelConfig, replica: Replica, system: System, input_len: int, output_len: int,
                         concurrency: int, rounds: int = 2, warmup: int = 1, turnaround_s: float = 0.0,
                         source: str = "serve") -> SimulatedServing:
    """C clients, synchronized start, think time 0, `warmup` + `rounds` measured requests each (docstring)."""
    if min(input_len, output_len, concurrency, rounds) < 1 or min(warmup, turnaround_s) < 0:
        raise InputError(source, "concurrency", "lengths, concurrency and rounds are at least 1, warm-up at least 0")
    measured_end = (warmup + rounds) * concurrency
    n = measured_end + concurrency  # one more request per client keeps the load on until the last measured one ends
    ids = np.arange(n)  # request k·C + c is client c's k-th
    client = np.where(ids + concurrency < n, ids + concurrency, -1)
    arrival = np.where(ids < concurrency, 0.0, np.inf)
    limit = running_limit(m, replica, system, input_len + output_len, source)
    arrival, admit, first, done, log, iterations = _run(m, replica, system, input_len, output_len, arrival, client,
                                                        measured_end, turnaround_s, limit)
    measured = (ids >= warmup * concurrency) & (ids < measured_end)
    start, end = float(arrival[warmup * concurrency]), float(done[measured_end - concurrency])  # client 0's cycles
    return _summary(replica, output_len, (arrival, admit, first, done), measured,
                    _window_tokens_per_s(log, start, end), iterations, limit)


def benchmark_loop(m: ModelConfig, replica: Replica, system: System, input_len: int, output_len: int,
                   concurrency: int, source: str = "serve") -> SimulatedServing:
    """The closed loop as a fixed-concurrency benchmark measures it (genai-perf/AIPerf `--concurrency`).

    `CLOSED_LOOP_WARMUP` requests per client left out, `CLOSED_LOOP_ROUNDS` measured, the `CLIENT_TURNAROUND_S`
    turnaround: the NIM validation rows and `racksim perf serve --concurrency`.
    """
    return simulate_closed_loop(m, replica, system, input_len, output_len, concurrency, rounds=CLOSED_LOOP_ROUNDS,
                                warmup=CLOSED_LOOP_WARMUP, turnaround_s=CLIENT_TURNAROUND_S, source=source)


def simulate_poisson(m: ModelConfig, replica: Replica, system: System, input_len: int, output_len: int,
                     rate_per_s: float, requests: int, rng: np.random.Generator, warmup: int = 0,
                     source: str = "serve") -> SimulatedServing:
    """`requests` Poisson arrivals at `rate_per_s` (gaps drawn from `rng`), the first `warmup` not measured."""
    if rate_per_s <= 0 or requests < 2 or not 0 <= warmup < requests - 1:
        raise InputError(source, "rate", "a positive rate, at least 2 requests and fewer warm-up than requests − 1")
    arrival = np.cumsum(rng.exponential(1.0 / rate_per_s, requests))
    limit = running_limit(m, replica, system, input_len + output_len, source)
    arrival, admit, first, done, log, iterations = _run(m, replica, system, input_len, output_len, arrival, None,
                                                        requests, 0.0, limit)
    start, end = float(arrival[warmup]), float(arrival[-1])
    return _summary(replica, output_len, (arrival, admit, first, done), np.arange(requests) >= warmup,
                    _window_tokens_per_s(log, start, end), iterations, limit)


def simulate_offline(m: ModelConfig, replica: Replica, system: System, input_len: int, output_len: int,
                     requests: int, source: str = "serve") -> SimulatedServing:
    """`requests` requests all queued at t = 0 and served to the last (`trtllm-bench throughput`'s offline run).

    Throughput = output tokens / the run's total latency, first request to last completion,
    ramp-up and drain included (`token_throughput_ns` = total output tokens / (end − start),
    tensorrt_llm/bench/dataclasses/statistics.py and reporting.py).
    """
    if min(input_len, output_len, requests) < 1:
        raise InputError(source, "requests", "lengths and the request count are at least 1")
    limit = running_limit(m, replica, system, input_len + output_len, source)
    times = _run(m, replica, system, input_len, output_len, np.zeros(requests), None, requests, 0.0, limit)
    return _summary(replica, output_len, times[:4], np.ones(requests, dtype=bool),
                    requests * output_len / float(np.max(times[3])), times[5], limit)


def _summary(replica: Replica, output_len: int, times: tuple[np.ndarray, ...], measured: np.ndarray,
             tokens_per_s: float, iterations: int, max_batch: int) -> SimulatedServing:
    """The measured requests' latencies from their (arrival, admission, first token, completion) times."""
    arrival, admit, first, done = (t[measured] for t in times)
    tpot = (done - first) / (output_len - 1) if output_len > 1 else np.full(done.size, math.nan)
    return SimulatedServing(ttft_s=first - arrival, queue_s=admit - arrival, tpot_s=tpot, tokens_per_s=tokens_per_s,
                            gpus=replica.gpus, max_batch=max_batch, iterations=iterations)
