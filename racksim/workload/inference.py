"""Inference as phases: batching windows whose load follows Poisson arrivals under a daily cycle.

Each design serves the scenario's model with racksim.perf's serving model (`predict_serving`): the replica (tensor-
parallel degree t) and concurrency of highest tokens/s per GPU with TPOT within the SLO. The racks hold
R = ⌊GPUs / t⌋ replicas; their capacity is R · λ* requests/s, λ* the replica's rate at the operating point.

A window of load ρ = served / capacity runs each replica at λ = ρ·λ*. Along the replica's serving curve (the
concurrencies from 1 up to the operating point's), TTFT, TPOT and the GPU activity are interpolated in λ; below the
curve's first point (one request in flight) the replica is busy a share λ/λ₁ of the time and idle (activity 0, the
model resident) otherwise, which the interpolation from (0, idle) gives. The activity of a point is the time mix of
its requests' own prefill (`prefill_time_s`, compute-bound, near TDP) and their share of the decode iterations at
the point's batch (HBM-bound, lower), from `racksim.perf.power`. A backlog left at a window's end adds its
drain time, backlog / capacity, to that window's TTFT.

Work: generated (output) tokens served.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from racksim.design.workload_schema import InferenceWorkload
from racksim.perf.hardware import gpus_per_rack, system_from_design
from racksim.perf.inference import Iteration, Replica, decode_step_time_s, prefill_time_s
from racksim.perf.model import ModelConfig
from racksim.perf.power import iteration_busy
from racksim.perf.predict import ServingPrediction, predict_serving, resolve_model
from racksim.perf.serving import ServingCurve, ServingPoint, serving_curve
from racksim.perf.training import System
from racksim.physics.operating_point import Activity
from racksim.workload.phases import Phase, UncheckpointedSchedule

if TYPE_CHECKING:
    from racksim.design.schema import Design

DAY_S = 86400.0
SERVING_CPU_UTILIZATION = 0.3
"""CPU utilization at full load (tokenization, scheduling): an assumption (A), scaled with the load."""
SERVING_NETWORK_UTILIZATION = 0.3
"""Scale-up network utilization at full load (TP all-reduces): an assumption (A), scaled with the load."""
ArrayOrFloat = float | np.ndarray


def expected_arrivals(mean_per_s: float, amplitude: float, peak_s: float, start_s: ArrayOrFloat,
                      end_s: ArrayOrFloat) -> ArrayOrFloat:
    """∫ λ(t) dt over [start, end] for λ(t) = λ̄ · (1 + a · cos(2π (t − t_peak) / P)), P = 1 day; requests.

    = λ̄ · [(end − start) + a · P/(2π) · (sin(2π (end − t_peak)/P) − sin(2π (start − t_peak)/P))].
    """
    omega = 2 * math.pi / DAY_S
    swing = amplitude / omega * (np.sin(omega * (np.asarray(end_s) - peak_s))
                                 - np.sin(omega * (np.asarray(start_s) - peak_s)))
    return mean_per_s * (np.asarray(end_s) - np.asarray(start_s) + swing)


def point_activity(m: ModelConfig, replica: Replica, system: System, point: ServingPoint, input_len: int,
                   output_len: int) -> float:
    """GPU activity of a replica at a serving point: prefill and decode mixed by their GPU time per request.

    Per request: prefill t_p (its prompt alone, `prefill_time_s`) and L_out / B of the decode iterations at batch B
    (context L_in + L_out/2); u = (t_p·u_p + t_d·u_d) / (t_p + t_d), u_p and u_d from `perf.power.iteration_busy`.
    """
    chunks = replica.prefill_chunks(input_len)
    size = math.ceil(input_len / chunks)
    prefill = iteration_busy(m, replica, system, Iteration(chunks=1, chunk_tokens=size, chunk_context=size,
                                                            logit_tokens=1))
    context = input_len + output_len // 2
    decode = iteration_busy(m, replica, system, Iteration(decode=point.batch, decode_context=context))
    prefill_s = prefill_time_s(m, replica, system, input_len)
    decode_s = output_len * decode_step_time_s(m, replica, system, point.batch, context) / point.batch
    return (prefill_s * prefill.activity + decode_s * decode.activity) / (prefill_s + decode_s)


@dataclass(frozen=True)
class LoadCurve:
    """A replica's TTFT, TPOT and GPU activity against its request rate λ (requests/s), increasing in λ."""

    requests_per_s: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    activity: np.ndarray

    def at(self, rate: float) -> tuple[float, float, float]:
        """(TTFT s, TPOT s, activity) at a request rate, linear between the points, the last held beyond."""
        return (float(np.interp(rate, self.requests_per_s, self.ttft_s)),
                float(np.interp(rate, self.requests_per_s, self.tpot_s)),
                float(np.interp(rate, self.requests_per_s, self.activity)))


