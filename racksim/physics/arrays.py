"""Compile a validated design into struct-of-arrays state (pandapower's `_pd2ppc` step).

Below this line there are no config dicts: the engine and the physics see typed arrays, indexed by
component over every rack of the run, and small frozen parameter records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from racksim._types import FloatArray, IndexArray
from racksim.cabling import CablingPlan, plan_cabling
from racksim.design.schema import ChipSpec, Design
from racksim.physics.layout import HallLayout
from racksim.physics.power import ConverterStage, PowerChain
from racksim.physics.rows import cdu_approach_c_per_w
from racksim.physics.thermal import COOLANT_PROPERTIES, flow_scaled_resistance_k_per_w, heat_capacity_rate_w_per_k


@dataclass(frozen=True)
class ChipArrays:
    """Every GPU and CPU of every rack, ordered loop by loop in coolant flow order."""

    is_gpu: NDArray[np.bool_]
    tray: IndexArray
    """Global tray index (compute trays of all racks)."""
    loop: IndexArray
    """Global cold-plate loop index."""
    tdp_w: FloatArray
    idle_w: FloatArray
    rack: IndexArray
    resistance_k_per_w: FloatArray
    """Junction → coolant resistance at the design flow (it scales as flow^-n when pumps fail)."""
    flow_exponent: FloatArray
    heat_capacity_j_per_k: FloatArray
    throttle_temp_c: FloatArray
    release_temp_c: FloatArray
    throttle_cap_w: FloatArray
    shutdown_temp_c: FloatArray
    label: tuple[str, ...]
    """Human-readable name, e.g. 'rack0/tray3/gpu1'."""



@dataclass(frozen=True)
class CoolingParams:
    """The design's pumps, CDU and fans as plain numbers."""

    fluid: str
    facility_supply_temp_c: float
    approach_c_per_w: float
    """CDU approach per watt rejected (approach at capacity / capacity), K/W."""
    loop_heat_capacity_j_per_k: float
    """ρ·c_p·V of the secondary loop, J/K."""
    pumps_installed: int
    pumps_required: int
    """Pumps needed for full flow (installed less the redundancy rule's spares)."""
    pump_power_w_full_flow: float
    """All pumps' electrical power at design flow, W."""
    pumps_in_rack: bool
    fans_installed: int
    fan_max_power_w: float
    fan_max_airflow_m3_s: float
    fan_min_speed: float
    target_exhaust_rise_c: float
    air_inlet_temp_c: float


