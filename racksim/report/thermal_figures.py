"""Thermal figures of the report: rack elevation, cooling plant, and the marks on the GPU temperature figure.

Everything here reads beside metrics.json and tolerates older result directories: a run without
events.json, component summaries, a rack layout in design.resolved.yaml or some time-series columns simply
contributes nothing to the marks or figures that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import matplotlib as mpl
import numpy as np
from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import blended_transform_factory
from matplotlib.typing import LineStyleType

from racksim.report.events import Event, load_events
from racksim.report.plotkit import Series, legend_beside, linewidth, png, report_style, time_axis
from racksim.report.rundir import RackLayout, gpu_thresholds, load_resolved, rack_layout, tray_temperatures

TemperatureMarks = Callable[[Axes, float], list[Line2D]]
"""Draws on the GPU temperature axes, given the seconds per x-axis unit; returns legend handles."""

TEMPERATURE_CMAP = "inferno"
NEUTRAL_FILLS = {"switch": "#8f8f8f", "power_shelf": "#5e5e5e", "network": "#b8b8b8", "other": "#d6d6d6"}
"""Fills of the non-compute units of the elevation: greys, so the colour scale belongs to compute trays."""
NO_DATA_FILL = "#f2f2f2"
KIND_NAMES = {"compute": "compute", "switch": "switch", "power_shelf": "power shelf", "network": "network",
              "other": "other"}
THROTTLE_COLOUR, SHUTDOWN_COLOUR = "#7f7f7f", "#b2182b"
COLORBAR_MARKS = {"throttle": ("white", "white"), "shutdown": ("#ff4040", "red")}
"""(line colour, its name in the colorbar label) of the GPU thresholds marked on the elevation's colour scale."""
FAULT_STYLE: dict[str, Any] = {"linestyle": (0, (1.5, 1.5)), "linewidth": 1.1, "alpha": 0.9}
"""Vertical lines at faults and repairs, in the design's colour."""
THROTTLE_MARKER: dict[str, Any] = {"marker": "^", "markersize": 6, "markeredgecolor": "black",
                                   "markeredgewidth": 0.6}
SHUTDOWN_MARKER: dict[str, Any] = {"marker": "X", "markersize": 9, "markeredgecolor": "black",
                                   "markeredgewidth": 0.7}


class ThermalRun(Protocol):
    """What these figures need of a run (racksim.report.render.Run has it)."""

    @property
    def design(self) -> str: ...  # noqa: D102

    @property
    def directory(self) -> Path: ...  # noqa: D102


@dataclass(frozen=True)
class RunThermal:
    """What the thermal figures use of one run, read from its directory."""

    events: list[Event] | None
    layout: RackLayout | None
    throttle_c: float | None
    shutdown_c: float | None
    trays: tuple[dict[int, float], int] | None

    @classmethod
    def read(cls, directory: Path) -> RunThermal:
        """Read a run directory; whatever is missing is None."""
        resolved = load_resolved(directory)
        return cls(load_events(directory), rack_layout(resolved), *gpu_thresholds(resolved),
                   tray_temperatures(directory))


# ---------------------------------------------------------------------------------------------- marks


def _thresholds(runs: Mapping[str, RunThermal]) -> list[tuple[str, float, list[str]]]:
    """(kind, °C, designs having it) of each distinct GPU throttle and shutdown temperature, first design first."""
    lines: list[tuple[str, float, list[str]]] = []
    for kind in ("throttle", "shutdown"):
        values: dict[float, list[str]] = {}
        for design, run in runs.items():
            value = run.throttle_c if kind == "throttle" else run.shutdown_c
            if value is not None:
                values.setdefault(value, []).append(design)
        lines += [(kind, value, designs) for value, designs in values.items()]
    return lines


