"""The performance model's Python API: a design, a model and a job in, a prediction out.

`predict_training(design, model, gpus, global_batch, seq_len, ...)` and `predict_serving(design, model, input_len,
output_len, ...)` take a validated `Design` or a design file's path, and a `ModelConfig`, a config file's path or a
bundled model's name. Layout options left as None are searched (`racksim.perf.search`). The GPUs may span many racks
(nodes) of the design, joined by its scale-out fabric: collectives are timed by racksim's network model on the
design's topology (`perf.hardware.system_from_design`), after a screening pass on a cheap alpha-beta model of the
same links (`screening_collective`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from racksim.design.schema import Design
from racksim.errors import InputError
from racksim.perf.comm import AlphaBeta, CollectiveTime
from racksim.perf.hardware import as_design, gpus_per_rack, system_from_design
from racksim.perf.layout import Layout, PipelineSchedule, Recompute
from racksim.perf.model import ModelConfig, bundled_model, bundled_models, load_model
from racksim.perf.search import (
    Pins,
    ServingChoice,
    TrainingChoice,
    describe,
    memory_parts,
    search_serving,
    search_training,
)
from racksim.perf.serving import ServingPoint
from racksim.perf.training import TrainingStep

MAX_GPUS = 1_000_000
"""Largest job accepted: a million GPUs."""


def resolve_model(model: ModelConfig | str | Path) -> tuple[ModelConfig, str]:
    """(config, label) from a ModelConfig, a bundled model's name or a config.json/YAML path."""
    if isinstance(model, ModelConfig):
        return model, "model"
    if isinstance(model, str) and model in bundled_models():
        return bundled_model(model), model
    path = Path(model)
    if not path.suffix:
        raise InputError(str(model), "", f"no bundled model of that name and not a config file; bundled: "
                         f"{', '.join(bundled_models())}")
    return load_model(path), path.stem


def screening_collective(design: Design) -> AlphaBeta:
    """Ring alpha-beta of the design's links, to rank layouts before the network model times the best few.

    Scale-up: links per GPU × link bandwidth at the scale-up p2p efficiency; scale-out: the tray's NIC bandwidth
    per GPU at the fabric efficiency; NCCL Simple's base and step latencies plus the wire and switch latencies.
    """
    up, out, simple = design.network.scale_up, design.network.scale_out, design.network.protocols.simple
    nics = design.compute_tray.nics
    per_gpu_gbyte_s = nics.count * nics.bandwidth_gbps / 8.0 / design.compute_tray.gpus.count
    fabric_step_s = out.nic_latency_s + 2 * out.fabric.link_latency_s + out.fabric.switch_latency_s
    return AlphaBeta(scale_up_gbyte_s=up.links_per_gpu * up.link_bandwidth_gbyte_s,
                     scale_out_gbyte_s=per_gpu_gbyte_s * out.efficiency / up.p2p_efficiency,
                     efficiency=up.p2p_efficiency, base_latency_s=simple.base_latency_s,
                     step_latency_s=simple.step_latency_s + 2 * up.link_latency_s + up.switch_latency_s,
                     scale_out_step_latency_s=simple.step_latency_s + fabric_step_s)


