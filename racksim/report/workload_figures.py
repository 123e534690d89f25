"""Report figures of the workload: where each design's job time went, and how busy its links were."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from racksim.report.plotkit import FigureContext, RunData, colour_ticks, legend_beside, png, report_style, stacked_bars

BREAKDOWN = {
    "compute": ("compute", "#4c72b0"),
    "bubble": ("pipeline bubble", "#8fb0d8"),
    "serve": ("serving", "#4c72b0"),
    "trace": ("trace", "#4c72b0"),
    "communication": ("exposed communication", "#dd8452"),
    "optimizer": ("optimizer step", "#55a868"),
    "checkpoint": ("checkpoint", "#937860"),
    "stall": ("stalls (throttling, capping, failed links)", "#c44e52"),
    "down": ("down (restarts after interruptions)", "#7f7f7f"),
}
"""Phase name → (legend label, colour), in stacking order."""


def step_time_breakdown(values: Mapping[str, float]) -> dict[str, float]:
    """A run's job time by part, s: nominal time of each phase kind, then stalls and downtime."""
    parts = {name: values.get(f"performance.phase_time_s.{name}", 0.0) for name in BREAKDOWN}
    parts["stall"] = values.get("performance.stall_time_s", 0.0)
    parts["down"] = values.get("performance.downtime_s", 0.0)
    return {name: seconds for name, seconds in parts.items() if seconds > 0}


def workload_figures(runs: Sequence[RunData], context: FigureContext) -> list[tuple[str, str, bytes | None]]:
    """(key, title, PNG or None): the step-time breakdown and the link utilization of each design."""
    breakdown = {run.design: step_time_breakdown(run.values) for run in runs}
    links = {run.design: (run.values.get("network.scale_up_utilization", 0.0),
                          run.values.get("network.scale_out_utilization", 0.0)) for run in runs}
    return [
        ("step-time", "Where the job's time went: compute, exposed communication and stalls",
         breakdown_figure(breakdown, context.colours)),
        ("link-utilization", "Mean utilization of each GPU's scale-up links and scale-out NICs",
         link_utilization_figure(links, context.colours)),
    ]


def breakdown_figure(breakdown: Mapping[str, Mapping[str, float]], colours: Mapping[str, str]) -> bytes | None:
    """Stacked bar per design of the job's time by part, as a share of the run (%)."""
    if not any(breakdown.values()):
        return None
    designs = list(breakdown)
    with report_style():
        from matplotlib.figure import Figure

        figure = Figure(figsize=(max(5.0, 1.3 * len(designs) + 3.5), 3.8))
        axes = figure.subplots()
        totals = np.array([sum(breakdown[d].values()) for d in designs])
        shares = {name: np.array([breakdown[d].get(name, 0.0) for d in designs]) / np.maximum(totals, 1e-12) * 100
                  for name in BREAKDOWN}
        stacked_bars(axes, ((label, shares[name], colour) for name, (label, colour) in BREAKDOWN.items()
                            if shares[name].any()), len(designs))
        axes.set_ylim(0.0, 100.0)
        colour_ticks(axes, designs, colours)
        axes.set_ylabel("share of the job's time (%)")
        axes.set_title("Step-time breakdown")
        legend_beside(axes)
        figure.tight_layout()
        return png(figure)


def link_utilization_figure(links: Mapping[str, tuple[float, float]], colours: Mapping[str, str]) -> bytes | None:
    """Grouped bars per design: mean scale-up and scale-out utilization over the run (%)."""
    if not any(up or out for up, out in links.values()):
        return None
    designs = list(links)
    with report_style():
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch

        figure = Figure(figsize=(max(5.0, 1.3 * len(designs) + 3.0), 3.6))
        axes = figure.subplots()
        for position, design in enumerate(designs):
            up, out = links[design]
            axes.bar(position - 0.18, 100 * up, width=0.34, color=colours[design], edgecolor="0.25", linewidth=0.5)
            axes.bar(position + 0.18, 100 * out, width=0.34, color="white", edgecolor=colours[design], hatch="///")
        colour_ticks(axes, designs, colours)
        axes.set_ylabel("mean utilization (%)")
        axes.set_title("Link utilization (one direction)")
        axes.legend(handles=[Patch(facecolor="0.6", edgecolor="0.25", label="scale-up links"),
                             Patch(facecolor="white", edgecolor="0.25", hatch="///", label="scale-out NICs")],
                    fontsize=8, loc="upper right")
        figure.tight_layout()
        return png(figure)
