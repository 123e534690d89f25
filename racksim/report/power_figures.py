"""Power figures: feed power with its ramps, supply events and the smoothing it had; a loss Sankey per design."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.sankey import Sankey

from racksim._types import FloatArray
from racksim.kpis import J_PER_KWH, STAGES
from racksim.physics.arrays import build
from racksim.physics.piecewise import steepest_ramp
from racksim.physics.power import chain_losses_at_it_load
from racksim.report.plotkit import FigureContext, RunData, Series, legend_beside, png, report_style, time_axis
from racksim.report.rundir import read_json
from racksim.run.loading import load_design

CHAIN_FIGURE_SCENARIO = "training"
"""The scenario whose section carries the chain-loss figure (it depends on the designs only)."""
EVENT_MARKERS = {"trip": ("X", "rack trip"), "reset": ("P", "rack reset"), "breaker": ("v", "breaker opens"),
                 "battery": ("s", "BBUs empty")}
"""Supply events marked on the feed curve: kind → (marker, legend label)."""


def power_figures(runs: Sequence[RunData], context: FigureContext) -> list[tuple[str, str, bytes | None]]:
    """(key, title, PNG or None): the feed power with ramps and events, and where the feed energy goes."""
    events = {run.design: _events(run) for run in runs}
    ramps = {run.design: ramp for run in runs if (ramp := _recorded_ramp(run)) is not None}
    made: list[tuple[str, str, bytes | None]] = [
        ("feed-power", "Feed power against time, with the steepest ramp and supply events",
         feed_power_figure(context.series, context.durations_s, context.colours, events, ramps)),
        ("loss-sankey", "Where the feed energy goes (Sankey)", loss_sankey_figure(
            {run.design: run.values for run in runs}, context.colours)),
    ]
    if any(getattr(run, "scenario", "") == CHAIN_FIGURE_SCENARIO for run in runs):
        chains = {run.design: path for run in runs if (path := run.directory / "design.resolved.yaml").is_file()}
        made.append(("chain-loss", "Conversion and distribution loss at equal IT load",
                     chain_loss_figure(chains, context.colours)))
    return made


def chain_loss_figure(designs: Mapping[str, Path], colours: Mapping[str, str]) -> bytes | None:
    """Chain loss (feed to the chips' rails) and busbar loss against IT load, each design's chain at the same load.

    Every design's trays share the same IT load equally (`racksim.physics.power.chain_losses_at_it_load`), so the
    curves compare the power architectures alone (e.g. 800 V DC against 50 V).
    """
    if not designs:
        return None
    it_load_w = np.linspace(10e3, 200e3, 77)
    with report_style():
        figure = Figure(figsize=(8.0, 3.6))
        total_axes, busbar_axes = figure.subplots(1, 2)
        for design, path in designs.items():
            arrays = build(load_design(path).design)
            trays = arrays.compute_tray_rack.size + arrays.switch_tray_rack.size
            losses = chain_losses_at_it_load(arrays.chain, trays, it_load_w, float(arrays.shelf_units[0]))
            total_axes.plot(it_load_w / 1e3, sum(losses.values()) / 1e3, color=colours[design], label=design)
            busbar_axes.plot(it_load_w / 1e3, losses["busbar"], color=colours[design], label=design)
        total_axes.set_title("All stages, feed to chip rails", fontsize=9)
        total_axes.set_ylabel("loss (kW)")
        busbar_axes.set_title("Busbar I²R", fontsize=9)
        busbar_axes.set_ylabel("loss (W)")
        busbar_axes.set_yscale("log")
        for axes in (total_axes, busbar_axes):
            axes.set_xlabel("IT load (kW)")
        total_axes.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
        return png(figure)


def _events(run: RunData) -> list[tuple[float, str]]:
    """(time, kind) of a run's logged events; none when events.json is missing or unreadable."""
    path = run.directory / "events.json"
    try:
        events = json.loads(path.read_text(encoding="utf-8"))
        return [(float(e["time_s"]), str(e["kind"])) for e in events]
    except (OSError, ValueError, TypeError, KeyError):
        return []


def _recorded_ramp(run: RunData) -> tuple[float, float] | None:
    """(Steepest 1 s feed ramp, W/s; when, s) from the metrics of a run whose time series is kept at a resolution.

    None for a series with a row per event, which shows the ramp itself.
    """
    inputs = read_json(run.directory / "inputs.json")
    if not isinstance(inputs, dict) or inputs.get("timeseries_resolution_s") is None:
        return None
    values = run.values
    if "power.max_ramp_w_per_s" not in values or "power.max_ramp_time_s" not in values:
        return None
    return values["power.max_ramp_w_per_s"], values["power.max_ramp_time_s"]


def _feed_path(columns: Series, duration_s: float, key: str = "feed_power_w") -> tuple[FloatArray, FloatArray]:
    """Vertices of the feed power: linear within each segment, held to the end of the run, W."""
    time_s, start_w = columns["time_s"], columns[key]
    end_w = columns.get("feed_power_end_w", start_w) if key == "feed_power_w" else start_w
    next_s = np.append(time_s[1:], max(duration_s, float(time_s[-1])))
    return np.column_stack([time_s, next_s]).ravel(), np.column_stack([start_w, end_w]).ravel()


def feed_power_figure(series: Mapping[str, Series], durations_s: Mapping[str, float], colours: Mapping[str, str],
                      events: Mapping[str, list[tuple[float, str]]],
                      ramps: Mapping[str, tuple[float, float]] | None = None) -> bytes | None:
    """Feed power (kW) against time per design, its steepest 1 s ramp annotated, supply events marked.

    Trips, opened breakers and empty BBUs are marked; dashed is what the feed would have drawn without
    smoothing storage. The ramp is the series' own unless `ramps` gives it (W/s, at s): a series kept at a
    coarse resolution averages it away.
    """
    runs = {d: s for d, s in series.items() if "time_s" in s and "feed_power_w" in s and s["time_s"].size}
    if not runs:
        return None
    axis = time_axis(max(durations_s[d] for d in runs))
    scale = axis.scale_s
    with report_style():
        figure = Figure(figsize=(8.6, 3.8))
        axes = figure.subplots()
        marked: set[str] = set()
        for design, columns in runs.items():
            colour = colours[design]
            time_s, feed_w = _feed_path(columns, durations_s[design])
            axes.plot(time_s / scale, feed_w / 1e3, color=colour, linewidth=1.2, label=design)
            if "feed_power_unsmoothed_w" in columns:
                raw_t, raw_w = _feed_path(columns, durations_s[design], "feed_power_unsmoothed_w")
                if np.max(np.abs(raw_w - feed_w)) > 1.0:
                    axes.plot(raw_t / scale, raw_w / 1e3, color=colour, linewidth=0.7, linestyle="--", alpha=0.7)
            rate_w_per_s, at_s = (ramps or {}).get(design) or steepest_ramp(
                columns["time_s"], columns["feed_power_w"], end_power_w=columns.get("feed_power_end_w"))
            if rate_w_per_s > 0:
                at_w = float(np.interp(at_s, time_s, feed_w))
                axes.annotate(f"{rate_w_per_s / 1e3:.0f} kW/s", (at_s / scale, at_w / 1e3), xytext=(6, 8),
                              textcoords="offset points", fontsize=7, color=colour,
                              arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 0.8})
            for time, kind in events.get(design, []):
                if kind in EVENT_MARKERS:
                    axes.plot(time / scale, float(np.interp(time, time_s, feed_w)) / 1e3,
                              marker=EVENT_MARKERS[kind][0], color=colour, markersize=7, linestyle="none",
                              markeredgecolor="black", markeredgewidth=0.6)
                    marked.add(kind)
        handles = [Line2D([], [], color=colours[d], label=d) for d in runs]
        handles += [Line2D([], [], color="0.3", linestyle="--", linewidth=0.7, label="without smoothing storage")]
        handles += [Line2D([], [], color="0.5", marker=EVENT_MARKERS[k][0], linestyle="none",
                           markeredgecolor="black", label=EVENT_MARKERS[k][1]) for k in EVENT_MARKERS if k in marked]
        axes.set_xlabel(axis.label)
        axes.set_ylabel("feed power (kW)")
        axes.set_title("Power at the facility feed (annotated: steepest 1 s ramp)")
        legend_beside(axes, handles)
        figure.tight_layout()
        return png(figure)


