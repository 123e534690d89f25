"""A run's hall feed power as the grid sees it, for a scenario with a `grid:` block (racksim.physics.grid).

Each job's cycle of phases comes from its compiled schedule (up to its cycle's end, or the window's length if
shorter); one rack's feed power in each phase from the operating point (racksim.physics.operating_point, the
nominal plant with fans and loop settled to the phase, a user's rack cap in force, no throttling), the mean over
the job's racks. A hall of one design runs one job on every rack (all racks aligned); a hall of several designs
one job per group; a caller with several jobs passes their offsets. The unmitigated feed is the racks' feed
with the design's own smoothing storage, if it has one; each mitigation of the scenario is computed on its own.
Outputs: `metrics["grid"]` and the grid series (time_s, <variant>_feed_power_w) for grid.parquet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from racksim._types import FloatArray, IndexArray
from racksim.design.grid_schema import FacilityBattery, Grid, PowerFloor, RackStorage
from racksim.design.power_schema import Smoothing
from racksim.design.schema import Design
from racksim.engine.power_control import user_caps_w
from racksim.errors import InputError
from racksim.physics.arrays import RackArrays
from racksim.physics.grid import (
    JobWaveform,
    Store,
    overhead_j,
    swing,
    with_facility_battery,
    with_rack_storage,
    within_limits,
)
from racksim.physics.hall_power import HallPowerChain
from racksim.physics.layout import HallLayout
from racksim.physics.operating_point import PointCache, evaluate
from racksim.physics.plant import PlantState
from racksim.run.request import RunRequest
from racksim.workload import Phase, Schedule

MAX_CYCLE_PHASES = 200_000
"""Phases of a job's cycle read at most (a model-predicted step has hundreds: micro-batches, bubbles)."""
NONE = "none"
"""The unmitigated variant's name."""


@dataclass(frozen=True)
class GridJob:
    """One job of the hall for the grid: its racks' arrays (for the operating points), schedule and hall rows."""

    arrays: RackArrays
    schedule: Schedule
    rack_row: IndexArray
    """Hall-wide row of each of the job's racks."""
    offset_s: float = 0.0


@dataclass(frozen=True)
class GridOutput:
    """What a grid block adds to a run: its metrics group and its series."""

    metrics: dict[str, Any]
    series: dict[str, FloatArray]


def job_cycle(schedule: Schedule, window_s: float) -> list[Phase]:
    """The job's phases from its start to its cycle's end (or the window's length, or MAX_CYCLE_PHASES)."""
    phases: list[Phase] = []
    total_s = 0.0
    for phase in schedule.phases():
        phases.append(phase)
        total_s += phase.nominal_s
        if phase.ends_cycle or total_s >= window_s or len(phases) >= MAX_CYCLE_PHASES:
            break
    return [phase for phase in phases if phase.nominal_s > 0]


def floored(design: Design, floor_fraction: float) -> Design:
    """The design with its GPUs' power floor at `floor_fraction` of TDP (its smoothing storage kept)."""
    smoothing = design.power.smoothing or Smoothing(gpu_power_floor_fraction=floor_fraction)
    smoothing = smoothing.model_copy(update={"gpu_power_floor_fraction": floor_fraction})
    return design.model_copy(update={"power": design.power.model_copy(update={"smoothing": smoothing})})


def phase_feed_power_w(arrays: RackArrays, phases: Sequence[Phase]) -> FloatArray:
    """One rack's feed power in each phase (the mean over the racks of `arrays`), W; each distinct phase solved once."""
    plant = PlantState.nominal(arrays)
    plant.gpu_cap_w = user_caps_w(arrays, plant)
    throttled = np.zeros(arrays.chips.is_gpu.size, dtype=bool)
    solved: dict[tuple[object, ...], float] = {}
    power_w = np.empty(len(phases))
    for index, phase in enumerate(phases):
        key = PointCache.key(phase.activity, throttled, plant)
        if key not in solved:
            point = evaluate(arrays, phase.activity, throttled, plant)
            settled = replace(plant, fan_speed=point.fan_speed, loop_temp_c=point.supply_temp_c.copy())
            solved[key] = float(evaluate(arrays, phase.activity, throttled, settled).feed_w.mean())
        power_w[index] = solved[key]
    return power_w


