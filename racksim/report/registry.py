"""The figure modules of the report's scenario sections: adding one is one line in FIGURE_MODULES.

A figure module provides a function ``(runs, context) -> [(key, title, png_or_none), ...]`` where `runs` are
the runs of one scenario (see ``plotkit.RunData``: design, values, duration_s, directory, series()) and
`context` is a ``plotkit.FigureContext`` (time series, durations and the report's colour of each design).
It draws every design of the scenario on one set of axes in the design's colour, with labelled axes
(units in brackets) and a legend, and returns None for a figure its runs have no data for. Keys name
the PNG files (``figures/<scenario>-<key>.png``) and must be unique across modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence

from racksim.report.plotkit import FigureContext, RunData, figure_context

FigureModule = Callable[[Sequence[RunData], FigureContext], list[tuple[str, str, bytes | None]]]

FIGURE_MODULES: tuple[str, ...] = (
    "racksim.report.power_figures:power_figures",  # feed power with ramps and supply events, loss Sankey
    "racksim.report.figures:scenario_figures",  # GPU temperature, energy, heat; thermal figures
    "racksim.report.reliability_figures:reliability_figures",  # failure timeline, goodput per design
    "racksim.report.workload_figures:workload_figures",  # step-time breakdown, link utilization
    "racksim.report.fleet_figures:fleet_figures",  # job mix: jobs' Gantt on the racks, hall utilization
    "racksim.report.job_figures:job_figures",  # job mix: job MTTF by size, ETTR, with the published points
    "racksim.report.hall_figures:hall_figures",  # row feeders: peak and mean row power against the rating
    "racksim.report.grid_figures:grid_figures",  # grid: feed power per mitigation, its spectrum, the trade
)
"""``module:function`` of each figure module, in report order."""


def load(entry: str) -> FigureModule:
    """The figure function named by a ``module:function`` entry."""
    module, _, function = entry.partition(":")
    provider: FigureModule = getattr(importlib.import_module(module), function)
    return provider


def scenario_figures(runs: Sequence[RunData], colours: Mapping[str, str],
                     modules: Sequence[str] = FIGURE_MODULES) -> list[tuple[str, str, bytes]]:
    """(key, title, PNG) of every figure the registered modules draw for the runs of one scenario."""
    context = figure_context(runs, colours)
    made: list[tuple[str, str, bytes]] = []
    for entry in modules:
        for key, title, png in load(entry)(runs, context):
            if any(key == seen for seen, _, _ in made):
                raise ValueError(f"figure key {key!r} of {entry} is already used by another figure")
            if png is not None:
                made.append((key, title, png))
    return made
