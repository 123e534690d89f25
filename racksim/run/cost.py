"""The cost group of a run's metrics, and the coolant sensitivity's two extra runs it may be priced with.

The coolant sensitivity needs the physics: for the scenario named in `cost.sensitivity.coolant_scenario`, the
same request (design, scenario, seed, duration, overrides) runs twice more with the facility supply temperature
moved by ± `coolant_delta_temp_c`, and each of those runs is priced with the same cost model. This module says
which runs those are (`coolant_overrides`) and prices them (`cost_group`); it starts no run: the pipeline
schedules them as ordinary requests (racksim.run.plan), and only where the sensitivity is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from racksim.cost.metrics import cost_metrics
from racksim.cost.model import RunStats, unit_counts
from racksim.cost.sensitivity import coolant_swing
from racksim.design.schema import Design
from racksim.run.loading import LoadedDesign
from racksim.run.loading_hall import LoadedHall

SUPPLY_FIELD = "cooling.facility_supply_temp_c"


def run_stats(design: Design, metrics: Mapping[str, Any], racks: int = 1) -> RunStats:
    """RunStats of a run of `racks` racks of `design` from its metrics (in-row CDU pumps count as facility energy).

    The metrics' cabling group is one rack's (a hall's racks are cabled alike), so its cost and failure rate
    count `racks` times; energies and work are already the whole run's.
    """
    stats = RunStats.from_metrics(metrics, pumps_in_row=design.cooling.cdu.location == "in_row")
    return replace(stats, cabling_cost_usd=stats.cabling_cost_usd * racks,
                   cabling_failure_rate_fit=stats.cabling_failure_rate_fit * racks)


def racks_of(loaded: LoadedDesign) -> int:
    """Racks a run of `loaded` prices: a hall's racks, else one."""
    return loaded.hall.rack_count if isinstance(loaded, LoadedHall) else 1


def coolant_step_c(scenario: str, loaded: LoadedDesign) -> float | None:
    """The coolant sensitivity's temperature step, K, if `scenario` carries it for `loaded` (else None).

    A hall of several designs has no cost group, so no sensitivity either.
    """
    cost = loaded.design.cost
    if cost is None or (isinstance(loaded, LoadedHall) and loaded.is_mixed):
        return None
    delta_c = cost.sensitivity.coolant_delta_temp_c
    return delta_c if delta_c > 0 and scenario == cost.sensitivity.coolant_scenario else None


def coolant_overrides(loaded: LoadedDesign, step_c: float) -> tuple[str, str]:
    """The overrides of the colder and the warmer run: the facility supply at − and + `step_c`."""
    supply_c = loaded.design.cooling.facility_supply_temp_c
    colder, warmer = (f"{SUPPLY_FIELD}={supply_c + sign * step_c!r}" for sign in (-1, 1))
    return colder, warmer


def cost_group(design: Design, metrics: Mapping[str, Any],
               coolant: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
               racks: int = 1) -> dict[str, Any] | None:
    """The `cost` group of a finished run of `racks` racks of `design`, or None for a design without a cost section.

    Capital cost counts every rack of the run (a hall's work and energy are its racks' together, so its price
    is too).

    `coolant` holds the metrics of the colder and the warmer run, when the sensitivity was asked for; without
    it the group's sensitivity has no `coolant_temp` entry. Where the run counts its work in tokens
    (performance.tokens_per_work_unit), the group also has `usd_per_mtoken`, USD per million tokens.
    """
    cost = design.cost
    if cost is None:
        return None
    counts = {name: count * racks for name, count in unit_counts(design).items()}
    swing = None
    if coolant is not None:
        colder, warmer = (run_stats(design, metrics_, racks) for metrics_ in coolant)
        swing = coolant_swing(cost, counts, colder, warmer)
    group = cost_metrics(cost, counts, run_stats(design, metrics, racks), swing)
    tokens_per_unit = metrics.get("performance", {}).get("tokens_per_work_unit", 0.0)
    if tokens_per_unit and "usd_per_work_unit" in group:  # work counted in tokens: the price of a million
        group["usd_per_mtoken"] = group["usd_per_work_unit"] / tokens_per_unit * 1e6
    return group


def cost_inputs(duration_s: float, input_energy_j: float, heat_to_liquid_j: float, heat_to_air_j: float,
                pump_energy_j: float, work_units: float, nominal_work_units: float, cabling: Mapping[str, Any],
                failures_by_class: Mapping[str, float] | None, *,
                loss_energy_j_by_stage: Mapping[str, float]) -> dict[str, Any]:
    """The figures of one group of a hall that its cost reads, shaped as the metrics.json groups RunStats reads.

    A group's work is counted in the hall's units; its goodput is its work over its nominal work. Its loss stages
    tell the cost model whether the hall's UPS and row-feeder losses are in its input energy already
    (racksim.cost.model.HALL_LOSS_STAGES).
    """
    reliability = {} if failures_by_class is None else {"failures_by_class": dict(failures_by_class)}
    return {"duration_s": duration_s,
            "power": {"input_energy_j": input_energy_j, "loss_energy_j_by_stage": dict(loss_energy_j_by_stage)},
            "thermal": {"heat_to_liquid_j": heat_to_liquid_j, "heat_to_air_j": heat_to_air_j,
                        "pump_energy_j": pump_energy_j},
            "performance": {"goodput_fraction": work_units / nominal_work_units if nominal_work_units > 0 else 0.0,
                            "nominal_work_units": nominal_work_units},
            "cabling": dict(cabling), "reliability": reliability}


def hall_cost_group(groups: list[tuple[Design, int, Mapping[str, Any]]],
                    tokens_per_work_unit: float = 0.0) -> dict[str, Any] | None:
    """The `cost` group of a hall of several designs: each group priced as its own racks, the sums the hall's.

    `groups` holds (design, racks, the group's cost inputs: `cost_inputs`). Capex, opex/yr and TCO are the
    groups' sums; USD per work unit is Σ TCO / Σ work over each group's own depreciation period (a group's TCO
    and work cover the same years). None when a group's design has no cost section. The per-group figures are
    under `groups`; the sensitivities stay per group (a hall-wide swing would rerun every group).
    """
    priced = [(design, racks, cost_group(design, inputs, racks=racks)) for design, racks, inputs in groups]
    if any(group is None for _, _, group in priced):
        return None
    parts = [(design, racks, group) for design, racks, group in priced if group is not None]
    tco = sum(group["tco_usd"] for _, _, group in parts)
    work = sum(group["work_units_over_period"] for _, _, group in parts)
    hall: dict[str, Any] = {
        "capex_usd": sum(group["capex_usd"] for _, _, group in parts),
        "opex_usd_per_year": sum(group["opex_usd_per_year"] for _, _, group in parts),
        "tco_usd": tco, "work_units_over_period": work,
        "groups": [{"design": design.name, "racks": racks,
                    **{key: group[key] for key in ("capex_usd", "opex_usd_per_year", "tco_usd", "period_years",
                                                   "work_units_over_period", "usd_per_work_unit") if key in group}}
                   for design, racks, group in parts],
    }
    periods = {group["period_years"] for _, _, group in parts}
    if len(periods) == 1:  # one depreciation period: the hall's TCO splits by component like a rack's
        hall["period_years"] = periods.pop()
        for key in ("capex_usd_by_component", "opex_usd_per_year_by_component"):
            hall[key] = {}
            for _, _, group in parts:
                for name, usd in group[key].items():
                    hall[key][name] = hall[key].get(name, 0.0) + usd
    if work > 0:
        hall["usd_per_work_unit"] = tco / work
        hall["work_per_usd"] = work / tco
        if tokens_per_work_unit:
            hall["usd_per_mtoken"] = tco / work / tokens_per_work_unit * 1e6
    return hall
