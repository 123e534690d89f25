"""One hall's RunResult from the RunResults of its groups (racks of one design each, simulated apart).

Running sums add (energies, losses, heat, GPU-seconds, work in the hall's units, interruptions, trips, event
counts, the die-temperature histogram); each group's job times (phases, stall, downtime) are weighted by its
GPUs; extremes take the maximum; per-chip summaries are laid side by side. The time series are merged on the
union of the groups' row times with the column semantics of racksim.engine.recorder: powers, work and stored
energies add, hottest temperatures take the maximum, the mean die temperature and the GPU fractions are weighted
by GPU count, the coolant flow fraction takes the minimum.
Each group's feed power is linear on its segments, so the hall's is linear between union times: the merged rows
go through the recorder's own TimeSeries, which keeps the exact FeedSummary (peak, p99, ramps) of the SUM and,
with a resolution, bins the rows as a run of the whole hall would. The groups must be recorded event by event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from racksim._types import FloatArray
from racksim.engine import Event, RunResult
from racksim.engine.feed_statistics import FeedSummary
from racksim.engine.recorder import COLUMN_INDEX, SERIES_COLUMNS, Integrals, TimeSeries
from racksim.physics.piecewise import segment_values

Merge = Callable[[FloatArray, FloatArray], FloatArray]
"""(values of each group at each union time [groups × times], GPU count of each group) → the hall's values."""


def _total(values: FloatArray, _gpus: FloatArray) -> FloatArray:
    return values.sum(axis=0)


def _hottest(values: FloatArray, _gpus: FloatArray) -> FloatArray:
    return values.max(axis=0)


def _lowest(values: FloatArray, _gpus: FloatArray) -> FloatArray:
    return values.min(axis=0)


def _per_gpu(values: FloatArray, gpus: FloatArray) -> FloatArray:
    """GPU-weighted mean: Σ_g n_g · x_g / Σ_g n_g."""
    return (gpus @ values) / gpus.sum()


COLUMN_MERGE: dict[str, Merge] = {
    "time_s": _hottest, "feed_power_w": _total, "it_power_w": _total, "loss_power_w": _total,
    "gpu_power_w": _total, "gpu_temp_c_max": _hottest, "gpu_temp_c_mean": _per_gpu,
    "coolant_supply_temp_c": _hottest, "coolant_return_temp_c": _hottest, "exhaust_temp_c": _hottest,
    "fan_power_w": _total, "pump_power_w": _total, "coolant_flow_fraction": _lowest,
    "throttled_gpu_fraction": _per_gpu, "shutdown_gpu_fraction": _per_gpu, "work_units": _total,  # scaled
    "feed_power_end_w": _total, "feed_power_unsmoothed_w": _total, "bbu_energy_j": _total,
    "smoothing_energy_j": _total,
}
"""How the hall's time-series column combines the groups' (every recorder column must have a rule)."""


def merged_rows(series: Sequence[Mapping[str, FloatArray]], gpu_counts: Sequence[int],
                work_scales: Sequence[float]) -> FloatArray:
    """The hall's event-level rows [times × SERIES_COLUMNS] on the union of the groups' row times.

    At a union time t each group's row in force (its latest at or before t) stands; its feed power is read on its
    linear segment at t (just after) and, for the row's end value, just before the next union time. Work is
    Σ_g s_g · W_g with `work_scales` s_g (what a unit of group g's work is worth in the hall's units).
    """
    times_s = np.unique(np.concatenate([columns["time_s"] for columns in series]))
    ends_s = np.append(times_s[1:], times_s[-1])
    gpus = np.asarray(gpu_counts, dtype=float)
    rows = np.empty((times_s.size, len(SERIES_COLUMNS)))
    in_force = [np.clip(np.searchsorted(columns["time_s"], times_s, side="right") - 1, 0, None) for columns in series]
    for column, name in enumerate(SERIES_COLUMNS):
        if name not in COLUMN_MERGE:
            raise KeyError(f"time-series column {name} has no rule for merging a hall's groups")
        if name in ("feed_power_w", "feed_power_end_w"):
            at_s = times_s if name == "feed_power_w" else ends_s
            side: Literal["left", "right"] = "right" if name == "feed_power_w" else "left"
            values = np.array([segment_values(c["time_s"], c["feed_power_w"], c["feed_power_end_w"], at_s, side)
                               for c in series])
        else:
            values = np.array([columns[name][index] for columns, index in zip(series, in_force, strict=True)])
        rows[:, column] = np.asarray(work_scales) @ values if name == "work_units" else COLUMN_MERGE[name](values, gpus)
    rows[:, COLUMN_INDEX["time_s"]] = times_s
    rows[-1, COLUMN_INDEX["feed_power_end_w"]] = rows[-1, COLUMN_INDEX["feed_power_w"]]
    return rows


