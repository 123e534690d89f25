"""The rack's instantaneous physics for a given workload phase and throttle state.

Between two events every quantity here is constant (chip temperatures aside, which relax toward
`chip_temp_ss_c` in closed form), so the engine evaluates this once per event and integrates exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from racksim.build import FloatArray, RackArrays
from racksim.power import capped_power_w, solve_chain, sum_by_group, throughput_fraction, utilization_power_w
from racksim.thermal import plate_inlet_temp_c, steady_state_temp_c


@dataclass(frozen=True)
class Activity:
    """What the workload asks of the hardware in one phase (utilizations in [0, 1])."""

    gpu_utilization: float
    cpu_utilization: float
    network_utilization: float


@dataclass(frozen=True)
class OperatingPoint:
    """Every power and steady temperature of the run at one instant (per chip or per rack)."""

    chip_demand_w: FloatArray
    chip_power_w: FloatArray
    chip_coolant_temp_c: FloatArray
    chip_temp_ss_c: FloatArray
    feed_w: FloatArray
    it_w: FloatArray
    loss_w_by_stage: dict[str, FloatArray]
    busbar_current_a: FloatArray
    liquid_noncold_plate_w: FloatArray
    """Heat into the rack's coolant from anything but the chip cold plates, per rack, W."""
    air_w: FloatArray
    """Heat to air per rack, W."""
    coolant_return_temp_c: FloatArray
    work_rate: float
    """Progress rate of the synchronous job relative to nominal (the slowest GPU's rate)."""


def evaluate(arrays: RackArrays, activity: Activity, throttled: NDArray[np.bool_]) -> OperatingPoint:
    """Powers, heat split and steady die temperatures for one phase and throttle state."""
    design = arrays.design
    chips = arrays.chips
    tray = design.compute_tray
    utilization = np.where(chips.is_gpu, activity.gpu_utilization, activity.cpu_utilization)
    demand_w = utilization_power_w(utilization, chips.idle_w, chips.tdp_w)
    if design.power.smoothing is not None:
        floor_w = design.power.smoothing.gpu_power_floor_fraction * chips.tdp_w
        demand_w = np.where(chips.is_gpu, np.maximum(demand_w, floor_w), demand_w)
    cap_w = np.where(throttled, chips.throttle_cap_w, np.inf)
    power_w = capped_power_w(demand_w, cap_w)

    gpu_rates = throughput_fraction(demand_w[chips.is_gpu], power_w[chips.is_gpu], chips.idle_w[chips.is_gpu],
                                    arrays.gpu_throughput_exponent)
    work_rate = float(gpu_rates.min()) if gpu_rates.size else 1.0

    n_compute = arrays.compute_tray_rack.size
    chip_w_per_tray = sum_by_group(power_w, chips.tray, n_compute)
    board_w = utilization_power_w(activity.gpu_utilization, tray.other_idle_power_w, tray.other_power_w)
    board_w = board_w + tray.nics.count * tray.nics.power_w
    switch_w = float(utilization_power_w(activity.network_utilization, design.switch_tray.idle_power_w,
                                         design.switch_tray.max_power_w))
    tray_load_w = np.concatenate([chip_w_per_tray + board_w, np.full(arrays.switch_tray_rack.size, switch_w)])
    tray_rack = np.concatenate([arrays.compute_tray_rack, arrays.switch_tray_rack])
    flow = solve_chain(arrays.chain, tray_load_w, tray_rack, arrays.bus_load_w, arrays.shelf_units)

    # Heat routing: cold plates take chip power; the other tray heat (board, NICs and the tray's own
    # conversion losses) splits by each tray kind's liquid fraction; in-rack pumps heat the coolant;
    # everything else (shelves, busbar, fans, management switches) goes to air.
    tray_loss_w = flow.tray_conversion_loss_w
    compute_other_w = board_w + tray_loss_w[:n_compute]
    switch_heat_w = switch_w + tray_loss_w[n_compute:]
    in_rack_pump_w = arrays.pump_power_w if design.cooling.cdu.location == "in_rack" else 0.0 * arrays.pump_power_w
    liquid_other_w = (
        sum_by_group(compute_other_w * tray.other_heat_to_liquid_fraction, arrays.compute_tray_rack, arrays.n_racks)
        + sum_by_group(switch_heat_w * design.switch_tray.heat_to_liquid_fraction, arrays.switch_tray_rack,
                       arrays.n_racks)
        + in_rack_pump_w
    )
    chip_w_per_rack = sum_by_group(chip_w_per_tray, arrays.compute_tray_rack, arrays.n_racks)
    air_w = flow.feed_w - chip_w_per_rack - liquid_other_w

    rack_of_chip = arrays.compute_tray_rack[chips.tray]
    coolant_c = plate_inlet_temp_c(arrays.supply_temp_c[rack_of_chip], power_w, arrays.loop_start, chips.loop,
                                   arrays.loop_capacity_rate_w_per_k)
    return_c = arrays.supply_temp_c + (chip_w_per_rack + liquid_other_w) / arrays.rack_capacity_rate_w_per_k
    return OperatingPoint(
        chip_demand_w=demand_w,
        chip_power_w=power_w,
        chip_coolant_temp_c=coolant_c,
        chip_temp_ss_c=steady_state_temp_c(coolant_c, power_w, chips.resistance_k_per_w),
        feed_w=flow.feed_w,
        it_w=flow.it_w,
        loss_w_by_stage=flow.loss_w_by_stage,
        busbar_current_a=flow.busbar_current_a,
        liquid_noncold_plate_w=liquid_other_w,
        air_w=air_w,
        coolant_return_temp_c=return_c,
        work_rate=work_rate,
    )