SPARE_UNITS = {"N": lambda count: 0, "N+1": lambda count: 1, "N+N": lambda count: count // 2}
"""Units a redundancy rule keeps in reserve, by installed count."""


def compile_cooling(design: Design, hall: HallLayout | None = None) -> CoolingParams:
    """The cooling section as CoolingParams; with a hall's in-row CDUs, their shared approach."""
    cooling, pumps, fans = design.cooling, design.cooling.cdu.pumps, design.cooling.fans
    density_kg_per_m3, cp_j_per_kg_k = COOLANT_PROPERTIES[cooling.fluid]
    cdu_capacity_w, racks_per_cdu = cooling.cdu.capacity_w, 1
    if hall is not None and hall.cdu_capacity_w is not None:
        cdu_capacity_w, racks_per_cdu = hall.cdu_capacity_w, hall.racks_per_cdu
    return CoolingParams(
        fluid=cooling.fluid,
        facility_supply_temp_c=cooling.facility_supply_temp_c,
        approach_c_per_w=cdu_approach_c_per_w(cooling.cdu.approach_temp_c, cdu_capacity_w, racks_per_cdu),
        loop_heat_capacity_j_per_k=cooling.cdu.loop_volume_l / 1000 * density_kg_per_m3 * cp_j_per_kg_k,
        pumps_installed=pumps.count,
        pumps_required=max(1, pumps.count - SPARE_UNITS[pumps.redundancy](pumps.count)),
        pump_power_w_full_flow=pumps.count * pumps.power_w_each,
        pumps_in_rack=cooling.cdu.location == "in_rack",
        fans_installed=fans.count,
        fan_max_power_w=fans.max_power_w_each,
        fan_max_airflow_m3_s=fans.max_airflow_m3_s_each,
        fan_min_speed=fans.min_speed_fraction,
        target_exhaust_rise_c=fans.target_exhaust_rise_c,
        air_inlet_temp_c=cooling.air_inlet_temp_c,
    )


@dataclass(frozen=True)
class RackArrays:
    """A run's whole state layout: chips, loops, trays and per-rack parameters."""

    design: Design
    n_racks: int
    chips: ChipArrays
    loop_start: IndexArray
    """First chip index of each loop."""
    loop_rack: IndexArray
    loop_capacity_rate_w_per_k: FloatArray
    """ṁ·c_p of each loop at design flow."""
    compute_tray_rack: IndexArray
    switch_tray_rack: IndexArray
    rack_capacity_rate_w_per_k: FloatArray
    """ṁ·c_p of each rack's whole secondary flow at design flow."""
    chain: PowerChain
    shelf_units: FloatArray
    """Installed PSUs per rack."""
    shelf_units_by_feed: FloatArray
    """Installed PSUs per rack (rows) on each feed (columns: A, then B); the first half of the shelves is on A."""
    gpu_throughput_exponent: float
    bus_load_w: FloatArray
    """Constant busbar-fed loads per rack (management switches, other slots, active cables and optics), W."""
    cooling: CoolingParams
    cabling: CablingPlan
    """The rack's cable plan (its active ends are part of `bus_load_w`)."""
    tray_in_job: NDArray[np.bool_]
    """Compute trays the job starts on: all but each rack's last `reliability.hot_spare_trays`."""
    hall: HallLayout
    """Rows, in-row CDUs and row limits the racks share (one row, no limits, unless built for a hall)."""


def _stage(name: str, rating_w: float, curve: object) -> ConverterStage:
    return ConverterStage(name, rating_w, np.asarray(curve.load_fraction), np.asarray(curve.efficiency))  # type: ignore[attr-defined]


def compile_chain(design: Design) -> PowerChain:
    """The design's conversion stages as a PowerChain."""
    power = design.power
    shelf = None
    if power.shelves is not None:
        shelf = _stage(power.shelves.stage_name, power.shelves.unit_rating_w, power.shelves.efficiency_curve)
    return PowerChain(
        tray_stages=tuple(_stage(s.name, s.rating_w, s.efficiency_curve) for s in power.tray_stages),
        busbar_voltage_v=power.busbar.voltage_v,
        busbar_resistance_ohm=power.busbar.resistance_ohm,
        shelf_stage=shelf,
    )


def _tray_flows_lpm(design: Design) -> tuple[float, float]:
    """Pump flow split over the trays in proportion to their design flows: (per compute, per switch), L/min."""
    n_compute, n_switch = design.slot_count("compute"), design.slot_count("switch")
    design_total = n_compute * design.compute_tray.coolant_flow_lpm + n_switch * design.switch_tray.coolant_flow_lpm
    scale = design.cooling.cdu.pumps.flow_lpm / design_total
    return design.compute_tray.coolant_flow_lpm * scale, design.switch_tray.coolant_flow_lpm * scale


def build(design: Design, n_racks: int = 1, hall: HallLayout | None = None) -> RackArrays:
    """Compile `design` for `n_racks` identical racks, laid out in `hall` if given (its rack count wins)."""
    n_racks = hall.n_racks if hall is not None else n_racks
    tray = design.compute_tray
    cooling = design.cooling
    trays_per_rack = design.slot_count("compute")
    n_trays = n_racks * trays_per_rack
    loops_per_tray = len(tray.cold_plate_loops)
    compute_flow_lpm, _ = _tray_flows_lpm(design)
    loop_flow_lpm = compute_flow_lpm / loops_per_tray

    # One tray's chips in loop order, then tiled over trays.
    specs: dict[str, ChipSpec] = {"gpu": tray.gpus, "cpu": tray.cpus}
    order = [(name, loop_index) for loop_index, loop in enumerate(tray.cold_plate_loops) for name in loop]
    per_tray = [specs[name[:3]] for name, _ in order]

    def tiled(values: list[float]) -> FloatArray:
        return np.tile(np.asarray(values, dtype=float), n_trays)

    chips_per_tray = len(order)
    tray_index = np.repeat(np.arange(n_trays), chips_per_tray)
    loop_in_tray = np.tile([loop for _, loop in order], n_trays)
    r_operating = flow_scaled_resistance_k_per_w(
        [s.thermal.r_junction_to_coolant_k_per_w for s in per_tray], loop_flow_lpm,
        [s.thermal.reference_flow_lpm for s in per_tray], [s.thermal.flow_exponent for s in per_tray],
    )
    chips = ChipArrays(
        is_gpu=np.tile([name.startswith("gpu") for name, _ in order], n_trays),
        tray=tray_index,
        rack=tray_index // trays_per_rack,
        loop=tray_index * loops_per_tray + loop_in_tray,
        tdp_w=tiled([s.tdp_w for s in per_tray]),
        idle_w=tiled([s.idle_w for s in per_tray]),
        resistance_k_per_w=np.tile(r_operating, n_trays),
        flow_exponent=tiled([s.thermal.flow_exponent for s in per_tray]),
        heat_capacity_j_per_k=tiled([s.thermal.heat_capacity_j_per_k for s in per_tray]),
        throttle_temp_c=tiled([s.thermal.throttle_temp_c for s in per_tray]),
        release_temp_c=tiled([s.thermal.throttle_temp_c - s.thermal.throttle_hysteresis_c for s in per_tray]),
        throttle_cap_w=tiled([s.thermal.throttle_power_fraction * s.tdp_w for s in per_tray]),
        shutdown_temp_c=tiled([s.thermal.shutdown_temp_c for s in per_tray]),
        label=tuple(
            f"rack{t // trays_per_rack}/tray{t % trays_per_rack}/{name}" for t in range(n_trays) for name, _ in order
        ),
    )
    n_loops = n_trays * loops_per_tray
    loop_start = np.searchsorted(chips.loop, np.arange(n_loops))

    shelves = design.power.shelves
    units = shelves.count * shelves.units_per_shelf if shelves else 0
    feeds = design.power.feed.count
    shelves_on_a = -(-shelves.count // feeds) if shelves else 0
    units_by_feed = [shelves_on_a * shelves.units_per_shelf, units - shelves_on_a * shelves.units_per_shelf] \
        if shelves and feeds == 2 else [units]
    slot_w = sum(s.count * s.power_w for s in design.rack.slots)
    cabling = plan_cabling(design)
    spares = design.reliability.hot_spare_trays if design.reliability else 0
    ones = np.ones(n_racks)
    return RackArrays(
        design=design,
        n_racks=n_racks,
        chips=chips,
        loop_start=loop_start,
        loop_rack=np.arange(n_loops) // (loops_per_tray * trays_per_rack),
        loop_capacity_rate_w_per_k=np.full(n_loops, float(heat_capacity_rate_w_per_k(loop_flow_lpm, cooling.fluid))),
        compute_tray_rack=np.repeat(np.arange(n_racks), trays_per_rack),
        switch_tray_rack=np.repeat(np.arange(n_racks), design.slot_count("switch")),
        rack_capacity_rate_w_per_k=ones * float(heat_capacity_rate_w_per_k(cooling.cdu.pumps.flow_lpm, cooling.fluid)),
        chain=compile_chain(design),
        shelf_units=ones * units,
        shelf_units_by_feed=np.tile(np.asarray(units_by_feed, dtype=float), (n_racks, 1)),
        gpu_throughput_exponent=tray.gpus.throughput_power_exponent,
        bus_load_w=ones * (slot_w + cabling.rack_power_w),  # active copper and transceiver ends in the rack
        cooling=compile_cooling(design, hall),
        cabling=cabling,
        tray_in_job=np.tile(np.arange(trays_per_rack) < trays_per_rack - spares, n_racks),
        hall=hall if hall is not None else HallLayout.plain(n_racks),
    )