def _fault_lines(axes: Axes, events: Mapping[str, Sequence[Event]], colours: Mapping[str, str], scale: float,
                 letters: bool) -> bool:
    """Dotted vertical lines at faults and repairs in each design's colour; 'F'/'R' at the top if `letters`.

    Returns whether there was any line to draw.
    """
    lettered: set[tuple[float, str]] = set()
    top = blended_transform_factory(axes.transData, axes.transAxes)
    drawn = False
    for design, log in events.items():
        for event in log:
            if event.kind not in ("fault", "repair"):
                continue
            axes.axvline(event.time_s / scale, color=colours[design], **FAULT_STYLE)
            drawn = True
            letter = "F" if event.kind == "fault" else "R"
            if letters and (event.time_s, letter) not in lettered:
                lettered.add((event.time_s, letter))
                axes.text(event.time_s / scale, 0.985, letter, transform=top, ha="center", va="top", fontsize=7,
                          color="0.2", bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none",
                                             "alpha": 0.8})
    return drawn


def _fault_handle() -> Line2D:
    return Line2D([], [], color="0.3", label="fault (F) / repair (R)", **FAULT_STYLE)


def temperature_marks(runs: Mapping[str, RunThermal], series: Mapping[str, Series],
                      colours: Mapping[str, str]) -> TemperatureMarks | None:
    """Thresholds and events to draw on the GPU temperature figure, or None if there are none.

    Dashed lines at each distinct GPU throttle and shutdown temperature; dotted lines at faults and
    repairs; markers on each design's hottest-GPU curve at throttle onsets and shutdowns. The drawing
    function returns a legend handle for each kind of mark it drew.
    """
    thresholds = _thresholds(runs)
    events = {d: run.events for d, run in runs.items() if run.events}
    if not thresholds and not events:
        return None

    def draw(axes: Axes, scale: float) -> list[Line2D]:
        handles: list[Line2D] = []
        several = {kind: sum(k == kind for k, _, _ in thresholds) > 1 for kind in ("throttle", "shutdown")}
        for kind, value, designs in thresholds:
            colour = THROTTLE_COLOUR if kind == "throttle" else SHUTDOWN_COLOUR
            label = f"GPU {kind} {value:g} °C" + (f" ({', '.join(designs)})" if several[kind] else "")
            handles.append(axes.axhline(value, color=colour, linestyle="--", linewidth=1.1, label=label, zorder=1))
        if _fault_lines(axes, events, colours, scale, letters=True):
            handles.append(_fault_handle())
        for kind, style, label in (("throttle", THROTTLE_MARKER, "throttle onset"),
                                   ("shutdown", SHUTDOWN_MARKER, "shutdown")):
            drawn = False
            for design, log in events.items():
                columns = series.get(design, {})
                time_s, temp_c = columns.get("time_s"), columns.get("gpu_temp_c_max")
                at_s = np.array([event.time_s for event in log if event.kind == kind])
                if time_s is None or temp_c is None or not time_s.size or not at_s.size:
                    continue
                axes.plot(at_s / scale, np.interp(at_s, time_s, temp_c), linestyle="none",
                          markerfacecolor=colours[design], zorder=4, **style)
                drawn = True
            if drawn:
                handles.append(Line2D([], [], linestyle="none", markerfacecolor="0.6", label=label, **style))
        return handles

    return draw


# ---------------------------------------------------------------------------------------------- cooling

_COOLING_PANELS: tuple[tuple[str, tuple[tuple[str, LineStyleType, str], ...], float], ...] = (
    ("coolant temperature (°C)", (("coolant_supply_temp_c", "-", "supply"),
                                  ("coolant_return_temp_c", "--", "return")), 1.0),
    ("exhaust air temperature (°C)", (("exhaust_temp_c", "-", "exhaust air"),), 1.0),
    ("cooling power (kW)", (("fan_power_w", "-", "fans"), ("pump_power_w", "--", "pumps")), 1e-3),
)
"""(y label, ((column, line style, name), ...), display scale) of each cooling axis.

All are drawn as steps held until the next row: they change at events (the coolant also drifts while a
CDU rejects nothing, which the engine samples inside the interval).
"""