def load_curve(m: ModelConfig, prediction: ServingPrediction, system: System,
               curve: ServingCurve | None = None) -> LoadCurve:
    """The serving curve from one request in flight to the operating point, with (0, idle) in front.

    `curve` is the chosen replica's `serving_curve`, if the caller computed it already.
    """
    replica, best = prediction.choice.replica, prediction.point
    curve = curve or serving_curve(m, replica, system, prediction.input_len, prediction.output_len)
    points = [p for p in curve.points if p.concurrency <= best.concurrency and p.requests_per_s <= best.requests_per_s]
    points = sorted({p.concurrency: p for p in [*points, best]}.values(), key=lambda p: p.requests_per_s)
    first = points[0]
    rates = [0.0, *(p.requests_per_s for p in points)]
    return LoadCurve(np.array(rates), np.array([first.ttft_s, *(p.ttft_s for p in points)]),
                     np.array([first.tpot_s, *(p.tpot_s for p in points)]),
                     np.array([0.0, *(point_activity(m, replica, system, p, prediction.input_len,
                                                     prediction.output_len) for p in points)]))


@dataclass(frozen=True)
class Window:
    """One batching window as served: its phase and the latencies its requests saw."""

    phase: Phase
    requests: float
    ttft_s: float
    tpot_s: float


