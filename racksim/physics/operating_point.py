"""The rack's instantaneous physics for a given workload phase, chip state and plant state.

Between two events every quantity here is constant (die temperatures aside, which relax toward
`chip_temp_ss_c` in closed form, and the coolant, which ramps while a CDU rejects nothing), so the
engine evaluates this once per event and integrates exactly.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from racksim._types import FloatArray
from racksim.physics.arrays import RackArrays
from racksim.physics.plant import PlantState
from racksim.physics.power import (
    ChainFlow,
    capped_power_w,
    solve_chain,
    sum_by_group,
    throughput_fraction,
    utilization_power_w,
)
from racksim.physics.thermal import (
    MIN_FLOW_FRACTION,
    cdu_supply_temp_c,
    exhaust_temp_c,
    fan_power_w,
    fan_speed_for_heat,
    plate_inlet_temp_c,
    pump_flow_fraction,
    pump_power_w,
    steady_state_temp_c,
)


@dataclass(frozen=True)
class Activity:
    """What the workload asks of the hardware in one phase (utilizations in [0, 1])."""

    gpu_utilization: float | FloatArray
    """Every GPU alike, or one value per GPU of the run (GPUs in chip order)."""
    cpu_utilization: float
    network_utilization: float


@dataclass(frozen=True)
class OperatingPoint:
    """Every power and steady temperature of the run at one instant (per chip or per rack)."""

    chip_demand_w: FloatArray
    chip_power_w: FloatArray
    chip_resistance_k_per_w: FloatArray
    chip_tau_s: FloatArray
    chip_coolant_temp_c: FloatArray
    chip_coolant_ramp_c_per_s: FloatArray
    chip_temp_ss_c: FloatArray
    """Die temperature the chip relaxes toward with the coolant as it is now, °C."""
    feed_w: FloatArray
    it_w: FloatArray
    loss_w_by_stage: dict[str, FloatArray]
    busbar_current_a: FloatArray
    liquid_noncold_plate_w: FloatArray
    """Heat into the rack's coolant from anything but the chip cold plates, per rack, W."""
    air_w: FloatArray
    """Heat to air per rack, W."""
    flow_fraction: FloatArray
    pump_power_w: FloatArray
    """Pump power attributed to each rack (drawn from the busbar only for in-rack CDUs), W."""
    fan_speed: FloatArray
    fan_power_w: FloatArray
    supply_temp_c: FloatArray
    supply_ramp_c_per_s: FloatArray
    coolant_return_temp_c: FloatArray
    exhaust_temp_c: FloatArray
    work_rate: float
    """Progress rate of the synchronous job relative to nominal (the slowest GPU's rate)."""
    gpu_capped: NDArray[np.bool_]
    """GPUs held below their demand by the rack's power cap."""
    shelf_output_w: FloatArray
    """Power the shelves (or the DC feed) deliver to the busbar, per rack, W."""
    shelf_capacity_w: FloatArray
    """Rating of the healthy PSUs per rack (inf without shelves), W."""
    gpu_power_w_total: float
    """Power of every GPU of the run, W."""

    @cached_property
    def totals(self) -> tuple[float, float, float, float, float, float]:
        """Run-wide IT and loss power, fan and pump power (W), hottest exhaust (°C) and lowest flow fraction.

        Reduced once per operating point (a cached point reuses them) for the time series.
        """
        losses_w = sum(float(loss.sum()) for loss in self.loss_w_by_stage.values())
        return (float(self.it_w.sum()), losses_w, float(self.fan_power_w.sum()), float(self.pump_power_w.sum()),
                float(self.exhaust_temp_c.max()), float(self.flow_fraction.min()))


def _dissipated_w(flow: ChainFlow, shelf_name: str | None) -> FloatArray:
    """Power turned into heat in each rack: what the busbar takes in plus the shelves' loss, W."""
    return flow.source_w + (flow.loss_w_by_stage[shelf_name] if shelf_name else 0.0)


