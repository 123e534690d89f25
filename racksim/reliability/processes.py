"""Stochastic failures: renewal processes per component (time to failure, then repair), sampled up front.

Every component of a class fails after a Weibull time to failure whose mean is the MTBF (shape 1:
exponential), is repaired after a fixed or lognormal time with mean MTTR, and starts a fresh life.
Each class draws from its own stream (`SeedSequence(seed).spawn`, one per entry of COMPONENT_CLASSES),
so adding a class to a design never changes another class's failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from racksim.design.reliability_schema import COMPONENT_CLASSES, FailureProcess, Reliability

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Failure:
    """One sampled failure: which component, when, and when its repair is done."""

    time_s: float
    component_class: str
    index: int
    """The component's index within its class over every rack of the run."""
    repaired_s: float


def weibull_scale_h(mtbf_h: float, shape: float) -> float:
    """Weibull scale η with mean MTBF: η = MTBF / Γ(1 + 1/k); h."""
    return mtbf_h / math.gamma(1.0 + 1.0 / shape)


def repair_times_h(process: FailureProcess, rng: np.random.Generator, size: int) -> np.ndarray:
    """Repair times with mean MTTR: fixed, or lognormal with μ = ln(MTTR) − σ²/2; h."""
    if process.mttr_sigma == 0:
        return np.full(size, process.mttr_h)
    mu = math.log(process.mttr_h) - 0.5 * process.mttr_sigma**2
    return rng.lognormal(mu, process.mttr_sigma, size)


def sample_class(name: str, process: FailureProcess, count: int, duration_s: float,
                 rng: np.random.Generator) -> list[Failure]:
    """Failures of `count` components of one class over `duration_s`, as renewal processes.

    Draws whole generations at once (one time to failure and one repair per component), so the stream
    use depends only on the count and the number of generations needed.
    """
    if count == 0:
        return []
    scale_s = weibull_scale_h(process.mean_time_to_failure_h, process.weibull_shape) * SECONDS_PER_HOUR
    life_start_s = np.zeros(count)
    failures: list[Failure] = []
    while np.any(life_start_s < duration_s):
        failed_s = life_start_s + scale_s * rng.weibull(process.weibull_shape, count)
        repaired_s = failed_s + repair_times_h(process, rng, count) * SECONDS_PER_HOUR
        within = (life_start_s < duration_s) & (failed_s < duration_s)
        failures += [Failure(float(failed_s[i]), name, int(i), float(repaired_s[i]))
                     for i in np.flatnonzero(within)]
        life_start_s = np.where(within, repaired_s, np.inf)
    return failures


def sample_failures(reliability: Reliability, counts: dict[str, int], duration_s: float, seed: int) -> list[Failure]:
    """Every stochastic failure of a run, in time order: each class from its own spawned stream."""
    streams = dict(zip(COMPONENT_CLASSES, np.random.SeedSequence(seed).spawn(len(COMPONENT_CLASSES)), strict=True))
    failures = []
    for name, process in reliability.processes().items():
        failures += sample_class(name, process, counts.get(name, 0), duration_s, np.random.default_rng(streams[name]))
    return sorted(failures, key=lambda f: (f.time_s, COMPONENT_CLASSES.index(f.component_class), f.index))


def interruption_rate_per_h(reliability: Reliability, counts: dict[str, int], interrupting: frozenset[str]) -> float:
    """Expected job interruptions per hour from the interrupting classes: Σ count / MTBF (renewal, MTTR ≪ MTBF)."""
    return sum(counts.get(name, 0) / process.mean_time_to_failure_h
               for name, process in reliability.processes().items() if name in interrupting)
