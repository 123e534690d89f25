"""Reliability figures: a failure timeline (events by component class over time) and goodput per design."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from racksim.report.plotkit import FigureContext, RunData, legend_beside, png, report_style, time_axis

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")


def reliability_figures(runs: Sequence[RunData], context: FigureContext) -> list[tuple[str, str, bytes | None]]:
    """(key, title, PNG or None): the failure timeline and goodput per design, for stochastic-failure runs."""
    if not any(key.startswith("reliability.failures_by_class.") for run in runs for key in run.values):
        return []
    timelines = {run.design: _failures(run) for run in runs}
    goodput = {run.design: (run.values.get("performance.goodput_fraction", np.nan), _goodput_half_width(run),
                            run.values.get("reliability.expected_goodput_at_interval", np.nan)) for run in runs}
    return [
        ("failure-timeline", "Failures by component class over time, and the interruptions they caused",
         failure_timeline_figure(timelines, context.durations_s, context.colours)),
        ("goodput", "Goodput per design", goodput_figure(goodput, context.colours)),
    ]


def _goodput_half_width(run: RunData) -> float:
    """95 % half-width of the goodput over replicas (`racksim run --replicas`), 0 for a single run."""
    try:
        replicas = json.loads((run.directory / "metrics.json").read_text(encoding="utf-8")).get("replicas", {})
        return float(replicas.get("ci95_half_width", {}).get("performance.goodput_fraction", 0.0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0.0


def _failures(run: RunData) -> list[tuple[float, str]]:
    """(time, what) of every fault start and job interruption of a run."""
    path = run.directory / "events.json"
    try:
        events = json.loads(path.read_text(encoding="utf-8"))
        return [(float(e["time_s"]), "interruption" if e["kind"] == "interruption" else str(e["detail"]).split()[0])
                for e in events if e["kind"] in ("fault", "interruption")]
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return []


def failure_timeline_figure(timelines: Mapping[str, list[tuple[float, str]]], durations_s: Mapping[str, float],
                            colours: Mapping[str, str]) -> bytes | None:
    """One row per design: a marker per failure (shape by component class), a bar per job interruption."""
    classes = sorted({what for events in timelines.values() for _, what in events if what != "interruption"})
    axis = time_axis(max(durations_s.get(d, 0.0) for d in timelines) or 1.0)
    scale = axis.scale_s
    with report_style():
        figure = Figure(figsize=(8.6, 1.2 + 0.6 * len(timelines)))
        axes = figure.subplots()
        for row, (design, events) in enumerate(timelines.items()):
            for time_s, what in events:
                if what == "interruption":
                    axes.plot([time_s / scale] * 2, [row - 0.3, row + 0.3], color="black", linewidth=1.0)
                else:
                    axes.plot(time_s / scale, row, marker=MARKERS[classes.index(what) % len(MARKERS)],
                              color=colours[design], markersize=7, markeredgecolor="black", markeredgewidth=0.5)
        axes.set_yticks(range(len(timelines)), list(timelines))
        axes.set_ylim(-0.7, len(timelines) - 0.3)
        axes.set_xlim(0, max(durations_s.get(d, 0.0) for d in timelines) / scale)
        axes.set_xlabel(axis.label)
        handles = [Line2D([], [], marker=MARKERS[i % len(MARKERS)], color="0.6", markeredgecolor="black",
                          linestyle="none", label=name) for i, name in enumerate(classes)]
        handles.append(Line2D([], [], color="black", label="job interruption"))
        legend_beside(axes, handles)
        axes.set_title("Failures by component class")
        figure.tight_layout()
        return png(figure)


def goodput_figure(goodput: Mapping[str, tuple[float, float, float]], colours: Mapping[str, str]) -> bytes | None:
    """Goodput (%) per design, with its 95 % interval over replicas and the exact expectation (diamond)."""
    designs = [d for d, (value, _, _) in goodput.items() if np.isfinite(value)]
    if not designs:
        return None
    with report_style():
        figure = Figure(figsize=(1.6 + 1.3 * len(designs), 3.4))
        axes = figure.subplots()
        for index, design in enumerate(designs):
            value, half_width, expected = goodput[design]
            axes.bar(index, 100 * value, color=colours[design], yerr=100 * half_width, capsize=4, label=design)
            if np.isfinite(expected):
                axes.plot(index, 100 * expected, marker="D", color="black", markersize=5, linestyle="none")
        axes.set_xticks(range(len(designs)), designs, fontsize=8)
        axes.set_ylabel("goodput (%)")
        low = min(100 * goodput[d][0] - 100 * goodput[d][1] for d in designs)
        axes.set_ylim(max(0.0, low - 5.0), 100.5)
        axes.legend(handles=[Line2D([], [], marker="D", color="black", linestyle="none",
                                    label="expected at this checkpoint interval")], fontsize=8, loc="lower right")
        figure.tight_layout()
        return png(figure)
