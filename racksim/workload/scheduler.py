"""Scheduling a hall's jobs on whole racks: which queued jobs start now (FIFO, EASY backfill), where and on which racks.

Pure functions over masks and index arrays; the fleet engine (racksim.engine.fleet) calls them at each event.

- `starts(...)`: one FIFO queue for the hall. A queued job has one option per design group it may run on (a job
  naming its design: that group's only; else every group that holds its racks), each with its own rack count and
  run-time estimate (the design's step time). Jobs are taken in order; a job starts now on a group where it fits
  and that no earlier waiting job has claimed. Among the groups where it may start now it takes the one whose racks
  pack it into the fewest rows (`place`), ties: the lower group index.
- A job that cannot start claims groups. Without backfill (FIFO) it blocks every group it may run on: nothing
  later starts there this pass. With EASY backfill (Lifka 1995; Mu'alem & Feitelson, "Utilization,
  predictability, workloads, and user runtime estimates in scheduling the IBM SP2 with backfilling", IEEE TPDS
  12(6), 2001) it gets a reservation on one group, the one where it can start earliest: the shadow time, the
  earliest time the group's running jobs' expected ends and its racks' expected returns from repair free enough
  racks for it (`reservation`; ties: the lower group index), and `extra`, the group's racks still spare then beyond
  its need. EASY takes the running jobs' ends from their users' estimates; a rack under repair is expected back
  when the engine expects its repair to end (racksim.engine.fleet states the rule), and the first racks freed
  refill the group's hot spares if they are short. At most one reservation per group; a waiting job whose groups
  all hold one gets none. A later job may start now on a reserved group if it fits in the free racks and either
  ends (by its own estimate) by that group's shadow time or uses no more than its `extra` racks, so it never delays
  the reservation (as far as the estimates hold); on a group without a reservation it starts whenever it fits. On
  a hall of one design this is classic EASY; with every job pinned, each group runs its own EASY queue.
- `place(...)`: topology-aware placement in as few rows as possible: best fit into a single row (the row with
  the fewest free racks that still holds the job), else rows taken in order of most free racks (ties: lower row),
  each row's lowest-numbered free racks first. Without row packing: the lowest-numbered free racks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from racksim._types import FloatArray, IndexArray


@dataclass(frozen=True)
class Queued:
    """A waiting job's option on one design group, as the scheduler sees it."""

    racks: int
    """Racks it needs on that group."""
    estimate_s: float
    """Expected run time once started there, s (the user's or the trace's estimate, at the design's step time)."""
    group: int = 0
    """The design group this option runs on."""


@dataclass(frozen=True)
class Running:
    """A running (or restarting) job as the scheduler sees it."""

    racks: int
    expected_end_s: float


@dataclass(frozen=True)
class Start:
    """A job to start now: its index in the queue, the option it starts with and its racks (ascending)."""

    position: int
    option: Queued
    racks: IndexArray


def reservation(now_s: float, free: int, need: int, running: Sequence[Running],
                back_s: FloatArray | None = None) -> tuple[float, int]:
    """(shadow time s, extra racks) of a head needing `need` racks with `free` free now (module docstring).

    Running jobs release their racks at their expected ends and racks under repair come back at `back_s` (one time
    a rack), earliest first; inf shadow if they never free enough. `free` may be negative: racks owed to the hot
    spares, which the first racks freed refill.
    """
    if free >= need:
        return now_s, free - need
    back_s = np.zeros(0) if back_s is None else back_s
    end_s = np.concatenate([np.array([job.expected_end_s for job in running], dtype=float), back_s])
    racks = np.concatenate([np.array([job.racks for job in running], dtype=np.int64),
                            np.ones(back_s.size, dtype=np.int64)])
    order = np.argsort(end_s, kind="stable")
    available = free + np.cumsum(racks[order])
    enough = np.flatnonzero(available >= need)
    if not enough.size or not np.isfinite(end_s[order[enough[0]]]):
        return float("inf"), 0
    first = enough[0]
    return max(now_s, float(end_s[order[first]])), int(available[first] - need)


def starts(now_s: float, free: NDArray[np.bool_], rack_group: IndexArray, rack_row: IndexArray,
           queue: Sequence[Sequence[Queued]], running: Sequence[Sequence[Running]], backfill: bool = True,
           depth: int | None = None, row_packing: bool = True, returning: Sequence[FloatArray] | None = None,
           owed: Sequence[int] | None = None) -> list[Start]:
    """The jobs of `queue` (FIFO order, each its options) to start now on the `free` racks (module docstring).

    `running[g]`: the jobs holding racks of group g; `returning[g]`: when each of its racks under repair is expected
    back, s; `owed[g]`: the racks its hot spares are short (None: none under repair, none owed). Only the first
    `depth` queued jobs are considered (None: all), as a production scheduler bounds each pass.
    """
    free = free.copy()
    free_in = np.bincount(rack_group[free], minlength=len(running))
    ends = [list(group) for group in running]
    shadow_s: dict[int, float] = {}
    extra: dict[int, int] = {}
    blocked: set[int] = set()
    chosen: list[Start] = []
    for position, options in enumerate(queue[:depth]):
        fits = []
        for option in options:
            g = option.group
            if g in blocked or option.racks > free_in[g]:
                continue
            if g in shadow_s and now_s + option.estimate_s > shadow_s[g] and option.racks > extra[g]:
                continue
            racks = place(free & (rack_group == g), rack_row, option.racks, row_packing)
            assert racks is not None  # counted free above
            fits.append((int(np.unique(rack_row[racks]).size), g, option, racks))
        if fits:
            _, g, option, racks = min(fits, key=lambda fit: (fit[0], fit[1]))
            free[racks] = False
            free_in[g] -= option.racks
            ends[g].append(Running(option.racks, now_s + option.estimate_s))
            if g in shadow_s and now_s + option.estimate_s > shadow_s[g]:
                extra[g] -= option.racks
            chosen.append(Start(position, option, racks))
        elif not backfill:
            blocked.update(option.group for option in options)
        else:
            open_groups = [option for option in options if option.group not in shadow_s]
            if open_groups:
                (shadow, spare), g = min(((reservation(now_s, int(free_in[o.group]) - (owed[o.group] if owed else 0),
                                                       o.racks, ends[o.group],
                                                       returning[o.group] if returning else None),
                                           o.group) for o in open_groups), key=lambda r: (r[0][0], r[1]))
                shadow_s[g], extra[g] = shadow, spare
    return chosen


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
