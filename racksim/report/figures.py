"""The core figures of a scenario section: GPU temperature against time, feed energy split, heat to liquid and air.

Each design is drawn in its report colour on shared axes; the thermal figures (racksim.report.thermal_figures)
add their marks to the GPU temperature figure and follow it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from racksim.kpis import J_PER_KWH, STAGES
from racksim.report.plotkit import (
    FigureContext,
    RunData,
    Series,
    colour_ticks,
    legend_beside,
    linewidth,
    png,
    report_style,
    stacked_bars,
    time_axis,
)
from racksim.report.thermal_figures import TemperatureMarks, thermal_figures

_STAGE_COLOURS = ("#9ecae1", "#fdae6b", "#a1d99b", "#fc9272", "#bcbddc", "#fdd0a2", "#c7e9c0", "#d9d9d9")


def gpu_temperature_figure(series: Mapping[str, Series], durations_s: Mapping[str, float],
                           colours: Mapping[str, str], marks: TemperatureMarks | None = None) -> bytes | None:
    """Hottest GPU (solid) and mean GPU (dashed) temperature, °C, against time.

    `marks`, if given, draws on the axes (thresholds, events) given the seconds per x-axis unit and returns
    legend handles for what it drew; the legend then goes beside the axes.
    """
    needed = ("time_s", "gpu_temp_c_max", "gpu_temp_c_mean")
    runs = {d: s for d, s in series.items() if all(k in s for k in needed) and s["time_s"].size}
    if not runs:
        return None
    axis = time_axis(max(durations_s[d] for d in runs))
    with report_style():
        figure = Figure(figsize=(8.0 if marks is None else 9.0, 3.6))
        axes = figure.subplots()
        for design, columns in runs.items():
            time = columns["time_s"] / axis.scale_s
            width = linewidth(time.size)
            axes.plot(time, columns["gpu_temp_c_max"], color=colours[design], linewidth=width)
            axes.plot(time, columns["gpu_temp_c_mean"], color=colours[design], linewidth=width,
                      linestyle="--")
        marked = marks(axes, axis.scale_s) if marks is not None else []
        handles = [Line2D([], [], color=colours[d], label=d) for d in runs]
        handles += [Line2D([], [], color="0.3", label="max GPU"),
                    Line2D([], [], color="0.3", linestyle="--", label="mean GPU"), *marked]
        if marked:
            legend_beside(axes, handles)
        else:
            axes.legend(handles=handles, loc="best", fontsize=8, ncol=1 if len(handles) <= 5 else 2,
                        framealpha=0.85)
        axes.set_xlabel(axis.label)
        axes.set_ylabel("GPU temperature (°C)")
        axes.set_title("GPU die temperature")
        figure.tight_layout()
        return png(figure)


def energy_figure(energy_kwh: Mapping[str, Mapping[str, float]], colours: Mapping[str, str]) -> bytes | None:
    """Stacked bar per design: energy at the feed split into IT and each loss stage, kWh.

    `energy_kwh` maps design to {component: kWh}, components in stacking order ("IT" first).
    """
    if not energy_kwh:
        return None
    designs = list(energy_kwh)
    components = list(dict.fromkeys(c for parts in energy_kwh.values() for c in parts))
    with report_style():
        figure = Figure(figsize=(max(5.0, 1.3 * len(designs) + 3.0), 3.8))
        axes = figure.subplots()
        bottom = stacked_bars(axes, ((component if component == "IT" else f"loss: {component}",
                                      np.array([energy_kwh[d].get(component, 0.0) for d in designs]),
                                      "#bdbdbd" if component == "IT" else
                                      _STAGE_COLOURS[(index - 1) % len(_STAGE_COLOURS)])
                                     for index, component in enumerate(components)), len(designs))
        for position, design in enumerate(designs):
            losses = sum(v for k, v in energy_kwh[design].items() if k != "IT")
            if bottom[position] > 0:
                axes.annotate(f"losses {100 * losses / bottom[position]:.1f} %", (position, bottom[position]),
                              textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
        axes.set_ylim(0.0, 1.12 * max(float(bottom.max()), 1e-12))
        colour_ticks(axes, designs, colours)
        axes.set_ylabel("energy (kWh)")
        axes.set_title("Feed energy: IT and conversion losses")
        legend_beside(axes)
        figure.tight_layout()
        return png(figure)


def heat_figure(heat_kwh: Mapping[str, tuple[float, float]], colours: Mapping[str, str]) -> bytes | None:
    """Heat removed by liquid (solid) and by air (hatched) per design, kWh, with the liquid share."""
    if not heat_kwh:
        return None
    designs = list(heat_kwh)
    positions = np.arange(len(designs), dtype=float)
    with report_style():
        figure = Figure(figsize=(max(5.0, 1.3 * len(designs) + 2.5), 3.8))
        axes = figure.subplots()
        for position, design in zip(positions, designs, strict=True):
            liquid, air = heat_kwh[design]
            colour = colours[design]
            axes.bar(position - 0.18, liquid, width=0.34, color=colour, edgecolor="0.25", linewidth=0.5)
            axes.bar(position + 0.18, air, width=0.34, color="white", edgecolor=colour, hatch="///",
                     linewidth=1.0)
            total = liquid + air
            if total > 0:
                axes.annotate(f"{100 * liquid / total:.1f} % liquid", (position, max(liquid, air)),
                              textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
        colour_ticks(axes, designs, colours)
        legend_beside(axes, [Patch(facecolor="0.6", edgecolor="0.25", label="to liquid"),
                             Patch(facecolor="white", edgecolor="0.25", hatch="///", label="to air")])
        axes.set_ylabel("heat (kWh)")
        axes.set_title("Heat removed: liquid versus air")
        axes.set_ylim(0.0, 1.15 * max([max(pair) for pair in heat_kwh.values()] + [1e-12]))
        figure.tight_layout()
        return png(figure)


def scenario_figures(runs: Sequence[RunData], context: FigureContext) -> list[tuple[str, str, bytes | None]]:
    """(file key, title, PNG or None) of the core figures: GPU temperature, energy, heat, thermal."""
    series, durations, colours = context.series, context.durations_s, context.colours
    energy = {}
    for run in runs:
        if "power.it_energy_j" in run.values:
            stages = sorted((k.removeprefix(STAGES + "."), v) for k, v in run.values.items()
                            if k.startswith(STAGES + "."))
            parts = {"IT": run.values["power.it_energy_j"]} | dict(stages)
            energy[run.design] = {name: joules / J_PER_KWH for name, joules in parts.items()}
    liquid, air = "thermal.heat_to_liquid_j", "thermal.heat_to_air_j"
    heat = {run.design: (run.values[liquid] / J_PER_KWH, run.values[air] / J_PER_KWH)
            for run in runs if liquid in run.values and air in run.values}
    marks, thermal = thermal_figures(runs, series, durations, colours)
    made: list[tuple[str, str, bytes | None]] = [
        ("gpu-temperature", "GPU temperature against time", gpu_temperature_figure(series, durations, colours, marks)),
        ("energy", "Energy split into IT and losses", energy_figure(energy, colours)),
        ("heat", "Heat to liquid versus air", heat_figure(heat, colours))]
    return made + list(thermal)
