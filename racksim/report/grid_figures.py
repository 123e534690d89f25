"""Report figures of the hall's power as the grid sees it (a scenario with a grid: block, racksim.run.grid).

From each run's grid.parquet (time_s, <variant>_feed_power_w) and metrics.json's `grid` group: the feed power over
the window per mitigation, its spectrum with the critical band shaded, and each mitigation's trade (energy
overhead against the largest ramp and the peak-to-trough swing it leaves, the limits drawn).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, NullFormatter

from racksim._types import FloatArray
from racksim.physics.grid import power_spectrum
from racksim.report.plotkit import FigureContext, RunData, legend_beside, png, report_style
from racksim.report.rundir import read_json
from racksim.run.results import GRID_FILE
from racksim.run.timeseries import read_timeseries

SUFFIX = "_feed_power_w"
STYLES = ("-", "--", ":", "-.")
"""Line style of each mitigation in the spectrum (none first)."""
SPECTRUM_BINS = 80
"""Log-spaced frequency bins the spectrum is drawn in (its lines stay readable, the figure cheap)."""
MARKERS = ("o", "s", "^", "D")
FLOOR = 1e-3
"""Smallest value the trade's log axes show (a flat feed's 0 is drawn there), MW or MW/s."""


@dataclass(frozen=True)
class GridRun:
    """One run's grid window: its time axis, each variant's feed power and metrics, the window's settings."""

    time_s: FloatArray
    feed_w: dict[str, FloatArray]
    metrics: dict[str, Any]


def grid_run(directory: Path) -> GridRun | None:
    """A run's grid window from grid.parquet and metrics.json; None without one."""
    metrics = read_json(Path(directory) / "metrics.json")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("grid"), dict) \
            or not (Path(directory) / GRID_FILE).is_file():
        return None
    columns = read_timeseries(Path(directory), GRID_FILE)
    feed = {name[: -len(SUFFIX)]: values for name, values in columns.items() if name.endswith(SUFFIX)}
    if "time_s" not in columns or not feed:
        return None
    return GridRun(columns["time_s"], feed, metrics["grid"])


def grid_figures(runs: Sequence[RunData], context: FigureContext) -> list[tuple[str, str, bytes | None]]:
    """(key, title, PNG or None): feed power per mitigation, its spectrum, and the mitigations' trade."""
    found = {run.design: grid_run(run.directory) for run in runs}
    halls = {design: grid for design, grid in found.items() if grid is not None}
    colours = context.colours
    return [
        ("grid-feed", "Grid: the hall's feed power over the window, per mitigation",
         feed_figure(halls, colours) if halls else None),
        ("grid-spectrum", "Grid: spectrum of the feed power's swing, the critical band shaded",
         spectrum_figure(halls, colours) if halls else None),
        ("grid-trade", "Grid: each mitigation's energy overhead against the swing it leaves",
         trade_figure(halls, colours) if halls else None),
    ]


def _variants(halls: Mapping[str, GridRun]) -> list[str]:
    """Every variant of the runs, in their order (none first)."""
    return list(dict.fromkeys(name for grid in halls.values() for name in grid.feed_w))