def loss_sankey_figure(values: Mapping[str, Mapping[str, float]], colours: Mapping[str, str]) -> bytes | None:
    """One Sankey per design: feed energy (plus energy from storage) in; IT energy and each stage's loss out."""
    flows = {d: v for d, v in values.items() if "power.input_energy_j" in v and "power.it_energy_j" in v}
    if not flows:
        return None
    with report_style():
        figure = Figure(figsize=(4.2 * len(flows), 4.2))
        for index, (design, run) in enumerate(flows.items()):
            axes = figure.add_subplot(1, len(flows), index + 1, xticks=[], yticks=[])
            axes.grid(False)
            for side in axes.spines.values():
                side.set_visible(False)
            storage_j = run.get("power.storage_net_energy_j", 0.0)
            losses = sorted(((k.removeprefix(STAGES + "."), v) for k, v in run.items()
                             if k.startswith(STAGES + ".")),
                            key=lambda item: -item[1])
            inputs = [("feed", run["power.input_energy_j"])] + ([("from storage", storage_j)] if storage_j > 0 else [])
            outputs = [("IT", run["power.it_energy_j"]), *losses] + ([("into storage", -storage_j)]
                                                                     if storage_j < 0 else [])
            total_j = sum(j for _, j in inputs)
            amounts = [j / total_j for _, j in inputs] + [-j / total_j for _, j in outputs]
            orientations = [0] * len(inputs) + [0] + [(-1) ** i for i in range(len(outputs) - 1)]
            labelled = [f"{name}\n{j / J_PER_KWH:.1f} kWh" if abs(j) / total_j > 0.002 else ""
                        for name, j in [*inputs, *outputs]]
            sankey = Sankey(ax=axes, scale=0.9, unit=None, gap=0.3, margin=0.25, shoulder=0.05, tolerance=1e-6)
            sankey.add(flows=amounts, labels=labelled, orientations=orientations, facecolor=colours[design],
                       alpha=0.6, edgecolor="0.2", pathlengths=[0.3] * len(amounts))
            for text in sankey.finish()[0].texts:
                text.set_fontsize(7)
            efficiency = run["power.it_energy_j"] / total_j
            axes.set_title(f"{design}: {efficiency:.1%} of the energy in reaches IT", fontsize=9)
        figure.tight_layout()
        return png(figure)
