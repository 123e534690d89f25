"""Cost of ownership: what a candidate rack costs to buy and to run, and what a unit of work costs on it.

`schema` holds the design file's `cost` section (prices with their provenance), `model` the equations (capex by
component, opex per year, TCO, cost per unit of work), `sensitivity` the swings of the cost per unit of work,
`metrics` the `cost` group of metrics.json; the runs sensitivity needs are scheduled by `racksim.run.cost`.
"""

from racksim.cost.metrics import cost_metrics, provenance_rows
from racksim.cost.model import CostResult, RunStats, evaluate, unit_counts
from racksim.design.cost_schema import Cost, CostSection

__all__ = [
    "Cost",
    "CostResult",
    "CostSection",
    "RunStats",
    "cost_metrics",
    "evaluate",
    "provenance_rows",
    "unit_counts",
]