def merged_series(series: Sequence[Mapping[str, FloatArray]], gpu_counts: Sequence[int], work_scales: Sequence[float],
                  resolution_s: float | None = None) -> tuple[dict[str, FloatArray], FeedSummary]:
    """The hall's time series (at `resolution_s`, None: event level) and the exact summary of its feed power."""
    recorder = TimeSeries(capacity=1024, resolution_s=resolution_s)
    for row in merged_rows(series, gpu_counts, work_scales):
        recorder.append(tuple(row.tolist()))
    return recorder.columns(), recorder.feed_summary()


def merged_integrals(parts: Sequence[Integrals]) -> Integrals:
    """The hall's integrals: per-chip and per-rack arrays side by side, sums add, extremes take the maximum."""
    stage_names = tuple(dict.fromkeys(name for part in parts for name in part.stage_names))
    merged = Integrals(stage_names, *(sum(getattr(part, name) for part in parts) for name in Integrals.LAYOUT[1:]))
    for name in (*Integrals.sums(), *Integrals.EXTREMES):
        values = [getattr(part, name) for part in parts]
        if name in Integrals.PER_COMPONENT:
            setattr(merged, name, np.concatenate(values))
        elif isinstance(values[0], dict):
            setattr(merged, name, {key: sum(value.get(key, 0.0) for value in values) for key in stage_names})
        elif name in Integrals.EXTREMES:
            setattr(merged, name, max(values))
        else:
            setattr(merged, name, np.sum(values, axis=0) if isinstance(values[0], np.ndarray) else sum(values))
    return merged


def merged_events(results: Sequence[RunResult], labels: Sequence[str]) -> list[Event]:
    """Every group's events in time order (a group's own order kept), each detail naming its group."""
    events = [Event(event.time_s, event.kind, f"{label}: {event.detail}")
              for result, label in zip(results, labels, strict=True) for event in result.events]
    return sorted(events, key=lambda event: event.time_s)


def merged_result(results: Sequence[RunResult], labels: Sequence[str], gpu_counts: Sequence[int],
                  work_scales: Sequence[float], resolution_s: float | None = None) -> RunResult:
    """The hall's RunResult from its groups' (same duration, recorded event by event).

    Work adds in the hall's units: Σ_g s_g · W_g, `work_scales` s_g being what a unit of group g's work is worth.
    The jobs' times (phase times, stall, downtime, collectives, traffic per GPU) are GPU-weighted means, the
    time of the hall's mean GPU: each group runs its own job, and a sum would count the run's seconds once per job.
    Counts (trips, shutdowns, interruptions, events, skipped cycles) add.
    """
    series, feed = merged_series([result.series for result in results], gpu_counts, work_scales, resolution_s)
    scales = np.asarray(work_scales, dtype=float)
    per_gpu = np.asarray(gpu_counts, dtype=float) / sum(gpu_counts)

    def total(name: str) -> int:
        return sum(getattr(result, name) for result in results)

    def mean(values: Sequence[float]) -> float:
        return float(per_gpu @ np.asarray(values, dtype=float))

    traffic = [result.traffic_gbyte_per_gpu for result in results]
    phases = {name: mean([r.phase_time_s.get(name, 0.0) for r in results])
              for name in dict.fromkeys(name for r in results for name in r.phase_time_s)}
    return RunResult(
        merged_integrals([result.integrals for result in results]), series, feed,
        float(scales @ [r.work_units for r in results]), float(scales @ [r.work_lost_units for r in results]),
        total("gpu_shutdowns"), total("trips"), results[0].duration_s, total("event_count"),
        merged_events(results, labels), total("breaker_trips"), total("interruptions"),
        mean([r.downtime_s for r in results]), phases, mean([r.stall_s for r in results]),
        mean([r.collective_s for r in results]), (mean([t[0] for t in traffic]), mean([t[1] for t in traffic])),
        total("cycles_skipped"),
    )


def weighted_group(groups: Sequence[Mapping[str, Any]], weights: Sequence[float],
                   maxima: Sequence[str] = ()) -> dict[str, Any]:
    """A metrics group of constants (a design's cabling, network) for the hall, name by name.

    Each value where the groups agree, else their weighted mean (the maximum for the names in `maxima`); nested
    groups likewise.
    """
    merged: dict[str, Any] = {}
    for name in dict.fromkeys(name for group in groups for name in group):
        values = [group.get(name, 0) for group in groups]
        if all(isinstance(value, Mapping) for value in values):
            merged[name] = weighted_group(values, weights, maxima)
        elif all(value == values[0] for value in values):
            merged[name] = values[0]
        elif name in maxima:
            merged[name] = max(values)
        else:
            merged[name] = float(np.dot(weights, values) / np.sum(weights))
    return merged
