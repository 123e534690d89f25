"""Which input moves the cost per unit of work most: energy price, GPU price, failure rates, coolant temperature.

Energy price, GPU price and failure rates move by ± the cost section's `relative_change` on the cost model alone
(analytic: nothing in the simulation depends on them). The coolant temperature acts through the physics (die
temperatures, throttling, lost work), so its sensitivity comes from two reruns of the scenario at the facility
supply temperature ± `coolant_delta_temp_c` (see `racksim.run.cost`), each priced with the same cost model.
Within the model, the supply temperature changes no chip's power (no leakage model) and no facility efficiency
(the heat-rejection figures are inputs), so its effect on cost is the work it costs when dies throttle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from racksim.cost.model import RunStats, evaluate
from racksim.design.cost_schema import Cost

LABELS = {"energy_price": "energy price", "gpu_price": "GPU price", "failure_rates": "failure rates",
          "coolant_temp": "coolant supply temperature"}
"""Sensitivity inputs and their labels (the report's tornado figure), in report order."""


@dataclass(frozen=True)
class Swing:
    """Cost per unit of work with one input moved down and up."""

    low_change: str
    high_change: str
    low_usd_per_work_unit: float
    high_usd_per_work_unit: float

    def as_dict(self) -> dict[str, float | str]:
        """JSON-ready form for metrics.json."""
        return {"low_change": self.low_change, "high_change": self.high_change,
                "low_usd_per_work_unit": self.low_usd_per_work_unit,
                "high_usd_per_work_unit": self.high_usd_per_work_unit}


def analytic_swings(cost: Cost, counts: Mapping[str, int], stats: RunStats) -> dict[str, Swing]:
    """Energy price, GPU price and failure rates each × (1 ∓ x), all else equal."""
    x = cost.sensitivity.relative_change
    low, high = f"−{100 * x:.0f} %", f"+{100 * x:.0f} %"
    swings = {}
    for name, keyword in (("energy_price", "energy_price_scale"), ("gpu_price", "gpu_price_scale"),
                          ("failure_rates", "failure_rate_scale")):
        down = evaluate(cost, counts, stats, **{keyword: 1.0 - x}).usd_per_work_unit
        up = evaluate(cost, counts, stats, **{keyword: 1.0 + x}).usd_per_work_unit
        swings[name] = Swing(low, high, down, up)
    return swings


def coolant_swing(cost: Cost, counts: Mapping[str, int], colder: RunStats, warmer: RunStats) -> Swing:
    """Cost per unit of work of the reruns at supply − Δ and + Δ."""
    delta_c = cost.sensitivity.coolant_delta_temp_c
    return Swing(f"−{delta_c:g} K", f"+{delta_c:g} K", evaluate(cost, counts, colder).usd_per_work_unit,
                 evaluate(cost, counts, warmer).usd_per_work_unit)
