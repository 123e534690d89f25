"""Figures derived from a design at full load, and the feasibility rules that need the physics.

Schema validators check what the fields alone decide; the rules here (PSU redundancy, feed limit,
busbar rating, CDU capacity) need the power chain solved at nameplate, so they run after compiling.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from racksim.cabling import cabling_figures
from racksim.design.schema import Design
from racksim.errors import InputError
from racksim.physics.arrays import SPARE_UNITS, RackArrays, build
from racksim.physics.operating_point import Activity, evaluate
from racksim.physics.plant import PlantState
from racksim.physics.supply import breaker_trip_time_s, feed_current_a

FULL_LOAD = Activity(gpu_utilization=1.0, cpu_utilization=1.0, network_utilization=1.0)


def derived_figures(design: Design, arrays: RackArrays) -> dict[str, Any]:
    """Nameplate figures of one rack (`arrays` compiled from `design`): counts, powers at full load, capacities."""
    point = evaluate(arrays, FULL_LOAD, np.zeros(arrays.chips.is_gpu.size, dtype=bool), PlantState.nominal(arrays))
    trays = design.slot_count("compute")
    gpus = trays * design.compute_tray.gpus.count
    scale_up = design.network.scale_up
    feed_w = float(point.feed_w[0])
    figures: dict[str, Any] = {
        "compute_trays": trays,
        "switch_trays": design.slot_count("switch"),
        "gpu_count": gpus,
        "cpu_count": trays * design.compute_tray.cpus.count,
        "rack_units_used": sum(s.count * design.slot_height_u(s) for s in design.rack.slots),
        "nameplate_feed_power_w": feed_w,
        "nameplate_it_power_w": float(point.it_w[0]),
        "nameplate_chain_efficiency": float(point.it_w[0]) / feed_w,
        "nameplate_busbar_current_a": float(point.busbar_current_a[0]),
        "nameplate_heat_to_liquid_w": feed_w - float(point.air_w[0]),
        "nameplate_gpu_temp_c_steady": float(point.chip_temp_ss_c[arrays.chips.is_gpu].max()),
        "nameplate_coolant_supply_temp_c": float(point.supply_temp_c[0]),
        "nameplate_coolant_return_temp_c": float(point.coolant_return_temp_c[0]),
        "nameplate_coolant_temp_c_max": max(float(point.chip_coolant_temp_c.max()),
                                            float(point.coolant_return_temp_c[0])),
        "nameplate_exhaust_temp_c": float(point.exhaust_temp_c[0]),
        "nameplate_fan_speed": float(point.fan_speed[0]),
        "nameplate_cooling_power_w": float(point.fan_power_w[0] + point.pump_power_w[0]),
        "scale_up_bandwidth_tbyte_s": gpus * scale_up.links_per_gpu * scale_up.link_bandwidth_gbyte_s * 2 / 1000,
        "scale_up_differential_pairs": gpus * scale_up.links_per_gpu * design.cabling.scale_up.lanes_per_link * 2,
        **cabling_figures(arrays.cabling),
    }
    figures |= _supply_figures(design, feed_w, float(point.shelf_output_w[0]))
    shelves = design.power.shelves
    if shelves is not None:
        units = shelves.count * shelves.units_per_shelf
        shelf_output_w = feed_w - float(point.loss_w_by_stage[shelves.stage_name][0])
        figures |= {
            "psu_count": units,
            "psu_installed_capacity_w": units * shelves.unit_rating_w,
            "psu_usable_capacity_w": (units - SPARE_UNITS[shelves.redundancy](units)) * shelves.unit_rating_w,
            "psu_needed_at_nameplate": math.ceil(shelf_output_w / shelves.unit_rating_w)
            if math.isfinite(shelf_output_w) else None,
            "psu_output_at_nameplate_w": shelf_output_w,
        }
    return figures


def check_feasible(design: Design, source: str) -> dict[str, Any]:
    """Raise InputError for the first nameplate rule the design breaks; return its derived figures."""
    arrays = build(design)
    figures = derived_figures(design, arrays)
    power = design.power
    if not math.isfinite(figures["nameplate_busbar_current_a"]):
        raise InputError(source, "power.busbar.resistance_ohm",
                         "the busbar cannot deliver the nameplate load at its voltage (P > V²/4R)")
    if figures["nameplate_busbar_current_a"] > power.busbar.rating_a:
        current_a = figures["nameplate_busbar_current_a"]
        raise InputError(source, "power.busbar.rating_a",
                         f"nameplate current {current_a:.0f} A exceeds the rating {power.busbar.rating_a:.0f} A")
    if figures["nameplate_feed_power_w"] > power.feed.limit_w:
        raise InputError(source, "power.feed.limit_w", f"nameplate feed power "
                         f"{figures['nameplate_feed_power_w'] / 1e3:.1f} kW exceeds the feed limit "
                         f"{power.feed.limit_w / 1e3:.1f} kW")
    shelves = power.shelves
    if shelves is not None and figures["psu_usable_capacity_w"] < figures["psu_output_at_nameplate_w"]:
        needed = figures["psu_needed_at_nameplate"]
        installed = {"N": needed, "N+1": needed + 1, "N+N": 2 * needed}[shelves.redundancy]
        raise InputError(source, "power.shelves.count", f"{shelves.redundancy} needs {installed} PSUs of "
                         f"{shelves.unit_rating_w / 1e3:g} kW for the {figures['psu_output_at_nameplate_w'] / 1e3:.1f} "
                         f"kW nameplate load; the rack has {figures['psu_count']}")
    capping = power.capping
    if capping is not None and capping.rack_cap_w is not None:
        plant = PlantState.nominal(arrays)
        plant.gpu_cap_w = np.full(arrays.n_racks, capping.min_gpu_cap_fraction * float(arrays.chips.tdp_w.max()))
        floor_w = float(evaluate(arrays, FULL_LOAD, np.zeros(arrays.chips.is_gpu.size, dtype=bool), plant).feed_w[0])
        if floor_w > capping.rack_cap_w:
            raise InputError(source, "power.capping.rack_cap_w", f"the rack draws {floor_w / 1e3:.1f} kW at full load "
                             f"even with every GPU at the lowest cap; {capping.rack_cap_w / 1e3:.1f} kW cannot be met")
    if figures["nameplate_heat_to_liquid_w"] > design.cooling.cdu.capacity_w:
        raise InputError(source, "cooling.cdu.capacity_w", f"nameplate heat to liquid "
                         f"{figures['nameplate_heat_to_liquid_w'] / 1e3:.1f} kW exceeds the CDU capacity "
                         f"{design.cooling.cdu.capacity_w / 1e3:.1f} kW")
    return figures


def _supply_figures(design: Design, feed_w: float, busbar_load_w: float) -> dict[str, Any]:
    """Feed currents, the breaker's trip time with one feed carrying the rack, and the BBUs' ride-through."""
    feed, bbu = design.power.feed, design.power.bbu
    one_feed_a = float(feed_current_a(feed_w, feed.voltage_v, feed.kind, feed.power_factor))
    figures: dict[str, Any] = {
        "nameplate_current_per_feed_a": one_feed_a / feed.count,
        "nameplate_current_on_one_feed_a": one_feed_a,
    }
    if feed.breaker is not None:
        breaker = feed.breaker
        trip_s = float(breaker_trip_time_s(one_feed_a, breaker.rating_a, breaker.curve, breaker.time_multiplier,
                                           breaker.instantaneous_multiple))
        figures["breaker_trip_time_s_on_one_feed"] = trip_s if math.isfinite(trip_s) else None
    if bbu is not None:
        figures["bbu_ride_through_s_at_nameplate"] = bbu.energy_j * bbu.discharge_efficiency / busbar_load_w \
            if busbar_load_w <= bbu.max_discharge_w else 0.0
    return figures
