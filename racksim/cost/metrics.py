"""The `cost` group of metrics.json: headline figures, breakdowns, sensitivities and every input's provenance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from racksim.cost.model import CABLES, RunStats, evaluate
from racksim.cost.sensitivity import Swing, analytic_swings
from racksim.design.cost_schema import PRICED_CLASSES, Cost, Sourced


def _row(name: str, value: float, unit: str, figure: Sourced, count: int | None = None) -> dict[str, Any]:
    return {"input": name, "value": value, "unit": unit, "count": count, "source": figure.source or "",
            "assumption": figure.assumption, "note": figure.note}


OVERHEAD_NOT_APPLIED = ("not applied: the run models the hall's UPS and row feeders, whose losses are already in "
                        "its feed energy")
"""Note on the electrical overhead's row when the run's energy balance has the hall's loss stages."""


def provenance_rows(cost: Cost, counts: Mapping[str, int], hall_losses_modelled: bool = False) -> list[dict[str, Any]]:
    """Every figure of the cost section with its value, unit, count (for prices), source and assumption flag.

    With `hall_losses_modelled` the electrical overhead's row says it was not applied (racksim.cost.model).
    """
    prices = cost.prices
    rows = [_row(f"prices.{name}", price.price_usd, "USD", price, counts.get(name, 0))
            for name in PRICED_CLASSES if (price := getattr(prices, name)) is not None]
    rows += [_row(f"prices.other_items.{item.name}", item.price_usd, "USD", item, item.count)
             for item in prices.other_items]
    energy = cost.energy
    rows.append(_row("energy.price_usd_per_kwh", energy.mean_price_usd_per_kwh(), "USD/kWh", energy))
    facility = cost.facility
    if facility.pue is not None:
        rows.append(_row("facility.pue", facility.pue, "", facility))
    else:
        rows += [_row(f"facility.{key}", float(getattr(facility, key)), "W/W", facility)
                 for key in ("liquid_heat_rejection_w_per_w", "air_heat_rejection_w_per_w",
                             "electrical_overhead_fraction")]
        if hall_losses_modelled:
            rows[-1]["note"] = "; ".join(filter(None, (rows[-1]["note"], OVERHEAD_NOT_APPLIED)))
    rows.append(_row("depreciation.period_years", cost.depreciation.period_years, "years", cost.depreciation))
    maintenance = cost.maintenance
    rows.append(_row("maintenance.labour_per_hour", maintenance.labour_per_hour.price_usd, "USD/h",
                     maintenance.labour_per_hour))
    for name, failure in maintenance.failures.items():
        rate = failure.rate_per_unit_h()
        if rate is not None:
            rows.append(_row(f"maintenance.failures.{name}.failure_rate_fit", rate * 1e9, "FIT", failure,
                             counts.get(name)))
        rows.append(_row(f"maintenance.failures.{name}.parts", failure.parts.price_usd, "USD", failure.parts))
    rows.append(_row("lost_work.price_usd_per_gpu_hour", cost.lost_work.price_usd_per_gpu_hour, "USD/GPU-h",
                     cost.lost_work))
    return rows


def cost_metrics(cost: Cost, counts: Mapping[str, int], stats: RunStats,
                 coolant: Swing | None = None) -> dict[str, Any]:
    """The cost group: capex, opex/yr, TCO, USD per work unit, work per USD, breakdowns, sensitivities, inputs.

    `coolant` is the swing from the supply-temperature reruns, when this run had them.
    """
    result = evaluate(cost, counts, stats)
    swings = analytic_swings(cost, counts, stats) | ({"coolant_temp": coolant} if coolant is not None else {})
    per_unit = result.usd_per_work_unit
    if not math.isfinite(per_unit):  # a run too short for one unit of work: no cost per unit, no sensitivities
        swings = {}
    group = {
        "capex_usd": result.capex_usd,
        "opex_usd_per_year": result.opex_usd_per_year,
        "tco_usd": result.tco_usd,
        "usd_per_work_unit": per_unit,
        "work_per_usd": 1.0 / per_unit if per_unit > 0 else 0.0,
        "period_years": result.period_years,
        "work_units_over_period": result.work_units,
        "energy_price_usd_per_kwh": cost.energy.mean_price_usd_per_kwh(),
        "capex_usd_by_component": result.capex_usd_by_component,
        "opex_usd_per_year_by_component": result.opex_usd_per_year_by_component,
        "failures_per_year_by_class": result.failures_per_year_by_class,
        "failures_source": "reliability model" if stats.failures_by_class is not None else "cost section rates",
        "sensitivity": {name: swing.as_dict() for name, swing in swings.items()},
        "inputs": [*provenance_rows(cost, counts, stats.hall_losses_modelled),
                   {"input": f"cabling.{CABLES}", "value": stats.cabling_cost_usd, "unit": "USD", "count": None,
                    "source": "", "assumption": True,
                    "note": "the cabling model's bill of materials at the cabling.media prices; the cabling section "
                            "keeps no provenance per price, so the line counts as an assumption"}],
    }
    return group if math.isfinite(per_unit) else {k: v for k, v in group.items() if k != "usd_per_work_unit"}