def cooling_figure(series: Mapping[str, Series], durations_s: Mapping[str, float], colours: Mapping[str, str],
                   events: Mapping[str, Sequence[Event]]) -> bytes | None:
    """Coolant supply/return, exhaust air and fan/pump power against time, stacked with a shared time axis."""
    runs = {d: s for d, s in series.items() if "time_s" in s and s["time_s"].size}
    panels = [(label, [c for c in columns if any(c[0] in s for s in runs.values())], factor)
              for label, columns, factor in _COOLING_PANELS]
    panels = [panel for panel in panels if panel[1]]
    if not panels:
        return None
    axis = time_axis(max(durations_s[d] for d in runs))
    scale = axis.scale_s
    with report_style():
        figure = Figure(figsize=(8.6, 1.1 + 2.1 * len(panels)))
        axes_column = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        for index, (axes, (label, columns, factor)) in enumerate(zip(axes_column, panels, strict=True)):
            for design, data in runs.items():
                time_s = data["time_s"]
                extend = durations_s[design] > time_s[-1]  # hold the last value to the end of the run
                for column, style, _ in columns:
                    if column in data:
                        values = data[column] * factor
                        axes.plot(np.append(time_s, durations_s[design]) / scale if extend else time_s / scale,
                                  np.append(values, values[-1]) if extend else values, color=colours[design],
                                  linestyle=style, linewidth=linewidth(time_s.size), drawstyle="steps-post")
            faults = _fault_lines(axes, {d: events[d] for d in runs if d in events}, colours, scale,
                                  letters=index == 0)
            handles: list[Artist] = [Line2D([], [], color=colours[d], label=d) for d in runs] if index == 0 else []
            if len(columns) > 1 or index == 0:
                handles += [Line2D([], [], color="0.3", linestyle=style, label=name) for _, style, name in columns]
            if faults and index == 0:
                handles.append(_fault_handle())
            legend_beside(axes, handles)
            axes.set_ylabel(label)
        axes_column[0].set_title("Cooling: coolant, exhaust air and cooling power")
        axes_column[-1].set_xlabel(axis.label)
        figure.tight_layout()
        return png(figure)


# ---------------------------------------------------------------------------------------------- elevation


def _text_colour(fill: Any) -> str:  # noqa: ANN401 - any matplotlib colour
    red, green, blue = to_rgb(fill)
    return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"


def _u_ticks(height_u: int) -> list[int]:
    step = 2 if height_u <= 24 else 4 if height_u <= 60 else 8
    return sorted({1, *range(step, height_u + 1, step)})