def design_store(smoothing: Smoothing | None) -> Store | None:
    """The rack's own smoothing storage as a Store (None if it has no storage)."""
    if smoothing is None or smoothing.storage_energy_j <= 0:
        return None
    return Store(capacity_j=smoothing.storage_energy_j, ramp_up_w_per_s=smoothing.ramp_up_w_per_s or math.inf,
                 ramp_down_w_per_s=smoothing.ramp_down_w_per_s or math.inf, efficiency=smoothing.efficiency,
                 recovery_w=smoothing.recovery_w)


def rack_store(mitigation: RackStorage, design: Design, job: JobWaveform, hall_ramp_w_per_s: float | None,
               hall_racks: int, source: str, field: str) -> Store:
    """The store of each rack of `job`: the scenario's sizes, else the design's smoothing storage.

    Ramp: the scenario's, else the design's, else the hall's ramp limit shared evenly by its racks.
    """
    own = design_store(design.power.smoothing)
    energy_j = mitigation.energy_j or (own.capacity_j if own else None)
    if energy_j is None:
        raise InputError(source, f"{field}.energy_j",
                         "the rack design has no power.smoothing storage: size the racks' store here")
    shared_w_per_s = hall_ramp_w_per_s / hall_racks if hall_ramp_w_per_s else None
    ramp_up = mitigation.ramp_w_per_s or (own.ramp_up_w_per_s if own else shared_w_per_s)
    ramp_down = mitigation.ramp_w_per_s or (own.ramp_down_w_per_s if own else shared_w_per_s)
    if ramp_up is None or ramp_down is None:
        raise InputError(source, f"{field}.ramp_w_per_s",
                         "give the racks' ramp rate here or a ramp limit in grid.limits")
    recovery_w = mitigation.recovery_w if mitigation.recovery_w is not None else (
        own.recovery_w if own else 0.01 * job.mean_rack_power_w())
    return Store(capacity_j=energy_j, ramp_up_w_per_s=ramp_up, ramp_down_w_per_s=ramp_down,
                 efficiency=mitigation.efficiency or (own.efficiency if own else 0.98), recovery_w=recovery_w,
                 time_constant_s=mitigation.time_constant_s)


def battery_store(battery: FacilityBattery, limits_ramp_mw_per_s: float | None) -> Store:
    """The facility battery as a Store: one-way efficiency √(round trip), its power limit, ramp in W/s."""
    ramp_mw_per_s = battery.ramp_mw_per_s or limits_ramp_mw_per_s
    assert ramp_mw_per_s is not None  # the grid block's validator saw to it
    recovery_kw = battery.recovery_kw if battery.recovery_kw is not None else 0.01 * battery.power_kw
    return Store(capacity_j=battery.energy_kwh * 3.6e6, ramp_up_w_per_s=ramp_mw_per_s * 1e6,
                 ramp_down_w_per_s=ramp_mw_per_s * 1e6, efficiency=math.sqrt(battery.round_trip_efficiency),
                 max_power_w=battery.power_kw * 1e3, recovery_w=recovery_kw * 1e3,
                 time_constant_s=battery.time_constant_s)


