"""Inference as phases: batching windows whose load follows Poisson arrivals under a daily cycle."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from racksim.design.workload_schema import InferenceWorkload
from racksim.physics.operating_point import Activity
from racksim.workload.phases import Phase, UncheckpointedSchedule

DAY_S = 86400.0
INFERENCE_FLOPS_PER_PARAMETER_TOKEN = 2.0
"""Forward-pass FLOPs per active parameter and token (Kaplan et al. 2020)."""
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


@dataclass(frozen=True)
class InferenceSchedule(UncheckpointedSchedule):
    """An inference workload on one design: capacity from FLOPs, windows of Poisson arrivals."""

    workload: InferenceWorkload
    capacity_tokens_per_s: float
    """Tokens per second the job's GPUs serve at full batch: n · Θ_dense · 10¹² · MFU / (2 · N_active)."""
    seed: int
    work_unit: str = "tokens"

    @classmethod
    def for_design(cls, workload: InferenceWorkload, n_gpus: int, dense_tflops: float,
                   seed: int) -> InferenceSchedule:
        """Capacity of `n_gpus` GPUs of `dense_tflops` each at the workload's MFU."""
        flops_per_s = n_gpus * dense_tflops * 1e12 * workload.model_flops_utilization
        return cls(workload, flops_per_s / (INFERENCE_FLOPS_PER_PARAMETER_TOKEN * workload.active_parameters), seed)

    def activity(self, load: float) -> Activity:
        """Utilizations at a share `load` of capacity: idle floor plus the busy figures scaled by the load."""
        busy, floor = self.workload.busy, self.workload.idle_gpu_utilization
        return Activity(floor + load * (busy.gpu_utilization - floor), load * busy.cpu_utilization,
                        load * busy.network_utilization)

    def phases(self) -> Iterator[Phase]:
        """Window by window: draw the arrivals, queue their tokens, serve up to capacity (a compute-paced phase).

        The windows follow nominal time from midnight; a window stretched by throttling or capping delays the
        rest, so the backlog grows as a real one would.
        """
        w = self.workload
        rng = np.random.default_rng(self.seed)
        peak_s = w.peak_hour * 3600.0
        window_tokens = self.capacity_tokens_per_s * w.window_s
        queued, start_s = 0.0, 0.0
        while True:
            requests = rng.poisson(expected_arrivals(w.requests_per_s_mean, w.daily_amplitude, peak_s, start_s,
                                                     start_s + w.window_s))
            queued += float(requests) * w.tokens_per_request
            served = min(queued, window_tokens)
            queued -= served
            yield Phase("serve", self.activity(served / window_tokens), w.window_s, "compute", work_units=served)
            start_s += w.window_s