def elevation_figure(runs: Mapping[str, RunThermal], colours: Mapping[str, str]) -> bytes | None:
    """Front view of each design's rack, one panel per design, compute trays coloured by their hottest die.

    The colour scale (°C) is shared by all panels; other units are greys named in the legend. Units are
    drawn from rack unit u to u + height − 1, each unit of a slot block on its own.
    """
    layouts = {d: run.layout for d, run in runs.items() if run.layout is not None}
    racks = {d: runs[d] for d in layouts}
    if not racks:
        return None
    temps = [t for run in racks.values() if run.trays for t in run.trays[0].values()]
    low, high = (min(temps), max(temps)) if temps else (0.0, 1.0)
    if high - low < 1.0:
        low, high = (low + high) / 2 - 0.5, (low + high) / 2 + 0.5
    norm, cmap = Normalize(low, high), mpl.colormaps[TEMPERATURE_CMAP]
    tallest = max(layout.height_u for layout in layouts.values())
    kinds_drawn: set[str] = set()
    with report_style():
        figure = Figure(figsize=(max(5.0, 2.0 * len(racks) + 2.4), max(4.5, 0.125 * tallest + 1.9)),
                        layout="constrained")
        panels = figure.subplots(1, len(racks), sharey=True, squeeze=False)[0]
        for axes, (design, layout) in zip(panels, layouts.items(), strict=True):
            trays, rack_count = racks[design].trays or ({}, 1)
            taken = {u for unit in layout.units for u in range(unit.u, unit.u + unit.height_u)}
            for u in range(1, layout.height_u + 1):
                if u not in taken:
                    axes.add_patch(Rectangle((0.04, u - 0.5), 0.92, 1.0, facecolor="white", edgecolor="0.88",
                                             linewidth=0.5))
            for unit in layout.units:
                temp = trays.get(unit.u) if unit.kind == "compute" else None
                if unit.kind == "compute":
                    fill: Any = cmap(norm(temp)) if temp is not None else NO_DATA_FILL
                    text = f"compute {temp:.1f} °C" if temp is not None else "compute"
                    kinds_drawn.add("compute" if temp is not None else "compute-no-data")
                else:
                    fill = NEUTRAL_FILLS.get(unit.kind, NEUTRAL_FILLS["other"])
                    text = KIND_NAMES.get(unit.kind, unit.kind)
                    kinds_drawn.add(unit.kind if unit.kind in NEUTRAL_FILLS else "other")
                axes.add_patch(Rectangle((0.04, unit.u - 0.5), 0.92, unit.height_u, facecolor=fill,
                                         edgecolor="white", linewidth=0.8))
                axes.text(0.5, unit.u - 0.5 + unit.height_u / 2, text, ha="center", va="center", fontsize=6,
                          color=_text_colour(fill))
            axes.add_patch(Rectangle((0.0, 0.5), 1.0, layout.height_u, facecolor="none", edgecolor="0.2",
                                     linewidth=1.2))
            axes.set_xlim(-0.02, 1.02)
            axes.set_ylim(0.3, tallest + 0.7)
            axes.set_xticks([])
            axes.grid(False)
            axes.spines[:].set_visible(False)  # the rack outline is the frame
            title = design if rack_count == 1 else f"{design}\n(hottest of {rack_count} racks)"
            axes.set_title(title, color=colours[design], fontweight="bold", fontsize=9)
        panels[0].set_yticks(_u_ticks(tallest))
        panels[0].set_ylabel("rack unit (U)")
        if temps:
            bar = figure.colorbar(ScalarMappable(norm, cmap), ax=list(panels), fraction=0.06, pad=0.02, aspect=28)
            marked = [(kind, value) for kind, value, _ in _thresholds(racks) if low <= value <= high]
            for kind, value in marked:
                bar.ax.axhline(value, color=COLORBAR_MARKS[kind][0], linestyle="--", linewidth=1.6,
                               path_effects=[patheffects.withStroke(linewidth=3.2, foreground="black")])
            names = ", ".join(f"{COLORBAR_MARKS[kind][1]}: GPU {kind}" for kind in dict.fromkeys(k for k, _ in marked))
            bar.set_label("compute tray: hottest die over the run (°C)" + (f"\ndashed {names}" if marked else ""))
        legend = [Patch(facecolor=cmap(0.6), edgecolor="0.3", label="compute tray (colour scale)")]
        if "compute-no-data" in kinds_drawn:
            legend.append(Patch(facecolor=NO_DATA_FILL, edgecolor="0.3", label="compute tray (no temperatures)"))
        legend += [Patch(facecolor=fill, edgecolor="0.3", label=KIND_NAMES[kind])
                   for kind, fill in NEUTRAL_FILLS.items() if kind in kinds_drawn]
        legend.append(Patch(facecolor="white", edgecolor="0.75", label="empty"))
        figure.legend(handles=legend, loc="outside lower center", ncol=min(len(legend), 3), fontsize=8,
                      frameon=False)
        figure.suptitle("Rack elevation: compute trays coloured by their hottest die", fontsize=10)
        return png(figure)


# ---------------------------------------------------------------------------------------------- scenario


def thermal_figures(runs: Sequence[ThermalRun], series: Mapping[str, Series], durations_s: Mapping[str, float],
                     colours: Mapping[str, str]) -> tuple[TemperatureMarks | None, list[tuple[str, str, bytes]]]:
    """The marks for the GPU temperature figure and the (file key, title, PNG) of each thermal figure."""
    data = {run.design: RunThermal.read(run.directory) for run in runs}
    events = {design: run.events for design, run in data.items() if run.events}
    made = [("rack-elevation", "Rack elevation: compute trays by their hottest die over the run",
             elevation_figure(data, colours)),
            ("cooling", "Coolant supply and return, exhaust air and cooling power against time",
             cooling_figure(series, durations_s, colours, events))]
    figures = [(key, title, png) for key, title, png in made if png is not None]
    return temperature_marks(data, series, colours), figures
