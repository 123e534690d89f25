"""Physics a design may not break, and the risks it may carry knowingly, judged from its nameplate figures.

The schema checks fields and their combinations, `racksim.physics.derived.check_feasible` the power chain and the CDU at
nameplate. Here: the coolant of a single-phase loop must stay liquid (an error), and a design whose nameplate
leaves no margin somewhere gets a warning naming the field to look at. Warnings never stop a run; they are
listed by `racksim validate`, written beside each run (warnings.json) and shown in the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from racksim.design.schema import Design
from racksim.errors import InputError

BOILING_TEMP_C = {"water": 100.0, "pg25": 102.0}
"""Boiling point at 1 atm, °C: water; 25 % propylene glycol in water (≈102 °C, glycol coolant data sheets)."""
HEADROOM_FRACTION = 0.05
"""Nameplate load within this fraction of a limit (feed, busbar, CDU) leaves no margin for swings."""


@dataclass(frozen=True)
class DesignWarning:
    """A risk the design carries: the field to look at and what it means."""

    field_path: str
    message: str

    def __str__(self) -> str:
        """'field.path: message'."""
        return f"{self.field_path}: {self.message}"


def check_physical(design: Design, figures: Mapping[str, Any], source: str) -> None:
    """Raise InputError if the coolant boils at nameplate (the liquid loop is single-phase).

    From `figures` (racksim.physics.derived.derived_figures) at full load: if the mixed return boils, the pumps' total
    flow is too low for the heat; if only the coolant reaching some cold plate does, the compute trays' share of
    the flow is.
    """
    fluid = design.cooling.fluid
    boiling_c = BOILING_TEMP_C[fluid]
    return_c, hottest_c = figures["nameplate_coolant_return_temp_c"], figures["nameplate_coolant_temp_c_max"]
    if math.isfinite(hottest_c) and hottest_c < boiling_c:
        return
    field = "cooling.cdu.pumps.flow_lpm" if not return_c < boiling_c else "compute_tray.coolant_flow_lpm"
    raise InputError(source, field, f"the {fluid} coolant reaches {hottest_c:.0f} °C at nameplate, above its "
                     f"boiling point {boiling_c:g} °C: too little flow for the heat")


def design_warnings(design: Design, figures: Mapping[str, Any]) -> list[DesignWarning]:
    """Risks of a design that passed every rule: each a field and a one-line reason, in field order."""
    warnings = []
    power = design.power
    busbar_load_w = figures.get("psu_output_at_nameplate_w", figures["nameplate_feed_power_w"])
    if power.bbu is not None and busbar_load_w > power.bbu.max_discharge_w:
        warnings.append(DesignWarning("power.bbu.max_discharge_w", f"the {busbar_load_w / 1e3:.1f} kW busbar load "
                                      f"at nameplate exceeds the BBUs' {power.bbu.max_discharge_w / 1e3:.1f} kW: "
                                      "a loss of every feed at full load trips the rack"))
    trip_s = figures.get("breaker_trip_time_s_on_one_feed")
    if power.feed.count == 2 and trip_s is not None:
        warnings.append(DesignWarning("power.feed.breaker.rating_a", f"with one feed lost, the other carries the "
                                      f"nameplate load and its breaker trips after {trip_s:.3g} s"))
    margins = [
        ("power.feed.limit_w", figures["nameplate_feed_power_w"], power.feed.limit_w, "feed power"),
        ("power.busbar.rating_a", figures["nameplate_busbar_current_a"], power.busbar.rating_a, "busbar current"),
        ("cooling.cdu.capacity_w", figures["nameplate_heat_to_liquid_w"], design.cooling.cdu.capacity_w,
         "heat to liquid"),
    ]
    for field_path, load, limit, what in margins:
        if load > (1 - HEADROOM_FRACTION) * limit:
            warnings.append(DesignWarning(field_path, f"nameplate {what} is {load / limit:.1%} of the limit "
                                          f"(less than {HEADROOM_FRACTION:.0%} headroom for load swings)"))
    thermal = design.compute_tray.gpus.thermal
    gpu_c = figures["nameplate_gpu_temp_c_steady"]
    if gpu_c >= thermal.shutdown_temp_c:
        warnings.append(DesignWarning("compute_tray.gpus.thermal.shutdown_temp_c", f"GPUs settle at {gpu_c:.1f} °C "
                                      "at sustained full load, at or above their shutdown temperature"))
    elif gpu_c >= thermal.throttle_temp_c:
        warnings.append(DesignWarning("compute_tray.gpus.thermal.throttle_temp_c", f"GPUs settle at {gpu_c:.1f} °C "
                                      "at sustained full load, at or above their throttle temperature"))
    return warnings
