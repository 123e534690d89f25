"""Scheduling a hall's jobs on whole racks: which queued jobs start now (FIFO, EASY backfill) and on which racks.

Pure functions over counts and index arrays; the fleet engine (racksim.engine.fleet) calls them at each event.

- `starts(...)`: FIFO, optionally with EASY backfill (Lifka 1995; Mu'alem & Feitelson 2001). Queued jobs start in
  order while the head fits. When the head does not, it gets a reservation: the shadow time, the earliest time
  the running jobs' expected ends free enough racks for it, and `extra`, the racks still spare at that time
  beyond its need. A later job may start now if it fits in the free racks and either ends (by its own estimate)
  by the shadow time or uses no more than `extra` racks, so it never delays the head's reservation.
- `place(...)`: topology-aware placement in as few rows as possible: best fit into a single row (the row with
  the fewest free racks that still holds the job), else rows taken in order of most free racks (ties: lower row),
  each row's lowest-numbered free racks first. Without row packing: the lowest-numbered free racks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from racksim._types import IndexArray


@dataclass(frozen=True)
class Queued:
    """A waiting job as the scheduler sees it."""

    racks: int
    """Racks it needs."""
    estimate_s: float
    """Expected run time once started, s (the user's or the trace's estimate)."""


@dataclass(frozen=True)
class Running:
    """A running (or restarting) job as the scheduler sees it."""

    racks: int
    expected_end_s: float


def reservation(now_s: float, free: int, need: int, running: Sequence[Running]) -> tuple[float, int]:
    """(shadow time s, extra racks) of a head needing `need` racks with `free` free now (module docstring).

    Running jobs release their racks at their expected ends (earliest first); inf shadow if they never free enough.
    """
    available = free
    for job in sorted(running, key=lambda r: r.expected_end_s):
        available += job.racks
        if available >= need:
            return max(now_s, job.expected_end_s), available - need
    return float("inf"), 0


def starts(now_s: float, free: int, queue: Sequence[Queued], running: Sequence[Running],
           backfill: bool = True, depth: int | None = None) -> list[int]:
    """Indices into `queue` (FIFO order) of the jobs to start now with `free` free racks (module docstring).

    Only the first `depth` queued jobs are considered (None: all), as a production scheduler bounds each pass.
    """
    queue = queue[:depth]
    started: list[int] = []
    index = 0
    while index < len(queue) and queue[index].racks <= free:
        free -= queue[index].racks
        started.append(index)
        index += 1
    if not backfill or index >= len(queue):
        return started
    head = queue[index]
    now_running = [*running, *(Running(queue[i].racks, now_s + queue[i].estimate_s) for i in started)]
    shadow_s, extra = reservation(now_s, free, head.racks, now_running)
    for later in range(index + 1, len(queue)):
        job = queue[later]
        if job.racks > free:
            continue
        ends_in_time = now_s + job.estimate_s <= shadow_s
        if ends_in_time or job.racks <= extra:
            started.append(later)
            free -= job.racks
            if not ends_in_time:
                extra -= job.racks
    return started


def place(free: NDArray[np.bool_], rack_row: IndexArray, need: int, row_packing: bool = True) -> IndexArray | None:
    """Indices of `need` free racks for a job (module docstring), ascending; None if fewer are free."""
    candidates = np.flatnonzero(free)
    if candidates.size < need:
        return None
    if not row_packing:
        return candidates[:need]
    rows = rack_row[candidates]
    per_row = np.bincount(rows, minlength=int(rack_row.max()) + 1)
    holding = np.flatnonzero(per_row >= need)
    if holding.size:  # best fit: the fullest row that still holds it
        row = holding[np.argmin(per_row[holding])]  # ties: the lower row
        return candidates[rows == row][:need]
    order = np.argsort(-per_row, kind="stable")  # most free racks first; ties: lower row
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    by_rank = candidates[np.argsort(rank[rows], kind="stable")]
    return np.sort(by_rank[:need])
