"""Checkpoint intervals: Young's and Daly's estimates and the exact goodput under exponential failures."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray


def young_interval_s(checkpoint_s: float, mtbf_s: float) -> float:
    """Young (1974): τ = √(2·C·M); s."""
    return math.sqrt(2.0 * checkpoint_s * mtbf_s)


def daly_interval_s(checkpoint_s: float, mtbf_s: float) -> float:
    """Daly (2006): τ = √(2CM)·[1 + ⅓·√(C/2M) + (C/2M)/9] − C for C < 2M, else M; s."""
    if checkpoint_s >= 2.0 * mtbf_s:
        return mtbf_s
    ratio = checkpoint_s / (2.0 * mtbf_s)
    return math.sqrt(2.0 * checkpoint_s * mtbf_s) * (1.0 + math.sqrt(ratio) / 3.0 + ratio / 9.0) - checkpoint_s


def expected_goodput(interval_s: ArrayLike, checkpoint_s: float, restart_s: float,
                     mtbf_s: float) -> NDArray[np.float64]:
    """Share of wall time spent on work kept, for work segments τ each followed by a checkpoint C.

    Failures arrive at rate 1/M during work and checkpoints; each one loses the segment and costs a
    restart R. The expected wall time per kept segment is E[T] = (M + R)·(e^((τ+C)/M) − 1), so
    goodput = τ / E[T] (dimensionless).
    """
    tau = np.asarray(interval_s, dtype=float)
    return tau / ((mtbf_s + restart_s) * np.expm1((tau + checkpoint_s) / mtbf_s))


def optimal_interval_s(checkpoint_s: float, restart_s: float, mtbf_s: float) -> float:
    """The τ that maximizes `expected_goodput` (a log grid, then golden-section refinement); s."""
    grid = np.geomspace(max(checkpoint_s, 1e-3) * 1e-2, mtbf_s * 10.0, 2001)
    best = int(np.argmax(expected_goodput(grid, checkpoint_s, restart_s, mtbf_s)))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    golden = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(100):
        a, b = high - golden * (high - low), low + golden * (high - low)
        if expected_goodput(a, checkpoint_s, restart_s, mtbf_s) >= expected_goodput(b, checkpoint_s, restart_s, mtbf_s):
            high = b
        else:
            low = a
    return float(0.5 * (low + high))