@dataclass(frozen=True)
class TrainingPrediction:
    """A training job's predicted step on a design, with the layout it ran (searched or given)."""

    design: str
    model: str
    gpus: int
    racks: int
    """Racks (nodes) of the design the GPUs span."""
    gpu_name: str
    hbm_gb: float
    layout: Layout
    step: TrainingStep
    choice: TrainingChoice

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: step_time_s, mfu, hfu, tokens_per_s_per_gpu, memory_gb_per_gpu (total and parts), layout."""
        s, lay = self.step, self.layout
        return {
            "design": self.design, "model": self.model, "gpus": self.gpus, "racks": self.racks, "gpu": self.gpu_name,
            "step_time_s": s.step_time_s, "mfu": s.mfu, "hfu": s.hfu, "tokens_per_s_per_gpu": s.tokens_per_s_per_gpu,
            "memory_gb_per_gpu": {"total": s.memory.total_gb, **memory_parts(s.memory)}, "hbm_gb": self.hbm_gb,
            "breakdown_s": dict(s.breakdown.__dict__),
            "layout": {"tp": lay.tp, "pp": lay.pp, "vpp": lay.vpp, "dp": lay.dp, "cp": lay.cp, "ep": lay.ep,
                       "micro_batch": lay.micro_batch, "recompute": lay.recompute,
                       "sequence_parallel": lay.sequence_parallel, "zero": lay.zero, "precision": lay.precision,
                       "global_batch": lay.global_batch, "seq_len": lay.seq_len, "pp_schedule": lay.pp_schedule},
            "search": {"candidates": self.choice.candidates, "fitting": self.choice.fitting,
                       "ranked": [{"layout": describe(layout), "step_time_s": step.step_time_s, "mfu": step.mfu,
                                   "memory_gb_per_gpu": step.memory.total_gb} for layout, step in self.choice.ranked]},
        }


def _positive(source: str, **values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < 1:
            raise InputError(source, name.replace("_", "-"), f"must be a whole number from 1 ({value} given)")


def predict_training(design: Design | str | Path, model: ModelConfig | str | Path, gpus: int, global_batch: int,
                     seq_len: int, *, precision: str = "bf16", tp: int | None = None, pp: int | None = None,
                     vpp: int | None = None, dp: int | None = None, cp: int | None = None, ep: int | None = None,
                     micro_batch: int | None = None, recompute: Recompute | None = None,
                     sequence_parallel: bool | None = None, zero: int | None = None,
                     pp_schedule: PipelineSchedule = "1f1b", collective: CollectiveTime | None = None,
                     source: str | None = None) -> TrainingPrediction:
    """Predict a training step of `model` on `gpus` GPUs of `design` (options left None are searched).

    `collective` replaces the design's network model (e.g. `comm.DGX_A100`, or a test's); `source` names the
    design in errors (default: its path, or its name). One-line `InputError`s for impossible or non-fitting layouts
    (needed versus available GB).
    """
    the_design, default_source = as_design(design)
    source = source or default_source
    config, label = resolve_model(model)
    _positive(source, gpus=gpus, global_batch=global_batch, seq_len=seq_len, tp=tp, pp=pp, vpp=vpp, dp=dp, cp=cp,
              ep=ep, micro_batch=micro_batch)
    if gpus > MAX_GPUS:
        raise InputError(source, "gpus", f"at most {MAX_GPUS:,} GPUs")
    if zero is not None and not 0 <= zero <= 3:
        raise InputError(source, "zero", "ZeRO stage is 0, 1, 2 or 3")
    system = system_from_design(the_design, collective, source)
    pins = Pins(tp, pp, vpp, dp, cp, ep, micro_batch, recompute, sequence_parallel, zero, pp_schedule)
    choice = search_training(config, gpus, global_batch, seq_len, system,
                             screening_collective(the_design) if collective is None else None, pins, precision,
                             source)
    return TrainingPrediction(the_design.name, label, gpus, math.ceil(gpus / gpus_per_rack(the_design)),
                              system.accelerator.name, system.accelerator.hbm_gb, choice.layout, choice.step, choice)


@dataclass(frozen=True)
class ServingPrediction:
    """A served model's operating point on a design: the replica chosen and its steady state."""

    design: str
    model: str
    gpu_name: str
    input_len: int
    output_len: int
    max_tpot_s: float | None
    choice: ServingChoice

    @property
    def point(self) -> ServingPoint:
        """The chosen operating point."""
        return self.choice.point

    @property
    def method(self) -> str:
        """Which serving model answered: the simulated closed loop (pinned concurrency) or the analytic curve."""
        return "simulated closed loop" if self.choice.simulated is not None else "analytic steady state"

    def percentiles(self) -> dict[str, float]:
        """TTFT and TPOT medians and 99th percentiles per request, s (simulated closed loop only, else empty)."""
        run = self.choice.simulated
        if run is None:
            return {}
        tpot = {"tpot_p50_s": run.tpot_p50_s, "tpot_p99_s": run.tpot_p99_s} if self.output_len > 1 else {}
        return {"ttft_p50_s": run.ttft_p50_s, "ttft_p99_s": run.ttft_p99_s, **tpot}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ttft_s, tpot_s (means), tokens_per_s_per_gpu, tokens_per_s_per_user, replica, per-tp points.

        With a pinned concurrency also the per-request p50/p99 of TTFT and TPOT (`percentiles`).
        """
        p, r = self.point, self.choice.replica
        return {
            "design": self.design, "model": self.model, "gpu": self.gpu_name, "input_len": self.input_len,
            "output_len": self.output_len, "max_tpot_s": self.max_tpot_s, "method": self.method,
            "ttft_s": p.ttft_s, "tpot_s": p.tpot_s, **self.percentiles(),
            "tokens_per_s_per_gpu": p.tokens_per_s_per_gpu,
            "tokens_per_s_per_user": p.tokens_per_s_per_user, "concurrency": p.concurrency, "batch": p.batch,
            "max_batch": p.max_batch, "requests_per_s": p.requests_per_s,
            "replica": {"tp": r.tp, "ep": r.ep, "pp": r.pp, "precision": r.precision, "kv_precision": r.kv_precision},
            "by_tp": {str(t): None if q is None else {
                "concurrency": q.concurrency, "tpot_s": q.tpot_s, "ttft_s": q.ttft_s,
                "tokens_per_s_per_gpu": q.tokens_per_s_per_gpu} for t, q in self.choice.by_tp.items()},
        }


def predict_serving(design: Design | str | Path, model: ModelConfig | str | Path, input_len: int, output_len: int,
                    *, precision: str | None = None, kv_precision: str | None = None, tp: int | None = None,
                    concurrency: int | None = None, max_tpot_s: float | None = None, ep: int = 1, pp: int = 1,
                    collective: CollectiveTime | None = None, source: str | None = None) -> ServingPrediction:
    """Predict serving `model` on `design` (options left None are searched).

    The replica and concurrency of highest tokens/s per GPU with TPOT ≤ `max_tpot_s` win: over the analytic
    throughput-interactivity curve, or at a given `concurrency` on the simulated closed loop a benchmark runs
    (`serving_sim.benchmark_loop`: means, and p50/p99 in `ServingPrediction.percentiles`). Precision defaults to
    FP8 where the GPU has it, else BF16; the KV cache follows (FP8 or BF16). `collective` and `source` as for
    `predict_training`; `ep` > 1 serves an MoE model with expert parallelism and attention data parallelism over
    t·ep GPUs (`inference.Replica.ep`), `pp` > 1 with that many pipeline stages (`inference.Replica.pp`).
    """
    the_design, default_source = as_design(design)
    source = source or default_source
    config, label = resolve_model(model)
    _positive(source, input_len=input_len, output_len=output_len, tp=tp, concurrency=concurrency, ep=ep, pp=pp)
    if max_tpot_s is not None and not max_tpot_s > 0:
        raise InputError(source, "tpot-ms", "must be positive")
    system = system_from_design(the_design, collective, source)
    peaks = system.accelerator.peak_flops
    default = "fp8" if "fp8" in peaks else "bf16"
    chosen = precision or default
    if chosen not in peaks:
        raise InputError(source, "precision", f"{system.accelerator.name} has no {chosen} tensor cores "
                         f"(has {', '.join(peaks)})")
    choice = search_serving(config, system, input_len, output_len, chosen, kv_precision or default, tp, concurrency,
                            max_tpot_s, source, ep, pp)
    return ServingPrediction(the_design.name, label, system.accelerator.name, input_len, output_len, max_tpot_s,
                             choice)
