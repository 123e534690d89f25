"""Pareto fronts over two KPIs of a sweep, and their figure (one panel per scenario).

A run is on the front when no other run of the same scenario is at least as good on both KPIs and better on
one. Which way is better comes from the KPI specification (`racksim.kpis`), or from a `:higher` /
`:lower` suffix for metrics it knows no direction for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from racksim.errors import InputError
from racksim.kpis import DIRECTION_NAMES, DIRECTIONS, LOWER, NEUTRAL, kpi_spec
from racksim.report.plotkit import png, report_style

FRONT_COLUMN = "on_pareto_front"


@dataclass(frozen=True)
class Objective:
    """A KPI (metrics.json dotted name) and which way is better."""

    metric: str
    better: int
    """HIGHER or LOWER (racksim.kpis)."""

    @property
    def label(self) -> str:
        """Axis label: the KPI's name, display unit and the better direction."""
        kpi = kpi_spec(self.metric)
        return f"{kpi.label} ({kpi.unit}, {DIRECTION_NAMES[self.better]} is better)"


def parse_objectives(text: str) -> tuple[Objective, Objective]:
    """`kpi_x,kpi_y`, each optionally `:higher` or `:lower` → two objectives."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise InputError("--pareto", text, "expected two metrics, e.g. performance.work_per_kwh,"
                         "power.input_power_w_peak")
    objectives = []
    for part in parts:
        metric, _, direction = part.partition(":")
        if direction and direction not in DIRECTIONS:
            raise InputError("--pareto", part, "the direction after ':' must be higher or lower")
        better = DIRECTIONS[direction] if direction else kpi_spec(metric).better
        if better == NEUTRAL:
            raise InputError("--pareto", metric, "racksim knows no better direction for this metric; "
                             f"write {metric}:higher or {metric}:lower")
        objectives.append(Objective(metric, better))
    return objectives[0], objectives[1]


def pareto_front(x: npt.ArrayLike, y: npt.ArrayLike, better_x: int, better_y: int) -> npt.NDArray[np.bool_]:
    """Which points no other point dominates (NaN points never count); O(n log n).

    Both objectives are turned into minimizations; after sorting by x (then y), a point is on the front when
    its y is below every y of the points before it, or equals the best y at the same x (ties all stay).
    """
    cost_x, cost_y = -better_x * np.asarray(x, dtype=float), -better_y * np.asarray(y, dtype=float)
    on_front = np.zeros(cost_x.size, dtype=bool)
    valid = np.flatnonzero(np.isfinite(cost_x) & np.isfinite(cost_y))
    order = valid[np.lexsort((cost_y[valid], cost_x[valid]))]
    best_y, best_at = math.inf, (math.nan, math.nan)
    for index in order:
        point = (cost_x[index], cost_y[index])
        if point[1] < best_y or point == best_at:
            on_front[index] = True
            best_y, best_at = point[1], point
    return on_front


def mark_front(rows: Sequence[dict[str, Any]], objectives: tuple[Objective, Objective]) -> None:
    """Set FRONT_COLUMN on every row: on its scenario's front (rows that ran), else False."""
    x, y = objectives
    for row in rows:
        row[FRONT_COLUMN] = False
    for scenario in sorted({row["scenario"] for row in rows}):
        ran = [row for row in rows if row["scenario"] == scenario and row["status"] == "ok"]
        front = pareto_front([_value(row, x.metric) for row in ran], [_value(row, y.metric) for row in ran],
                             x.better, y.better)
        for row, on_front in zip(ran, front, strict=True):
            row[FRONT_COLUMN] = bool(on_front)


def _value(row: Mapping[str, Any], metric: str) -> float:
    value = row.get(metric)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def check_objectives(rows: Sequence[Mapping[str, Any]], objectives: tuple[Objective, Objective]) -> None:
    """A one-line error for a KPI no run of the sweep has."""
    for objective in objectives:
        if not any(math.isfinite(_value(row, objective.metric)) for row in rows):
            raise InputError("--pareto", objective.metric, "no run of the sweep has this metric (a dotted "
                             "metrics.json name, e.g. power.input_power_w_peak)")


def pareto_figure(rows: Sequence[Mapping[str, Any]], objectives: tuple[Objective, Objective]) -> bytes:
    """Every run of each scenario (grey) and its front (coloured, joined as a staircase), as PNG bytes.

    Needs FRONT_COLUMN set (`mark_front`); values in the KPIs' display units.
    """
    x, y = objectives
    kpi_x, kpi_y = kpi_spec(x.metric), kpi_spec(y.metric)
    scenarios = sorted({row["scenario"] for row in rows if row["status"] == "ok"})
    columns = min(3, max(1, len(scenarios)))
    panels = max(1, len(scenarios))
    grid_rows = -(-panels // columns)
    with report_style():
        figure = Figure(figsize=(4.6 * columns, 3.8 * grid_rows), layout="constrained")
        axes_grid = figure.subplots(grid_rows, columns, squeeze=False)
        for axes, scenario in zip(axes_grid.flat, scenarios, strict=False):
            ran = [row for row in rows if row["scenario"] == scenario and row["status"] == "ok"]
            xs = np.array([kpi_x.display(_value(row, x.metric)) for row in ran])
            ys = np.array([kpi_y.display(_value(row, y.metric)) for row in ran])
            front = np.array([bool(row[FRONT_COLUMN]) for row in ran])
            axes.scatter(xs[~front], ys[~front], s=14, color="#bdbdbd", label="dominated")
            order = np.argsort(xs[front], kind="stable")
            axes.plot(xs[front][order], ys[front][order], drawstyle="steps-post" if x.better == LOWER else "steps-pre",
                      color="#d62728", linewidth=1.0)
            axes.scatter(xs[front], ys[front], s=22, color="#d62728", label="Pareto front", zorder=3)
            axes.set_title(f"{scenario}: {int(front.sum())} of {len(ran)} on the front")
            axes.set_xlabel(x.label)
            axes.set_ylabel(y.label)
            axes.legend(loc="best", fontsize=8)
        for axes in list(axes_grid.flat)[len(scenarios):]:
            axes.set_visible(False)
        return png(figure)
