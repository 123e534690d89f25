"""Report figures as PNG bytes: designs overlaid, one colour per design, byte-stable output.

Uses matplotlib's object API (``matplotlib.figure.Figure``), which renders with Agg without
touching pyplot or the user's backend, so there are no global figures to close or leak.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import matplotlib as mpl
import numpy as np
from matplotlib import style as mpl_style
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from racksim._types import FloatArray

Series = Mapping[str, FloatArray]
"""Columns of one run's timeseries.npz."""

DPI = 110
LONG_SERIES_ROWS = 5000
"""Series longer than this are drawn as they are, with thin lines."""

_STAGE_COLOURS = ("#9ecae1", "#fdae6b", "#a1d99b", "#fc9272", "#bcbddc", "#fdd0a2", "#c7e9c0", "#d9d9d9")


@contextmanager
def _style() -> Iterator[None]:
    """Matplotlib defaults plus the report's settings, whatever the user's matplotlibrc says."""
    report_settings = mpl.rc_context({
        "svg.hashsalt": "racksim",
        "agg.path.chunksize": 20000,  # long step paths would overflow Agg's cell limit in one piece
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.grid": True,
        "axes.axisbelow": True,
        "grid.alpha": 0.3,
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
    })
    axes_log = logging.getLogger("matplotlib.axes._base")
    level = axes_log.level
    axes_log.setLevel(logging.ERROR)  # Sankey's equal aspect "ignores fixed limits" on every draw: harmless noise
    try:
        with mpl_style.context("default"), report_settings:
            yield
    finally:
        axes_log.setLevel(level)


def design_colours(designs: Sequence[str]) -> dict[str, str]:
    """A fixed colour per design (tab10, then tab20), in the order given."""
    palette = mpl.colormaps["tab10" if len(designs) <= 10 else "tab20"]
    return {design: to_hex(palette(index % palette.N)) for index, design in enumerate(designs)}


def _png(figure: Figure) -> bytes:
    """The figure as PNG bytes without the software/version stamp, then free it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    figure.clear()
    return buffer.getvalue()


def _time_unit(duration_s: float) -> tuple[float, str]:
    """Seconds per axis unit and its name, chosen from the longest run."""
    if duration_s >= 3 * 3600:
        return 3600.0, "h"
    if duration_s >= 180:
        return 60.0, "min"
    return 1.0, "s"


def _linewidth(rows: int) -> float:
    return 0.5 if rows > LONG_SERIES_ROWS else 1.4


def _legend(axes: Axes, count: int) -> None:
    if count:
        axes.legend(loc="best", fontsize=8, ncol=1 if count <= 4 else 2, framealpha=0.85)


def gpu_temperature_figure(series: Mapping[str, Series], durations_s: Mapping[str, float],
                           colours: Mapping[str, str],
                           marks: Callable[[Axes, float], list[Line2D]] | None = None) -> bytes | None:
    """Hottest GPU (solid) and mean GPU (dashed) temperature, °C, against time.

    `marks`, if given, draws on the axes (thresholds, events) given the seconds per x-axis unit and returns
    legend handles for what it drew; the legend then goes beside the axes.
    """
    needed = ("time_s", "gpu_temp_c_max", "gpu_temp_c_mean")
    runs = {d: s for d, s in series.items() if all(k in s for k in needed) and s["time_s"].size}
    if not runs:
        return None
    scale, unit = _time_unit(max(durations_s[d] for d in runs))
    with _style():
        figure = Figure(figsize=(8.0 if marks is None else 9.0, 3.6))
        axes = figure.subplots()
        for design, columns in runs.items():
            time = columns["time_s"] / scale
            width = _linewidth(time.size)
            axes.plot(time, columns["gpu_temp_c_max"], color=colours[design], linewidth=width)
            axes.plot(time, columns["gpu_temp_c_mean"], color=colours[design], linewidth=width,
                      linestyle="--")
        marked = marks(axes, scale) if marks is not None else []
        handles = [Line2D([], [], color=colours[d], label=d) for d in runs]
        handles += [Line2D([], [], color="0.3", label="max GPU"),
                    Line2D([], [], color="0.3", linestyle="--", label="mean GPU"), *marked]
        if marked:
            axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        else:
            axes.legend(handles=handles, loc="best", fontsize=8, ncol=1 if len(handles) <= 5 else 2,
                        framealpha=0.85)
        axes.set_xlabel(f"time ({unit})")
        axes.set_ylabel("GPU temperature (°C)")
        axes.set_title("GPU die temperature")
        figure.tight_layout()
        return _png(figure)


def _colour_ticks(axes: Axes, designs: Sequence[str], colours: Mapping[str, str]) -> None:
    axes.set_xticks(range(len(designs)), list(designs), rotation=15 if len(designs) > 4 else 0)
    for label, design in zip(axes.get_xticklabels(), designs, strict=True):
        label.set_color(colours[design])
        label.set_fontweight("bold")


def energy_figure(energy_kwh: Mapping[str, Mapping[str, float]], colours: Mapping[str, str]) -> bytes | None:
    """Stacked bar per design: energy at the feed split into IT and each loss stage, kWh.

    `energy_kwh` maps design to {component: kWh}, components in stacking order ("IT" first).
    """
    if not energy_kwh:
        return None
    designs = list(energy_kwh)
    components = list(dict.fromkeys(c for parts in energy_kwh.values() for c in parts))
    with _style():
        figure = Figure(figsize=(max(5.0, 1.3 * len(designs) + 3.0), 3.8))
        axes = figure.subplots()
        bottom = np.zeros(len(designs))
        for index, component in enumerate(components):
            heights = np.array([energy_kwh[d].get(component, 0.0) for d in designs])
            colour = "#bdbdbd" if component == "IT" else _STAGE_COLOURS[(index - 1) % len(_STAGE_COLOURS)]
            axes.bar(range(len(designs)), heights, bottom=bottom, color=colour, edgecolor="0.25",
                     linewidth=0.5, label=component if component == "IT" else f"loss: {component}", width=0.6)
            bottom += heights
        for position, design in enumerate(designs):
            losses = sum(v for k, v in energy_kwh[design].items() if k != "IT")
            if bottom[position] > 0:
                axes.annotate(f"losses {100 * losses / bottom[position]:.1f} %", (position, bottom[position]),
                              textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
        axes.set_ylim(0.0, 1.12 * max(float(bottom.max()), 1e-12))
        _colour_ticks(axes, designs, colours)
        axes.set_ylabel("energy (kWh)")
        axes.set_title("Feed energy: IT and conversion losses")
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        figure.tight_layout()
        return _png(figure)


def heat_figure(heat_kwh: Mapping[str, tuple[float, float]], colours: Mapping[str, str]) -> bytes | None:
    """Heat removed by liquid (solid) and by air (hatched) per design, kWh, with the liquid share."""
    if not heat_kwh:
        return None
    designs = list(heat_kwh)
    positions = np.arange(len(designs), dtype=float)
    with _style():
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
        _colour_ticks(axes, designs, colours)
        axes.legend(handles=[Patch(facecolor="0.6", edgecolor="0.25", label="to liquid"),
                             Patch(facecolor="white", edgecolor="0.25", hatch="///", label="to air")],
                    loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        axes.set_ylabel("heat (kWh)")
        axes.set_title("Heat removed: liquid versus air")
        axes.set_ylim(0.0, 1.15 * max([max(pair) for pair in heat_kwh.values()] + [1e-12]))
        figure.tight_layout()
        return _png(figure)


class RunData(Protocol):
    """What the figures need of a run (racksim.report.render.Run has it)."""

    @property
    def design(self) -> str: ...  # noqa: D102

    @property
    def values(self) -> Mapping[str, float]: ...  # noqa: D102

    @property
    def duration_s(self) -> float: ...  # noqa: D102

    @property
    def directory(self) -> Path: ...  # noqa: D102

    def series(self) -> Mapping[str, FloatArray]: ...  # noqa: D102


@dataclass(frozen=True)
class FigureContext:
    """What every figure module gets besides the runs of one scenario."""

    series: Mapping[str, Series]
    """Each design's timeseries.npz columns."""
    durations_s: Mapping[str, float]
    """Each design's simulated time, s."""
    colours: Mapping[str, str]
    """The report's colour of each design (the same in every figure)."""