def evaluate(arrays: RackArrays, activity: Activity, throttled: NDArray[np.bool_], plant: PlantState) -> OperatingPoint:
    """Powers, heat split and steady die temperatures for one phase, throttle state and plant state."""
    design, chips, cooling = arrays.design, arrays.chips, arrays.cooling
    tray = design.compute_tray
    in_job = plant.tray_in_job[chips.tray]  # hot-spare trays idle
    utilization = np.full(chips.is_gpu.size, activity.cpu_utilization)
    utilization[chips.is_gpu] = activity.gpu_utilization
    utilization = np.where(in_job, utilization, 0.0)
    demand_w = utilization_power_w(utilization, chips.idle_w, chips.tdp_w)
    if design.power.smoothing is not None:
        floor_w = design.power.smoothing.gpu_power_floor_fraction * chips.tdp_w
        demand_w = np.where(chips.is_gpu, np.maximum(demand_w, floor_w), demand_w)
    rack_cap_w = np.where(chips.is_gpu, plant.gpu_cap_w[chips.rack], np.inf)
    cap_w = np.minimum(np.where(throttled, chips.throttle_cap_w, np.inf), rack_cap_w)
    down = plant.chip_down
    cap_w = np.where(down | plant.tripped[chips.rack], 0.0, cap_w)
    power_w = capped_power_w(demand_w, cap_w)
    gpu_capped = chips.is_gpu & (rack_cap_w < demand_w) & ~down
    job_gpus = chips.is_gpu & in_job
    gpu = job_gpus & ~down
    gpu_rates = throughput_fraction(demand_w[gpu], power_w[gpu], chips.idle_w[gpu], arrays.gpu_throughput_exponent)
    # The slowest GPU paces the step; with GPUs lost and no spare, the job runs on fewer (data parallel).
    work_rate = float(gpu_rates.min()) * gpu.sum() / job_gpus.sum() if gpu_rates.size else 0.0

    n_compute = arrays.compute_tray_rack.size
    chip_w_per_tray = sum_by_group(power_w, chips.tray, n_compute)
    tray_gpu_utilization = (activity.gpu_utilization if np.ndim(activity.gpu_utilization) == 0 else
                            sum_by_group(utilization * chips.is_gpu, chips.tray, n_compute) / tray.gpus.count)
    board_w = utilization_power_w(tray_gpu_utilization, tray.other_idle_power_w, tray.other_power_w)
    board_w = board_w + tray.nics.count * tray.nics.power_w
    switch_w = float(utilization_power_w(activity.network_utilization, design.switch_tray.idle_power_w,
                                         design.switch_tray.max_power_w))
    tray_rack = np.concatenate([arrays.compute_tray_rack, arrays.switch_tray_rack])
    alive = ~plant.tripped
    tray_load_w = np.concatenate([chip_w_per_tray + board_w, np.full(arrays.switch_tray_rack.size, switch_w)])
    tray_load_w = tray_load_w * alive[tray_rack]

    # A tripped rack loses its in-rack pumps and fans; an in-row CDU keeps pumping.
    pumping = alive | (not cooling.pumps_in_rack)
    flow_fraction = pump_flow_fraction(plant.healthy_pumps * pumping, cooling.pumps_required)
    pumps_w = pump_power_w(cooling.pump_power_w_full_flow, flow_fraction)
    in_rack_pumps_w = pumps_w if cooling.pumps_in_rack else np.zeros_like(pumps_w)
    fans = plant.healthy_fans * alive
    shelf_name = arrays.chain.shelf_stage.name if arrays.chain.shelf_stage else None

    supplied = plant.supplied()

    def chain_with_fans(speed: FloatArray) -> tuple[ChainFlow, FloatArray]:
        """The chain at a fan speed; without an energized feed the shelves carry (and lose) nothing."""
        fans_w = fan_power_w(fans, cooling.fan_max_power_w, speed)
        bus_w = (arrays.bus_load_w + in_rack_pumps_w + fans_w) * alive
        flow = solve_chain(arrays.chain, tray_load_w, tray_rack, bus_w, plant.healthy_psus)
        if supplied.all():
            return flow, fans_w
        losses = {name: np.where(supplied, loss_w, 0.0) if name == shelf_name else loss_w
                  for name, loss_w in flow.loss_w_by_stage.items()}
        return replace(flow, feed_w=np.where(supplied, flow.feed_w, 0.0), loss_w_by_stage=losses), fans_w

    # Heat routing: cold plates take chip power; the other tray heat (board, NICs and the tray's own
    # conversion losses) splits by each tray kind's liquid fraction; in-rack pumps heat the coolant;
    # everything else (shelves, busbar, fans, management switches) goes to air.
    flow, fans_w = chain_with_fans(plant.fan_speed)
    tray_loss_w = flow.tray_conversion_loss_w
    compute_other_w = board_w * alive[arrays.compute_tray_rack] + tray_loss_w[:n_compute]  # a tripped rack: none
    switch_heat_w = switch_w * alive[arrays.switch_tray_rack] + tray_loss_w[n_compute:]
    liquid_other_w = (
        sum_by_group(compute_other_w * tray.other_heat_to_liquid_fraction, arrays.compute_tray_rack, arrays.n_racks)
        + sum_by_group(switch_heat_w * design.switch_tray.heat_to_liquid_fraction, arrays.switch_tray_rack,
                       arrays.n_racks)
        + in_rack_pumps_w
    )
    chip_w_per_rack = sum_by_group(chip_w_per_tray, arrays.compute_tray_rack, arrays.n_racks)
    # Fan controller: the speed that carries this air heat out at the target rise (one re-solve).
    speed = fan_speed_for_heat(_dissipated_w(flow, shelf_name) - chip_w_per_rack - liquid_other_w, fans,
                               cooling.fan_max_airflow_m3_s, cooling.target_exhaust_rise_c, cooling.fan_min_speed)
    if not np.array_equal(speed, plant.fan_speed):
        flow, fans_w = chain_with_fans(speed)
    air_w = _dissipated_w(flow, shelf_name) - chip_w_per_rack - liquid_other_w

    # With heat rejected, the supply sits at the CDU's operating point; with the CDU failed or the loop
    # stagnant (no pump running), the loop's coolant mass takes the heat: dT/dt = Q / (ρ·c_p·V).
    liquid_w = chip_w_per_rack + liquid_other_w
    stagnant = flow_fraction <= MIN_FLOW_FRACTION
    loop_absorbs = stagnant | ~plant.cdu_rejecting
    facility_c = cooling.facility_supply_temp_c + plant.facility_offset_c
    supply_c = np.where(loop_absorbs, plant.loop_temp_c,
                        cdu_supply_temp_c(facility_c, cooling.approach_c_per_w, liquid_w))
    supply_ramp = np.where(loop_absorbs, liquid_w / cooling.loop_heat_capacity_j_per_k, 0.0)

    resistance = chips.resistance_k_per_w * flow_fraction[chips.rack] ** -chips.flow_exponent
    # A stagnant loop carries no heat downstream: every plate sees the (uniformly heating) loop.
    loop_rate = np.where(stagnant[arrays.loop_rack], np.inf,
                         arrays.loop_capacity_rate_w_per_k * flow_fraction[arrays.loop_rack])
    coolant_c = plate_inlet_temp_c(supply_c[chips.rack], power_w, arrays.loop_start, chips.loop, loop_rate)
    return OperatingPoint(
        chip_demand_w=demand_w,
        chip_power_w=power_w,
        chip_resistance_k_per_w=resistance,
        chip_tau_s=resistance * chips.heat_capacity_j_per_k,
        chip_coolant_temp_c=coolant_c,
        chip_coolant_ramp_c_per_s=supply_ramp[chips.rack],
        chip_temp_ss_c=steady_state_temp_c(coolant_c, power_w, resistance),
        feed_w=flow.feed_w,
        it_w=flow.it_w,
        loss_w_by_stage=flow.loss_w_by_stage,
        busbar_current_a=flow.busbar_current_a,
        liquid_noncold_plate_w=liquid_other_w,
        air_w=air_w,
        flow_fraction=flow_fraction,
        pump_power_w=pumps_w,
        fan_speed=speed,
        fan_power_w=fans_w,
        supply_temp_c=supply_c,
        supply_ramp_c_per_s=supply_ramp,
        coolant_return_temp_c=np.where(stagnant, supply_c,
                                       supply_c + liquid_w / (arrays.rack_capacity_rate_w_per_k * flow_fraction)),
        exhaust_temp_c=exhaust_temp_c(cooling.air_inlet_temp_c, air_w, fans, cooling.fans_installed,
                                      cooling.fan_max_airflow_m3_s, speed),
        work_rate=work_rate,
        gpu_capped=gpu_capped,
        shelf_output_w=flow.source_w,
        shelf_capacity_w=plant.healthy_psus * arrays.chain.shelf_stage.unit_rating_w
        if arrays.chain.shelf_stage else np.full(arrays.n_racks, np.inf),
        gpu_power_w_total=float(power_w[chips.is_gpu].sum()),
    )


