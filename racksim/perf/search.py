"""Layout search: the fastest training layout that fits, and the serving layout of highest throughput under an SLO.

**Training.** For N GPUs, a global batch B and a sequence s, the candidates are every combination of

- t, tensor parallel: divides the attention heads, N, and the scale-up domain D (so a group never straddles two
  NVLink domains), t ≤ D;
- cp, context parallel: 1, and 2, 4, 8 for sequences of 16k tokens and more (dividing s);
- p, pipeline parallel: a divisor of the layers or a power of two up to L (stages then uneven, ⌈L/p⌉ or ⌊L/p⌋
  layers, `layout.stage_layers`); d = N / (t·cp·p) must be whole and divide B;
- v, virtual stages: 1, or 2 and 4 where p·v ≤ L (p > 1; chunks uneven as stages are);
- ep, expert parallel (MoE): divides d and the routed experts;
- b, micro-batch: 1, 2, 4, 8 dividing B/d;

with sequence parallelism whenever t > 1, on the 1F1B schedule: DualPipe is not searched (it would double the
candidates, and what it hides is the expert all-to-all most layouts do not have) but may be pinned, keeping only
the candidates it can run (p even, v = 1, an even number of micro-batches ≥ 2p). Options the caller pins (`Pins`)
are held. For each combination only the
memory options that fit HBM and are not dominated are timed: per ZeRO stage the least recompute that fits (none
before selective before full), ZeRO 3 only where it needs less recompute than ZeRO 1 (in this model more recompute
or more sharding alone never shortens a step, but ZeRO 3's exposed gathers and ZeRO 1's recompute are not
comparable), checked with the closed-form memory per GPU (`memory.memory_per_gpu`, microseconds) before any
timing. The candidates that fit are timed with a screening collective model (cheap alpha-beta), the best few again
with the system's own collective model, and the fastest of those wins. No fitting candidate: a one-line error with
the leanest layout's need against the GPU's HBM.

**Serving.** For each t (divides the heads and D, t ≤ D) whose weights fit, the throughput-interactivity curve
(`serving.serving_curve`, concurrency doubling up to past the KV-cache limit, on the analytic steady state) or, at a
pinned concurrency, the iteration-level simulation of the closed loop a benchmark runs (`serving_sim.benchmark_loop`,
the model the NIM validation rows check); the operating point is the highest tokens/s per GPU meeting TPOT ≤ the SLO
(mean TPOT); the best t wins.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from racksim.errors import InputError
from racksim.perf.comm import CollectiveTime
from racksim.perf.inference import Replica, serving_memory
from racksim.perf.layout import Layout, PipelineSchedule, Recompute, dualpipe_microbatches_ok, dualpipe_stages_ok
from racksim.perf.memory import MemoryBreakdown, check_fits, memory_per_gpu
from racksim.perf.model import ModelConfig
from racksim.perf.serving import ServingPoint, operating_point, serving_curve
from racksim.perf.serving_sim import SimulatedServing, benchmark_loop
from racksim.perf.training import System, TrainingStep, train_step

MICRO_BATCHES = (1, 2, 4, 8)
VIRTUAL_STAGES = (1, 2, 4)
CONTEXT_PARALLEL_FROM_TOKENS = 16384
"""Sequences at least this long also try context parallelism 2, 4 and 8."""
RECOMPUTE_ORDER: tuple[Recompute, ...] = ("none", "selective", "full")
RETIMED = 5
"""Candidates re-timed with the system's own collective model after screening."""


@dataclass(frozen=True)
class Pins:
    """Layout options fixed by the caller; None: searched."""

    tp: int | None = None
    pp: int | None = None
    vpp: int | None = None
    dp: int | None = None
    cp: int | None = None
    ep: int | None = None
    micro_batch: int | None = None
    recompute: Recompute | None = None
    sequence_parallel: bool | None = None
    zero: int | None = None
    pp_schedule: PipelineSchedule = "1f1b"
    """Pipeline schedule (not searched)."""


@dataclass(frozen=True)
class TrainingChoice:
    """The searched layout, its predicted step, and the runners-up (fastest first)."""

    layout: Layout
    step: TrainingStep
    ranked: tuple[tuple[Layout, TrainingStep], ...]
    """The re-timed candidates, fastest first (the chosen one included)."""
    candidates: int
    """Combinations enumerated."""
    fitting: int
    """Memory options that fit HBM and were timed (up to two per combination: ZeRO 1 and ZeRO 3)."""


