"""Figures of the report's predicted performance: the training step's breakdown and the serving curves per design.

Both draw every design on one set of axes in the report's colour of the design (racksim.report.plotkit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from racksim.report.plotkit import colour_ticks, labelled, legend_beside, png, report_style, stacked_bars

STEP_PARTS = {
    "compute_s": ("compute", "#4c72b0"),
    "tp_comm_s": ("TP communication (exposed)", "#dd8452"),
    "cp_comm_s": ("CP communication (exposed)", "#f0b27a"),
    "ep_comm_s": ("EP all-to-all (exposed)", "#c44e52"),
    "pp_comm_s": ("PP send/receive (exposed)", "#937860"),
    "bubble_s": ("pipeline bubble", "#8fb0d8"),
    "dp_comm_s": ("DP gradient sync (exposed)", "#da8bc3"),
    "optimizer_s": ("optimizer step", "#55a868"),
}
"""performance.step_breakdown_s key → (legend label, colour), in stacking order."""


def step_parts(values: Mapping[str, float]) -> dict[str, float]:
    """A training run's predicted step time by part, s (the parts of STEP_PARTS it has)."""
    prefix = "performance.step_breakdown_s."
    return {key: values[prefix + key] for key in STEP_PARTS if prefix + key in values}


def step_breakdown_figure(parts_s: Mapping[str, Mapping[str, float]], colours: Mapping[str, str],
                          pinned: Sequence[str] = ()) -> bytes | None:
    """Stacked bar per design of the predicted step time by part, s; pinned designs' bars are labelled so."""
    designs = [d for d, parts in parts_s.items() if parts]
    if not designs:
        return None
    with report_style():
        figure = Figure(figsize=(max(6.0, 1.3 * len(designs) + 4.5), 4.0))
        axes = figure.subplots()
        layers = ((label, np.array([parts_s[d].get(key, 0.0) for d in designs]), colour)
                  for key, (label, colour) in STEP_PARTS.items() if any(parts_s[d].get(key, 0.0) for d in designs))
        tops = stacked_bars(axes, layers, len(designs))
        for position, (design, top_s) in enumerate(zip(designs, tops, strict=True)):
            note = " (pinned)" if design in pinned else ""
            axes.annotate(f"{top_s:.3g} s{note}", (position, top_s), textcoords="offset points", xytext=(0, 3),
                          ha="center", fontsize=8)
        axes.set_ylim(0.0, 1.15 * max(float(tops.max()), 1e-12))
        colour_ticks(axes, designs, colours)
        axes.set_ylabel(labelled("time per training step", "s"))
        axes.set_title("Predicted step time by part")
        legend_beside(axes)
        figure.tight_layout()
        return png(figure)


def serving_figure(curves: Mapping[str, Mapping[str, Any]], colours: Mapping[str, str]) -> bytes | None:
    """Tokens/s per GPU against tokens/s per user of each design's curve, its operating point and the TPOT SLO.

    `curves` holds each design's serving_curve.json (racksim.run.results.SERVING_CURVE_FILE).
    """
    drawn = {d: c for d, c in curves.items() if c.get("points")}
    if not drawn:
        return None
    with report_style():
        figure = Figure(figsize=(8.0, 4.4))
        axes = figure.subplots()
        for design, curve in drawn.items():
            points = curve["points"]
            axes.plot([p["tokens_per_s_per_user"] for p in points], [p["tokens_per_s_per_gpu"] for p in points],
                      color=colours[design], marker="o", markersize=3, linewidth=1.4,
                      label=f"{design} (TP {curve.get('tensor_parallel', '?')})")
            chosen = curve.get("operating_point")
            if chosen:
                axes.plot(chosen["tokens_per_s_per_user"], chosen["tokens_per_s_per_gpu"], marker="*",
                          markersize=14, color=colours[design], markeredgecolor="0.1", linestyle="none")
        handles, _ = axes.get_legend_handles_labels()
        slos = sorted({float(c["max_tpot_s"]) for c in drawn.values() if c.get("max_tpot_s")})
        for slo_s in slos:
            axes.axvline(1.0 / slo_s, color="0.3", linestyle="--", linewidth=1.0)
        if slos:
            handles.append(Line2D([], [], color="0.3", linestyle="--",
                                  label=" / ".join(f"SLO: TPOT ≤ {1e3 * s:g} ms" for s in slos)))
        handles.append(Line2D([], [], color="0.5", marker="*", markersize=11, markeredgecolor="0.1",
                              linestyle="none", label="operating point (best meeting the SLO)"))
        axes.set_xlabel(labelled("interactivity: output tokens per second per user", "tokens/s"))
        axes.set_ylabel(labelled("throughput: output tokens per second per GPU", "tokens/s"))
        axes.set_xlim(left=0.0)
        axes.set_ylim(bottom=0.0)
        axes.set_title("Predicted throughput against interactivity")
        legend_beside(axes, handles)
        figure.tight_layout()
        return png(figure)
