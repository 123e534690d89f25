"""The cost group of one run, as the runner calls it: price the run, and rerun it at other coolant temperatures.

The coolant sensitivity needs the physics: for the scenario named in `cost.sensitivity.coolant_scenario`, the
same request (design, scenario, seed, duration, overrides) runs twice more with the facility supply temperature
moved by ± `coolant_delta_temp_c`, in a temporary directory, and each rerun is priced with the same cost model.
The reruns set `cost.sensitivity.coolant_delta_temp_c=0`, so they do not rerun themselves.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from racksim.cost.metrics import cost_metrics
from racksim.cost.model import RunStats, unit_counts
from racksim.cost.sensitivity import Swing, coolant_swing

if TYPE_CHECKING:
    from racksim.design.schema import Design
    from racksim.run.pipeline import RunRequest


def run_stats(design: Design, metrics: Mapping[str, Any]) -> RunStats:
    """RunStats of a run of `design` from its metrics (in-row CDU pumps count as facility energy)."""
    return RunStats.from_metrics(metrics, pumps_in_row=design.cooling.cdu.location == "in_row")


def rerun_at_supply_temp(request: RunRequest, supply_temp_c: float) -> dict[str, Any]:
    """Metrics of `request` rerun with the facility supply at `supply_temp_c` (written to a temporary directory)."""
    from racksim.run.pipeline import run_one  # the runner imports this module

    overrides = (*request.overrides, f"cooling.facility_supply_temp_c={supply_temp_c!r}",
                 "cost.sensitivity.coolant_delta_temp_c=0")
    with tempfile.TemporaryDirectory(prefix="racksim-coolant-") as scratch:
        run_dir = run_one(dataclasses.replace(request, overrides=overrides), Path(scratch))
        metrics: dict[str, Any] = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return metrics


def run_cost_group(request: RunRequest, design: Design, metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """The `cost` group of a finished run's metrics, or None for a design without a cost section."""
    cost = design.cost
    if cost is None:
        return None
    counts = unit_counts(design)
    coolant: Swing | None = None
    delta_c = cost.sensitivity.coolant_delta_temp_c
    if delta_c > 0 and request.scenario.name == cost.sensitivity.coolant_scenario:
        supply_c = design.cooling.facility_supply_temp_c
        colder, warmer = (run_stats(design, rerun_at_supply_temp(request, supply_c + sign * delta_c))
                          for sign in (-1, 1))
        coolant = coolant_swing(cost, counts, colder, warmer)
    return cost_metrics(cost, counts, run_stats(design, metrics), coolant)