def divisors(n: int) -> list[int]:
    """Positive divisors of n, increasing."""
    small = [k for k in range(1, math.isqrt(n) + 1) if n % k == 0]
    return sorted(set(small + [n // k for k in small]))


def pipeline_options(layers: int) -> list[int]:
    """Pipeline degrees tried: the divisors of the layer count and the powers of two up to it."""
    return sorted(set(divisors(layers)) | {2**k for k in range(layers.bit_length()) if 2**k <= layers})


def _options(pinned: int | None, natural: list[int]) -> list[int]:
    return [pinned] if pinned is not None else natural


def tensor_parallel_options(m: ModelConfig, gpus: int, scale_up_gpus: int) -> list[int]:
    """Tensor-parallel degrees t dividing the heads and N, t ≤ D, D a multiple of t (groups inside one domain)."""
    return [t for t in divisors(m.num_attention_heads)
            if t <= scale_up_gpus and scale_up_gpus % t == 0 and gpus % t == 0]


def layouts(m: ModelConfig, gpus: int, global_batch: int, seq_len: int, scale_up_gpus: int, pins: Pins,
            precision: str) -> Iterator[Layout]:
    """Every layout combination of the module docstring, at recompute none and ZeRO 1 (0 without data parallelism)."""
    cps = [1] + ([2, 4, 8] if seq_len >= CONTEXT_PARALLEL_FROM_TOKENS else [])
    for tp in _options(pins.tp, tensor_parallel_options(m, gpus, scale_up_gpus)):
        for cp in _options(pins.cp, [c for c in cps if seq_len % c == 0]):
            for pp in _options(pins.pp, pipeline_options(m.num_hidden_layers)):
                if gpus % (tp * cp * pp):
                    continue
                dp = gpus // (tp * cp * pp)
                if (pins.dp is not None and pins.dp != dp) or global_batch % dp:
                    continue
                vpps = [v for v in VIRTUAL_STAGES if v == 1 or (pp > 1 and pp * v <= m.num_hidden_layers)]
                eps = [e for e in divisors(dp) if m.experts % e == 0] if m.moe else [1]
                mbs = [b for b in MICRO_BATCHES if (global_batch // dp) % b == 0]
                if pins.pp_schedule == "dualpipe":
                    vpps = [1] if dualpipe_stages_ok(pp, 1) else []
                    mbs = [b for b in mbs if dualpipe_microbatches_ok(pp, global_batch // (dp * b))]
                for vpp in _options(pins.vpp, vpps):
                    for ep in _options(pins.ep, eps):
                        for mb in _options(pins.micro_batch, mbs):
                            yield Layout(global_batch=global_batch, seq_len=seq_len, micro_batch=mb, tp=tp, pp=pp,
                                         dp=dp, cp=cp, ep=ep, vpp=vpp, precision=precision,
                                         pp_schedule=pins.pp_schedule,
                                         sequence_parallel=tp > 1 if pins.sequence_parallel is None
                                         else pins.sequence_parallel,
                                         zero=(1 if dp > 1 else 0) if pins.zero is None else pins.zero)


def _fitting(m: ModelConfig, layout: Layout, pins: Pins, hbm_gb: float) -> tuple[list[Layout], Layout, float]:
    """(the memory options worth timing that fit, leanest option tried, its footprint in GB).

    Per ZeRO stage, the least recompute that fits; ZeRO 3 only with less recompute than ZeRO 1 needs (same
    recompute with more sharding is never faster, but ZeRO 3 without recompute may beat ZeRO 1 with it).
    """
    recomputes = [pins.recompute] if pins.recompute is not None else list(RECOMPUTE_ORDER)
    zeros = [layout.zero] if pins.zero is not None or layout.dp == 1 else [layout.zero, 3]
    leanest, least = layout, math.inf
    options: list[Layout] = []
    for zero in zeros:
        for recompute in recomputes:
            if options and RECOMPUTE_ORDER.index(recompute) >= RECOMPUTE_ORDER.index(options[-1].recompute):
                break
            option = dataclasses.replace(layout, recompute=recompute, zero=zero)
            total = memory_per_gpu(m, option).total_gb
            if total <= hbm_gb:
                options.append(option)
                break
            if total < least:
                leanest, least = option, total
    return options, leanest, least


def search_training(m: ModelConfig, gpus: int, global_batch: int, seq_len: int, system: System,
                    screening: CollectiveTime | None = None, pins: Pins = Pins(), precision: str = "bf16",
                    source: str = "layout") -> TrainingChoice:
    """The fastest layout that fits (module docstring); one-line `InputError` when none can run or none fits."""
    acc = system.accelerator
    if precision not in acc.peak_flops:
        raise InputError(source, "precision", f"{acc.name} has no {precision} tensor cores "
                         f"(has {', '.join(acc.peak_flops)})")
    fits: list[Layout] = []
    candidates, leanest, least = 0, None, math.inf
    for layout in layouts(m, gpus, global_batch, seq_len, system.scale_up_gpus, pins, precision):
        candidates += 1
        options, lean, total = _fitting(m, layout, pins, acc.hbm_gb)
        fits.extend(options)
        if not options and total < least:
            leanest, least = lean, total
    if not candidates:
        raise InputError(source, "layout", f"no layout splits {gpus} GPUs, a batch of {global_batch} and "
                         f"{m.num_hidden_layers} layers with the options given (degrees must divide them)")
    if not fits:
        assert leanest is not None
        check_fits(memory_per_gpu(m, leanest), acc, f"{source} (leanest layout: {describe(leanest)})")
    screen = System(acc, screening, system.scale_up_gpus) if screening is not None else system
    timed = sorted(((lay, train_step(m, lay, screen, check_memory=False)) for lay in fits),
                   key=lambda pair: pair[1].step_time_s)[:RETIMED]
    ranked = timed if screening is None else sorted(
        ((lay, train_step(m, lay, system, check_memory=False)) for lay, _ in timed),
        key=lambda pair: pair[1].step_time_s)
    best, step = ranked[0]
    return TrainingChoice(best, step, tuple(ranked), candidates, len(fits))


def describe(layout: Layout) -> str:
    """A layout in one short phrase: tp 8 · pp 4 · dp 2 · mb 1 · selective · ZeRO 1."""
    parts = [f"tp {layout.tp}", f"pp {layout.pp}"] + ([f"vpp {layout.vpp}"] if layout.vpp > 1 else [])
    parts += [f"dp {layout.dp}"] + ([f"cp {layout.cp}"] if layout.cp > 1 else [])
    parts += ([f"ep {layout.ep}"] if layout.ep > 1 else []) + [f"mb {layout.micro_batch}"]
    parts += [f"recompute {layout.recompute}", f"ZeRO {layout.zero}"] + (["SP"] if layout.sequence_parallel else [])
    parts += ["DualPipe"] if layout.pp_schedule == "dualpipe" else []
    return " · ".join(parts)


@dataclass(frozen=True)
class ServingChoice:
    """The chosen replica and operating point, and the best point of every t tried."""

    replica: Replica
    point: ServingPoint
    by_tp: dict[int, ServingPoint | None] = field(default_factory=dict)
    """Best point meeting the SLO per tensor-parallel degree (None: none meets it); absent t: weights do not fit."""
    simulated: SimulatedServing | None = None
    """The chosen replica's simulated closed loop (per-request latencies) at a pinned concurrency; None: the point
    is the analytic steady state."""


def search_serving(m: ModelConfig, system: System, input_len: int, output_len: int, precision: str,
                   kv_precision: str, tp: int | None = None, concurrency: int | None = None,
                   max_tpot_s: float | None = None, source: str = "serve", ep: int = 1,
                   pp: int = 1) -> ServingChoice:
    """Highest tokens/s per GPU meeting TPOT ≤ `max_tpot_s` over t and concurrency (module docstring).

    `ep` > 1 serves an MoE model with that many attention data-parallel ranks sharing the experts
    (`inference.Replica.ep`); t then applies inside each rank. `pp` > 1 splits the layers into that many stages
    (`inference.Replica.pp`).
    """
    options = [tp] if tp is not None else tensor_parallel_options(m, system.scale_up_gpus, system.scale_up_gpus)
    by_tp: dict[int, ServingPoint | None] = {}
    runs: dict[int, SimulatedServing] = {}
    last_error: InputError | None = None
    for t in options:
        replica = Replica(tp=t, ep=ep, pp=pp, precision=precision, kv_precision=kv_precision)
        try:
            serving_memory(m, replica, system.accelerator, source)
            if concurrency is not None:
                runs[t] = benchmark_loop(m, replica, system, input_len, output_len, concurrency, source)
                point = runs[t].point(concurrency, output_len)
                by_tp[t] = point if max_tpot_s is None or point.tpot_s <= max_tpot_s else None
            else:
                by_tp[t] = operating_point(serving_curve(m, replica, system, input_len, output_len), max_tpot_s)
        except InputError as error:
            if tp is not None:
                raise
            last_error = error
    meeting = {t: p for t, p in by_tp.items() if p is not None}
    if not meeting:
        if not by_tp and last_error is not None:
            raise last_error
        raise InputError(source, "tpot", f"no layout meets TPOT ≤ {1e3 * (max_tpot_s or 0):.1f} ms "
                         f"(tried tp {', '.join(map(str, by_tp))})")
    best = max(meeting, key=lambda t: meeting[t].tokens_per_s_per_gpu)
    return ServingChoice(Replica(tp=best, ep=ep, pp=pp, precision=precision, kv_precision=kv_precision),
                         meeting[best], by_tp, runs.get(best))


def memory_parts(memory: MemoryBreakdown) -> dict[str, float]:
    """Memory per GPU by part with JSON-friendly names, GB."""
    return {"weights": memory.weights_gb, "gradients": memory.gradients_gb, "optimizer": memory.optimizer_gb,
            "activations": memory.activations_gb, "buffers": memory.buffers_gb}
