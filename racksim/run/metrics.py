"""metrics.json: the stable names of ../shared/DESIGN.md, computed from a finished run."""

from __future__ import annotations

from typing import Any

import numpy as np

from racksim._version import __version__
from racksim.engine import Event, RunResult
from racksim.physics.arrays import RackArrays


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
    feed_limit_w: float, cabling: dict[str, Any], network: dict[str, Any], predicted: dict[str, Any] | None = None,
    tokens_per_work_unit: float = 0.0, work_unit: str = "",
) -> dict[str, Any]:
    """The metrics of one run as nested dicts of plain floats.

    `cabling` is the design's cabling group (`racksim.cabling.cabling_metrics`), constant over the run;
    `network` its network group (`racksim.network.network_metrics`), constant too. The feed power's peak,
    p99, ramps and time above the limit come from the run's exact running statistics (`result.feed`), not from
    its time series, which may be kept at a coarse resolution. `predicted` holds the performance model's metrics
    (training: step_time_s, mfu, tokens_per_s_per_gpu, memory_gb_per_gpu_peak, pinned; inference: ttft_s_p50/p99,
    tpot_s_p50/p99), added to the performance group; with `tokens_per_work_unit` (tokens a step trains, 1 for a
    served token) the work is also counted in tokens (performance.tokens, tokens_per_kwh), so designs with
    different GPU counts compare on tokens; `work_unit` says what work_units counts.
    """
    integrals, feed = result.integrals, result.feed
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
            "input_power_w_peak": feed.peak_w,
            "input_power_w_p99": feed.percentile_w(99.0),
            "chain_efficiency": integrals.it_energy_j / supplied_j if (supplied_j := integrals.input_energy_j
                                                                          + storage_net_j) > 0 else 0.0,
            "max_ramp_w_per_s": feed.max_ramp_w_per_s,
            "max_ramp_time_s": feed.max_ramp_time_s,
            "max_ramp_w_per_s_unsmoothed": feed.max_ramp_w_per_s_unsmoothed,
            "capped_fraction": integrals.capped_gpu_seconds / integrals.gpu_seconds,
            "trips": result.trips,
            "breaker_trips": result.breaker_trips,
            "time_on_battery_s": integrals.battery_rack_s,
            "feed_limit_exceeded_s": feed.time_above_s(feed_limit_w),
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
            **({"work_unit": work_unit} if work_unit else {}),
            **({"tokens_per_work_unit": tokens_per_work_unit, "tokens": result.work_units * tokens_per_work_unit,
                "tokens_per_kwh": result.work_units * tokens_per_work_unit / input_kwh if input_kwh else 0.0}
               if tokens_per_work_unit else {}),
            **(predicted or {}),
            "phase_time_s": dict(result.phase_time_s),
            "stall_time_s": result.stall_s,
            "downtime_s": result.downtime_s,
        },
        "cabling": cabling,
        "network": {**network, "collective_time_s_total": result.collective_s},
        "engine": {"event_count": result.event_count, "cycles_skipped": result.cycles_skipped},
    }


def component_summary(arrays: RackArrays, result: RunResult) -> dict[str, Any]:
    """Per-chip, per-compute-tray and per-rack summaries (rack elevation, row loading figures), JSON-ready.

    A rack's row feeder rating is null when its row has none.
    """
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
        "racks": {
            "row": arrays.hall.rack_row.tolist(),
            "input_energy_j": integrals.rack_input_energy_j.tolist(),
            "feed_w_max": integrals.rack_feed_w_max.tolist(),
        },
        "rows": {
            "feed_w_max": integrals.row_feed_w_max.tolist(),
            "feeder_capacity_w": [float(c) if np.isfinite(c) else None for c in arrays.hall.row_capacity_w],
        },
    }
