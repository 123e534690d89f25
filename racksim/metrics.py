"""metrics.json: the stable names of ../shared/DESIGN.md, computed from a finished run."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from racksim import __version__
from racksim.build import FloatArray, RackArrays
from racksim.engine import Event, RunResult

RAMP_WINDOW_S = 1.0
"""Feed ramp is the change of the feed power averaged over this window, per second."""


def _segment_values(time_s: FloatArray, start_w: FloatArray, end_w: FloatArray, at_s: FloatArray,
                    side: Literal["left", "right"]) -> FloatArray:
    """Value of a signal linear on each segment [t_i, t_i+1) from start_i to end_i, at `at_s`.

    side="right" gives the value just after each instant, "left" the limit just before it.
    """
    index = np.clip(np.searchsorted(time_s, at_s, side=side) - 1, 0, time_s.size - 1)
    length_s = np.diff(np.append(time_s, time_s[-1]))[index]
    fraction = np.divide(at_s - time_s[index], length_s, out=np.zeros_like(at_s), where=length_s > 0)
    return start_w[index] + (end_w[index] - start_w[index]) * np.clip(fraction, 0.0, 1.0)


def time_weighted_percentile(values: FloatArray, durations_s: FloatArray, percentile: float,
                             end_values: FloatArray | None = None) -> float:
    """Percentile over time of a signal constant on each segment (or linear from `values` to `end_values`).

    The smallest v with time(x ≤ v) ≥ p·T, where a linear segment spends time(x ≤ v) = Δt·clip((v − lo)/(hi − lo), 0, 1)
    below v; found by bisection to adjacent floats, so a step signal gives one of its values exactly.
    """
    end = values if end_values is None else end_values
    low_w, high_w = np.minimum(values, end), np.maximum(values, end)
    span_w = high_w - low_w
    target_s = percentile / 100.0 * durations_s.sum()

    def time_below_s(v: float) -> float:
        ramp_share = np.divide(v - low_w, span_w, out=(low_w <= v).astype(float), where=span_w > 0)
        return float(np.dot(durations_s, np.clip(ramp_share, 0.0, 1.0)))

    below, above = float(np.nextafter(low_w.min(), -np.inf)), float(high_w.max())
    while True:
        middle = 0.5 * (below + above)
        if middle in (below, above):
            return above
        below, above = (below, middle) if time_below_s(middle) >= target_s else (middle, above)


def steepest_ramp(time_s: FloatArray, power_w: FloatArray, window_s: float = RAMP_WINDOW_S,
                  end_power_w: FloatArray | None = None) -> tuple[float, float]:
    """(Largest rate of change of the window-averaged power, W/s; the time it happens, s).

    Power is constant on each segment, or linear from `power_w` to `end_power_w`. The derivative of the
    moving average over a window w is (P(t) − P(t − w)) / w, piecewise linear in t with breaks only at
    the t_i and t_i + w, so its extremes are at those instants, on one side or the other: exact.
    """
    if time_s.size < 2:
        return 0.0, float(time_s[0]) if time_s.size else 0.0
    end_w = power_w if end_power_w is None else end_power_w
    instants = np.concatenate([time_s, time_s + window_s])
    instants = instants[(instants >= time_s[0] + window_s) & (instants <= time_s[-1])]
    if instants.size == 0:
        return 0.0, float(time_s[0])
    changes = np.abs([_segment_values(time_s, power_w, end_w, instants, side)
                      - _segment_values(time_s, power_w, end_w, instants - window_s, side)
                      for side in ("left", "right")]).max(axis=0)
    steepest = int(np.argmax(changes))
    return float(changes[steepest] / window_s), float(instants[steepest])


def max_ramp_w_per_s(time_s: FloatArray, power_w: FloatArray, window_s: float = RAMP_WINDOW_S,
                     end_power_w: FloatArray | None = None) -> float:
    """Largest rate of change of the window-averaged feed power, W/s (see `steepest_ramp`)."""
    return steepest_ramp(time_s, power_w, window_s, end_power_w)[0]


def times_after_fault(events: list[Event]) -> dict[str, float]:
    """Seconds from a fault to the first throttle and to the first shutdown it caused (the latest fault before).

    Present only when a fault was followed by a throttle or a shutdown.
    """
    faults = [event.time_s for event in events if event.kind == "fault"]
    timings = {}
    for kind in ("throttle", "shutdown"):
        after = [event.time_s for event in events if event.kind == kind and faults and event.time_s >= faults[0]]
        if after:
            cause_s = max(time_s for time_s in faults if time_s <= after[0])
            timings[f"time_to_{kind}_after_fault_s"] = after[0] - cause_s
    return timings


def compute_metrics(
    result: RunResult, *, design: str, design_hash: str, scenario: str, seed: int, nominal_work_units: float,
    feed_limit_w: float, cabling: dict[str, Any], network: dict[str, Any],
) -> dict[str, Any]:
    """The metrics of one run as nested dicts of plain floats.

    `cabling` is the design's cabling group (`racksim.cabling.cabling_metrics`), constant over the run;
    `network` its network group (`racksim.network.network_metrics`), constant too.
    """
    integrals, series = result.integrals, result.series
    time_s, feed_w, feed_end_w = series["time_s"], series["feed_power_w"], series["feed_power_end_w"]
    durations_s = np.diff(np.append(time_s, result.duration_s))
    losses_j = sum(integrals.loss_energy_j.values())
    storage_net_j = integrals.storage_net_energy_j
    input_kwh = integrals.input_energy_j / 3.6e6
    return {
        "design": design,
        "design_hash": design_hash,
        "scenario": scenario,
        "seed": seed,
        "duration_s": result.duration_s,
        "racksim_version": __version__,
        "power": {
            "input_energy_j": integrals.input_energy_j,
            "it_energy_j": integrals.it_energy_j,
            "loss_energy_j": losses_j,
            "loss_energy_j_by_stage": dict(integrals.loss_energy_j),
            "storage_net_energy_j": storage_net_j,
            "input_power_w_mean": integrals.input_energy_j / result.duration_s,
            "input_power_w_peak": float(max(feed_w.max(), feed_end_w.max())),
            "input_power_w_p99": time_weighted_percentile(feed_w, durations_s, 99.0, feed_end_w),
            "chain_efficiency": integrals.it_energy_j / supplied_j if (supplied_j := integrals.input_energy_j
                                                                          + storage_net_j) > 0 else 0.0,
            "max_ramp_w_per_s": max_ramp_w_per_s(time_s, feed_w, end_power_w=feed_end_w),
            "max_ramp_w_per_s_unsmoothed": max_ramp_w_per_s(time_s, series["feed_power_unsmoothed_w"]),
            "capped_fraction": integrals.capped_gpu_seconds / integrals.gpu_seconds,
            "trips": result.trips,
            "breaker_trips": result.breaker_trips,
            "time_on_battery_s": integrals.battery_rack_s,
            "feed_limit_exceeded_s": float(durations_s[feed_w > feed_limit_w].sum()),
        },
        "thermal": {
            "gpu_temp_c_max": integrals.gpu_temp_c_max,
            "gpu_temp_c_p99": integrals.gpu_temp_percentile_c(99.0),
            "gpu_throttle_fraction": integrals.throttled_gpu_seconds / integrals.gpu_seconds,
            "coolant_return_temp_c_max": integrals.coolant_return_temp_c_max,
            "exhaust_air_temp_c_max": integrals.exhaust_temp_c_max,
            "gpu_shutdowns": result.gpu_shutdowns,
            **times_after_fault(result.events),
            "heat_to_liquid_j": integrals.heat_to_liquid_j,
            "heat_to_air_j": integrals.heat_to_air_j,
            "heat_stored_in_chips_j": integrals.heat_stored_j,
            "cooling_energy_j": integrals.cooling_energy_j,
            "fan_energy_j": integrals.fan_energy_j,
            "pump_energy_j": integrals.pump_energy_j,
        },
        "performance": {
            "work_units": result.work_units,
            "work_lost_units": result.work_lost_units,
            "nominal_work_units": nominal_work_units,
            "goodput_fraction": result.work_units / nominal_work_units if nominal_work_units else 0.0,
            "work_per_kwh": result.work_units / input_kwh if input_kwh else 0.0,
            "phase_time_s": dict(result.phase_time_s),
            "stall_time_s": result.stall_s,
            "downtime_s": result.downtime_s,
        },
        "cabling": cabling,
        "network": {**network, "collective_time_s_total": result.collective_s},
        "engine": {"event_count": result.event_count},
    }


def component_summary(arrays: RackArrays, result: RunResult) -> dict[str, Any]:
    """Per-chip and per-compute-tray summaries (for the rack elevation figure), JSON-ready."""
    chips, integrals = arrays.chips, result.integrals
    n_trays = arrays.compute_tray_rack.size
    tray_max_c = np.full(n_trays, -np.inf)
    np.maximum.at(tray_max_c, chips.tray, integrals.chip_temp_c_max)
    design = arrays.design
    tray_u = [slot.u + i * design.slot_height_u(slot) for slot in design.rack.slots if slot.kind == "compute"
              for i in range(slot.count)]
    return {
        "chips": {
            "label": list(chips.label),
            "kind": ["gpu" if is_gpu else "cpu" for is_gpu in chips.is_gpu],
            "temp_c_max": integrals.chip_temp_c_max.tolist(),
            "throttled_s": integrals.chip_throttled_s.tolist(),
        },
        "compute_trays": {
            "rack": arrays.compute_tray_rack.tolist(),
            "u": tray_u * arrays.n_racks,
            "die_temp_c_max": tray_max_c.tolist(),
        },
    }