def feed_figure(halls: Mapping[str, GridRun], colours: Mapping[str, str]) -> bytes:
    """Feed power (MW) over the window: a panel per mitigation, a line per design, a shared power axis."""
    variants = _variants(halls)
    with report_style():
        from matplotlib.figure import Figure

        figure = Figure(figsize=(10.0, 1.0 + 1.3 * len(variants)))
        panels = figure.subplots(len(variants), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        figure.subplots_adjust(left=0.1, right=0.78, top=1 - 0.4 / figure.get_figheight(),
                               bottom=0.6 / figure.get_figheight(), hspace=0.15)
        for axes, name in zip(panels, variants, strict=True):
            for design, grid in halls.items():
                if name in grid.feed_w:
                    axes.plot(grid.time_s, grid.feed_w[name] / 1e6, color=colours[design], linewidth=0.6,
                              label=design)
            axes.set_ylabel(f"{name}\n(MW)")
        panels[-1].set_xlabel("time in the window (s)")
        panels[0].set_title("Hall feed power as the grid sees it, per mitigation")
        legend_beside(panels[0])
        return png(figure)


def binned_spectrum(freq_hz: FloatArray, density: FloatArray, bins: int = SPECTRUM_BINS) -> tuple[FloatArray,
                                                                                                 FloatArray]:
    """The spectrum's mean density in `bins` log-spaced frequency bins (DC left out; empty bins dropped)."""
    edges = np.geomspace(freq_hz[1], freq_hz[-1] * (1 + 1e-9), bins + 1)
    index = np.clip(np.searchsorted(edges, freq_hz[1:], side="right") - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    sums = np.bincount(index, weights=density[1:], minlength=bins)
    kept = counts > 0
    return np.sqrt(edges[:-1] * edges[1:])[kept], sums[kept] / counts[kept]


def spectrum_figure(halls: Mapping[str, GridRun], colours: Mapping[str, str]) -> bytes:
    """Power spectral density (MW²/Hz, log-binned) of each design (colour) and mitigation (line style).

    The band is shaded; the legend gives each one's share of its swing energy in the band.
    """
    variants = _variants(halls)
    with report_style():
        from matplotlib.figure import Figure

        figure = Figure(figsize=(10.0, 4.2))
        axes = figure.subplots()
        figure.subplots_adjust(left=0.08, right=0.62, top=0.92, bottom=0.13)
        band: list[float] = [0.1, 20.0]
        limit = None
        for order, (design, grid) in enumerate(halls.items()):
            width = max(0.7, 1.8 - 0.6 * order)  # later designs thinner: equal spectra stay visible
            band = list(grid.metrics.get("band_hz", band))
            limit = grid.metrics.get("limits", {}).get("band_share_max", limit)
            step_s = float(grid.metrics.get("step_s", grid.time_s[1] - grid.time_s[0]))
            for name, feed_w in grid.feed_w.items():
                freq_hz, density = binned_spectrum(*power_spectrum(feed_w, step_s))
                share = grid.metrics.get("variants", {}).get(name, {}).get("band_energy_share", float("nan"))
                axes.loglog(freq_hz, np.maximum(density / 1e12, 1e-12), color=colours[design], linewidth=width,
                            linestyle=STYLES[variants.index(name) % len(STYLES)],
                            label=f"{design} · {name}: {share:.0%} in band")
        axes.axvspan(band[0], band[1], color="0.9", zorder=0,
                     label=f"band {band[0]:g}-{band[1]:g} Hz" + (f" (limit {limit:.0%})" if limit else ""))
        axes.set_xlabel("frequency (Hz)")
        axes.set_ylabel("power spectral density (MW²/Hz)")
        axes.set_title("Spectrum of the feed power's swing")
        legend_beside(axes)
        return png(figure)


def plain_number(value: float, _position: object = None) -> str:
    """A log axis' tick as a plain number (0.5, 2, 10), not 2×10⁰."""
    return f"{value:g}"


def _decades(axes: Axes) -> float:
    """Decades the axes' y range spans (its minor ticks are labelled when few)."""
    low, high = axes.get_ylim()
    return float(np.log10(high / low)) if low > 0 and high > 0 else 0.0


def trade_figure(halls: Mapping[str, GridRun], colours: Mapping[str, str]) -> bytes:
    """Energy overhead (%) against the largest ramp (MW/s) and the peak-to-trough (MW) of each variant."""
    with report_style():
        from matplotlib.figure import Figure

        figure = Figure(figsize=(10.0, 3.8))
        ramp_axes, swing_axes = figure.subplots(1, 2)
        figure.subplots_adjust(left=0.08, right=0.74, top=0.9, bottom=0.14, wspace=0.32)
        limits: dict[str, float] = {}
        for design, grid in halls.items():
            limits |= grid.metrics.get("limits", {})
            for index, (name, values) in enumerate(grid.metrics.get("variants", {}).items()):
                overhead = 100.0 * values["overhead_fraction"]
                marker = MARKERS[index % len(MARKERS)]
                ramp_axes.scatter(overhead, max(values["max_ramp_w_per_s"] / 1e6, FLOOR), color=colours[design],
                                  marker=marker, label=f"{design} · {name}")
                swing_axes.scatter(overhead, max(values["peak_to_trough_w"] / 1e6, FLOOR), color=colours[design],
                                   marker=marker)
        for axes, key, label in ((ramp_axes, "ramp_w_per_s", "largest ramp (MW/s)"),
                                 (swing_axes, "peak_to_trough_w", "peak-to-trough (MW)")):
            if key in limits:
                axes.axhline(limits[key] / 1e6, color="firebrick", linestyle="--", linewidth=1.0, label="limit")
            axes.set_yscale("log")
            axes.yaxis.set_major_formatter(FuncFormatter(plain_number))
            axes.yaxis.set_minor_formatter(FuncFormatter(plain_number) if _decades(axes) < 1.5 else NullFormatter())
            axes.set_xlabel("energy overhead (%)")
            axes.set_ylabel(label)
        ramp_axes.set_title("Ramp left")
        swing_axes.set_title("Swing left")
        legend_beside(swing_axes, ramp_axes.get_legend_handles_labels()[0])
        return png(figure)
