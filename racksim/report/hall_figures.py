"""Report figure of halls: how hard each row's feeder was loaded, its peak and mean against its rating.

From the run's component summaries (racksim.run.components): `rows` (the row's feed power peak, the load on its
feeder) and `racks` (each rack's feed energy, summed per row into the row's mean); drawn only for runs of more
than one rack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from racksim._types import FloatArray
from racksim.report.plotkit import FigureContext, RunData, legend_beside, png, report_style
from racksim.run.components import read_component


@dataclass(frozen=True)
class RowLoading:
    """One hall run's rows: peak and mean feed power, W, and feeder rating, W (NaN: none)."""

    peak_w: FloatArray
    mean_w: FloatArray
    feeder_capacity_w: FloatArray


def row_loading(directory: Path, duration_s: float) -> RowLoading | None:
    """A run's row loading from its rack and row summaries; None for a single rack or a run without them."""
    racks, rows = read_component(directory, "racks"), read_component(directory, "rows")
    if racks is None or rows is None:
        return None
    try:
        rack_row = np.asarray(racks["row"], dtype=int)
        energy_j = np.asarray(racks["input_energy_j"], dtype=float)
        peak_w = np.asarray(rows["feed_w_max"], dtype=float)
        capacity_w = np.array([np.nan if c is None else c for c in rows["feeder_capacity_w"]], dtype=float)
    except (KeyError, TypeError, ValueError):
        return None
    if rack_row.size < 2 or not duration_s > 0 or rack_row.size != energy_j.size or peak_w.size != capacity_w.size:
        return None
    mean_w = np.bincount(rack_row, weights=energy_j, minlength=peak_w.size) / duration_s
    return RowLoading(peak_w, mean_w, capacity_w)


def hall_figures(runs: Sequence[RunData], context: FigureContext) -> list[tuple[str, str, bytes | None]]:
    """(key, title, PNG or None): each hall's rows against their feeders."""
    loading = {run.design: row_loading(run.directory, run.duration_s) for run in runs}
    halls = {design: rows for design, rows in loading.items() if rows is not None}
    return [("row-loading", "Row feeders: each row's peak and mean feed power against its rating",
             row_loading_figure(halls, context.colours) if halls else None)]


def row_loading_figure(halls: Mapping[str, RowLoading], colours: Mapping[str, str]) -> bytes:
    """Grouped bars per row: each hall's peak row feed (outline) and mean (filled), its feeder rating as a tick."""
    designs = list(halls)
    n_rows = max(rows.peak_w.size for rows in halls.values())
    width = 0.8 / len(designs)
    with report_style():
        from matplotlib.artist import Artist
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        figure = Figure(figsize=(min(14.0, max(6.0, 0.5 * n_rows * len(designs) + 3.0)), 3.8))
        axes = figure.subplots()
        for index, design in enumerate(designs):
            rows = halls[design]
            position = np.arange(rows.peak_w.size) - 0.4 + width * (index + 0.5)
            colour = colours[design]
            axes.bar(position, rows.peak_w / 1e3, width=width * 0.9, color="white", edgecolor=colour, linewidth=1.2)
            axes.bar(position, rows.mean_w / 1e3, width=width * 0.9, color=colour, alpha=0.8, label=design)
            rated = np.isfinite(rows.feeder_capacity_w)
            axes.scatter(position[rated], rows.feeder_capacity_w[rated] / 1e3, marker="_", s=400 * width,
                         color="black", linewidths=2.0, zorder=3)
        axes.set_xticks(range(n_rows), [str(row) for row in range(n_rows)])
        axes.set_xlabel("row")
        axes.set_ylabel("feed power of the row (kW)")
        axes.set_title("Row loading")
        handles: list[Artist] = [Patch(facecolor=colours[d], alpha=0.8, label=f"{d}: mean") for d in designs]
        handles += [Patch(facecolor="white", edgecolor="0.25", label="peak (outline)"),
                    Line2D([], [], marker="_", color="black", linestyle="none", markersize=14, markeredgewidth=2,
                           label="feeder rating")]
        legend_beside(axes, handles)
        figure.tight_layout()
        return png(figure)