def hall_grid(grid: Grid, jobs: Sequence[GridJob], chain: HallPowerChain, source: str,
              idle_rack_feed_power_w_by_row: FloatArray | None = None) -> GridOutput:
    """The hall's feed power over the grid's window, unmitigated and with each mitigation, and their metrics.

    `idle_rack_feed_power_w_by_row`: the feed power of the racks running no job, summed per row (None: none), W.
    """
    step_s = grid.step_s
    t_s = np.arange(0.0, grid.window_s, step_s)
    idle_w = np.zeros(chain.n_rows) if idle_rack_feed_power_w_by_row is None else idle_rack_feed_power_w_by_row
    cycles = [job_cycle(job.schedule, grid.window_s) for job in jobs]
    waves = [JobWaveform(job.rack_row, np.array([phase.nominal_s for phase in phases]),
                         phase_feed_power_w(job.arrays, phases), job.offset_s)
             for job, phases in zip(jobs, cycles, strict=True)]
    own_stores = [design_store(job.arrays.design.power.smoothing) for job in jobs]
    base_w, base_stored_j = with_rack_storage(t_s, step_s, waves, idle_w, chain, own_stores)
    limits = grid.limits
    ramp_w_per_s = limits.ramp_mw_per_s * 1e6 if limits.ramp_mw_per_s else None
    variants: dict[str, tuple[FloatArray, float]] = {NONE: (base_w, 0.0)}
    for index, mitigation in enumerate(grid.mitigations):
        if isinstance(mitigation, PowerFloor):
            powers = [phase_feed_power_w(replace(job.arrays, design=floored(job.arrays.design,
                                                                           mitigation.floor_fraction)), phases)
                      for job, phases in zip(jobs, cycles, strict=True)]
            floor_waves = [replace(wave, rack_feed_power_w=power) for wave, power in zip(waves, powers, strict=True)]
            feed_w, stored_j = with_rack_storage(t_s, step_s, floor_waves, idle_w, chain, own_stores)
            variants[mitigation.kind] = (feed_w, stored_j - base_stored_j)
        elif isinstance(mitigation, RackStorage):
            racks = sum(wave.rack_row.size for wave in waves)
            stores: list[Store | None] = [rack_store(mitigation, job.arrays.design, wave, ramp_w_per_s, racks, source,
                                                     f"grid.mitigations.{index}")
                                          for job, wave in zip(jobs, waves, strict=True)]
            feed_w, stored_j = with_rack_storage(t_s, step_s, waves, idle_w, chain, stores)
            variants[mitigation.kind] = (feed_w, stored_j - base_stored_j)
        else:
            feed_w, stored_j = with_facility_battery(base_w, step_s, battery_store(mitigation, limits.ramp_mw_per_s))
            variants[mitigation.kind] = (feed_w, stored_j)
    ramp_window_s = grid.ramp_window_s or step_s
    base_energy_j = float(base_w.sum()) * step_s
    metrics: dict[str, Any] = {
        "window_s": grid.window_s, "step_s": step_s, "ramp_window_s": ramp_window_s, "band_hz": list(limits.band_hz),
        "limits": {name: value for name, value in (
            ("ramp_w_per_s", ramp_w_per_s),
            ("peak_to_trough_w", limits.peak_to_trough_mw * 1e6 if limits.peak_to_trough_mw else None),
            ("band_share_max", limits.band_share_max)) if value is not None},
        "variants": {},
    }
    for name, (feed_w, stored_j) in variants.items():
        result = swing(feed_w, step_s, ramp_window_s, limits.band_hz)
        overhead = overhead_j(base_w, feed_w, step_s, stored_j)
        checks = within_limits(result, ramp_w_per_s, metrics["limits"].get("peak_to_trough_w"), limits.band_share_max)
        metrics["variants"][name] = {
            "feed_power_w_mean": result.mean_w, "feed_power_w_peak": result.peak_w, "feed_power_w_min": result.trough_w,
            "peak_to_trough_w": result.peak_to_trough_w, "max_ramp_w_per_s": result.max_ramp_w_per_s,
            "band_energy_share": result.band_energy_share, "energy_j": result.energy_j, "overhead_j": overhead,
            "overhead_fraction": overhead / base_energy_j if base_energy_j else 0.0,
            "meets_limits": float(all(checks.values())), **{f"meets_{key}": float(ok) for key, ok in checks.items()}}
    series = {"time_s": t_s, **{f"{name}_feed_power_w": feed_w for name, (feed_w, _) in variants.items()}}
    return GridOutput(metrics, series)


def scenario_grid(request: RunRequest, jobs: Sequence[GridJob], hall: HallLayout,
                  idle_rack_feed_power_w_by_row: FloatArray | None = None) -> GridOutput | None:
    """The run's grid output if its scenario has a grid: block (None otherwise): `hall_grid` on the hall's chain."""
    grid = request.scenario.grid
    if grid is None:
        return None
    chain = hall.power or HallPowerChain.lossless(hall.n_rows)
    return hall_grid(grid, jobs, chain, f"scenario {request.scenario.name}", idle_rack_feed_power_w_by_row)