@dataclass(frozen=True)
class InferenceSchedule(UncheckpointedSchedule):
    """An inference workload on one design: replicas of the predicted operating point, windows of Poisson arrivals."""

    workload: InferenceWorkload
    replicas: int
    """Replicas the racks hold, ⌊GPUs / t⌋."""
    prediction: ServingPrediction
    curve: LoadCurve
    seed: int
    gpus: int
    work_unit: str = "tokens"
    tokens_per_work_unit: float = 1.0
    throughput_curve: ServingCurve | None = None
    """The chosen replica's throughput-interactivity curve (`serving_curve`), for the run directory."""

    @classmethod
    def for_design(cls, workload: InferenceWorkload, design: Design, n_racks: int = 1, seed: int = 0,
                   source: str = "") -> InferenceSchedule:
        """The operating point of `workload`'s model on `design` and the replicas of `n_racks` racks."""
        system = system_from_design(design, source=source or design.name)
        prediction = predict_serving(design, workload.model, workload.input_tokens, workload.output_tokens,
                                     precision=workload.precision, tp=workload.tp, max_tpot_s=workload.max_tpot_s,
                                     source=source or design.name)
        gpus = gpus_per_rack(design) * n_racks
        config, _ = resolve_model(workload.model)
        curve = serving_curve(config, prediction.choice.replica, system, workload.input_tokens, workload.output_tokens)
        return cls(workload, gpus // prediction.choice.replica.tp, prediction,
                   load_curve(config, prediction, system, curve), seed, gpus, throughput_curve=curve)

    @property
    def capacity_requests_per_s(self) -> float:
        """Requests per second the replicas serve at the operating point: R · λ*."""
        return self.replicas * self.prediction.point.requests_per_s

    def activity(self, load: float, gpu: float) -> Activity:
        """Utilizations at a share `load` of capacity with GPU activity `gpu` (replica GPUs; the rest idle)."""
        busy_share = self.replicas * self.prediction.choice.replica.tp / self.gpus
        return Activity(gpu * busy_share, load * SERVING_CPU_UTILIZATION, load * SERVING_NETWORK_UTILIZATION)

    def windows(self) -> Iterator[Window]:
        """Window by window: draw the arrivals, queue them, serve up to capacity (a compute-paced phase).

        The windows follow nominal time from midnight; a window stretched by throttling or capping delays the
        rest, so the backlog grows as a real one would.
        """
        w = self.workload
        rng = np.random.default_rng(self.seed)
        peak_s = w.peak_hour * 3600.0
        capacity = self.capacity_requests_per_s
        queued, start_s = 0.0, 0.0
        while True:
            arrivals = rng.poisson(expected_arrivals(w.requests_per_s_mean, w.daily_amplitude, peak_s, start_s,
                                                     start_s + w.window_s))
            queued += float(arrivals)
            served = min(queued, capacity * w.window_s)
            queued -= served
            load = served / (capacity * w.window_s)
            ttft, tpot, gpu = self.curve.at(load * self.prediction.point.requests_per_s)
            phase = Phase("serve", self.activity(load, gpu), w.window_s, "compute",
                          work_units=served * w.output_tokens)
            yield Window(phase, served, ttft + queued / capacity, tpot)
            start_s += w.window_s

    def phases(self) -> Iterator[Phase]:
        """The windows' phases."""
        return (window.phase for window in self.windows())

    def serving_curve(self) -> dict[str, Any] | None:
        """The chosen replica's throughput-interactivity curve and operating point, JSON-ready (SI units)."""
        curve, point = self.throughput_curve, self.prediction.point
        if curve is None:
            return None

        def at(p: ServingPoint) -> dict[str, float]:
            return {"concurrency": p.concurrency, "tokens_per_s_per_gpu": p.tokens_per_s_per_gpu,
                    "tokens_per_s_per_user": p.tokens_per_s_per_user, "ttft_s": p.ttft_s, "tpot_s": p.tpot_s}

        w = self.workload
        return {"model": self.prediction.model, "input_tokens": w.input_tokens, "output_tokens": w.output_tokens,
                "max_tpot_s": w.max_tpot_s, "tensor_parallel": self.prediction.choice.replica.tp,
                "precision": self.prediction.choice.replica.precision,
                "points": [at(p) for p in curve.points], "operating_point": at(point)}

    def performance_metrics(self, duration_s: float) -> dict[str, Any]:
        """TTFT and TPOT percentiles over the requests of the nominal windows in `duration_s`, and the replica.

        Each window's requests see its TTFT and TPOT (the mean of its load); p50 and p99 weight windows by requests.
        """
        rows = []
        for index, window in enumerate(self.windows()):
            if (index + 1) * self.workload.window_s > duration_s * (1 + 1e-12):
                break
            rows.append((window.requests, window.ttft_s, window.tpot_s))
        point, replica = self.prediction.point, self.prediction.choice.replica
        metrics: dict[str, Any] = {
            "replicas": self.replicas, "tensor_parallel": replica.tp,
            "capacity_tokens_per_s_per_gpu": self.capacity_requests_per_s * self.workload.output_tokens / self.gpus,
            "tokens_per_s_per_gpu_at_slo": point.tokens_per_s_per_gpu, "pinned": False}
        weights = np.array([r[0] for r in rows])
        if rows and weights.sum() > 0:
            for col, name in ((1, "ttft_s"), (2, "tpot_s")):
                values = np.array([r[col] for r in rows])
                order = np.argsort(values)
                cumulative = np.cumsum(weights[order]) / weights.sum()
                for q in (50, 99):
                    metrics[f"{name}_p{q}"] = float(values[order][np.searchsorted(cumulative, q / 100.0)])
        return metrics