def figure_context(runs: Sequence[RunData], colours: Mapping[str, str]) -> FigureContext:
    """Read the runs' time series once for all figure modules."""
    series = {run.design: run.series() for run in runs}
    durations = {}
    for run in runs:
        time_s = series[run.design].get("time_s")
        end_s = float(time_s[-1]) if time_s is not None and time_s.size else 0.0
        durations[run.design] = run.duration_s if np.isfinite(run.duration_s) else end_s
    return FigureContext(series, durations, colours)


_STAGE_PREFIX = "power.loss_energy_j_by_stage."
_J_PER_KWH = 3.6e6


def scenario_figures(runs: Sequence[RunData], context: FigureContext) -> list[tuple[str, str, bytes | None]]:
    """(file key, title, PNG or None) of the core figures: GPU temperature, energy, heat, thermal."""
    series, durations, colours = context.series, context.durations_s, context.colours
    energy = {}
    for run in runs:
        if "power.it_energy_j" in run.values:
            stages = sorted((k.removeprefix(_STAGE_PREFIX), v) for k, v in run.values.items()
                            if k.startswith(_STAGE_PREFIX))
            parts = {"IT": run.values["power.it_energy_j"]} | dict(stages)
            energy[run.design] = {name: joules / _J_PER_KWH for name, joules in parts.items()}
    liquid, air = "thermal.heat_to_liquid_j", "thermal.heat_to_air_j"
    heat = {run.design: (run.values[liquid] / _J_PER_KWH, run.values[air] / _J_PER_KWH)
            for run in runs if liquid in run.values and air in run.values}
    from racksim.report import thermal_figures  # here, not at the top: thermal_figures builds on this module

    marks, thermal = thermal_figures.scenario_figures(runs, series, durations, colours)
    made: list[tuple[str, str, bytes | None]] = [
        ("gpu-temperature", "GPU temperature against time", gpu_temperature_figure(series, durations, colours, marks)),
        ("energy", "Energy split into IT and losses", energy_figure(energy, colours)),
        ("heat", "Heat to liquid versus air", heat_figure(heat, colours))]
    return made + list(thermal)