class PointCache:
    """`evaluate` memoized over its last few distinct inputs, keyed by their exact bytes.

    A job's phases alternate among a few states (compute, communication, checkpoint) while the plant stays put,
    so most events re-enter an operating point already solved; a hit returns the very result `evaluate` would.
    """

    def __init__(self, arrays: RackArrays, size: int = 8) -> None:
        """Remember up to `size` operating points of `arrays`."""
        self.arrays = arrays
        self.size = size
        self._points: OrderedDict[tuple[object, ...], OperatingPoint] = OrderedDict()
        self.last_key: tuple[object, ...] = ()
        """The key of the operating point returned last."""

    def __call__(self, activity: Activity, throttled: NDArray[np.bool_], plant: PlantState) -> OperatingPoint:
        """The operating point for these inputs: remembered, or evaluated and remembered."""
        key = self.last_key = self.key(activity, throttled, plant)
        point = self._points.get(key)
        if point is None:
            point = self._points[key] = evaluate(self.arrays, activity, throttled, plant)
            if len(self._points) > self.size:
                self._points.popitem(last=False)
        else:
            self._points.move_to_end(key)
        return point

    @staticmethod
    def key(activity: Activity, throttled: NDArray[np.bool_], plant: PlantState) -> tuple[object, ...]:
        """Everything `evaluate` reads of its inputs, as bytes: equal keys, equal operating points."""
        gpu = activity.gpu_utilization
        return (gpu if np.ndim(gpu) == 0 else np.asarray(gpu).tobytes(), activity.cpu_utilization,
                activity.network_utilization, np.packbits(throttled).tobytes(),
                np.packbits(plant.chip_down).tobytes(), plant.healthy_psus.tobytes(), plant.supplied().tobytes(),
                *(getattr(plant, name).tobytes() for name in EVALUATE_READS))


EVALUATE_READS = ("cdu_rejecting", "facility_offset_c", "fan_speed", "gpu_cap_w", "healthy_fans", "healthy_pumps",
                  "loop_temp_c", "tray_in_job", "tripped")
"""The plant fields `evaluate` reads directly; it also reads chip_down, healthy_psus and supplied(), which the
cache keys on as they are (a test checks that no other field changes the operating point)."""
