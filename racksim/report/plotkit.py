"""The report's figure kit: style, design colours, axes with units, a readable time axis, byte-stable PNGs.

Every figure module of the report (and the sweep's Pareto figure) draws with matplotlib's object API
(``matplotlib.figure.Figure``), which renders with Agg without touching pyplot or the user's backend, inside
``report_style()`` and ends with ``png(figure)``: the same figure gives the same bytes on every run.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import matplotlib as mpl
import numpy as np
from matplotlib import style as mpl_style
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine

from racksim._types import FloatArray
from racksim.io import atomic_write_bytes

Series = Mapping[str, FloatArray]
"""Columns of one run's time series by name (units in the names)."""

DPI = 110
LONG_SERIES_ROWS = 5000
"""Series longer than this are drawn as they are, with thin lines."""


@contextmanager
def report_style() -> Iterator[None]:
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


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes without the software/version stamp.

    After `figure.tight_layout()` the figure keeps a do-nothing placeholder layout engine, for which savefig
    would draw the whole figure once more before drawing it for real; the layout is done, so it goes. (A
    constrained layout stays: savefig's first draw is where it is computed.) The figure is not cleared
    afterwards: clearing rebuilds every axes only to drop it; the garbage collector frees it.
    """
    if isinstance(figure.get_layout_engine(), PlaceHolderLayoutEngine):
        figure.set_layout_engine(None)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def labelled(quantity: str, unit: str) -> str:
    """An axis label with its unit in brackets: 'feed power (kW)'."""
    return f"{quantity} ({unit})"


class TimeAxis(NamedTuple):
    """A time axis in a readable unit: seconds per axis unit and the unit's name."""

    scale_s: float
    unit: str

    @property
    def label(self) -> str:
        """The axis label, e.g. 'time (min)'."""
        return labelled("time", self.unit)


def time_axis(duration_s: float) -> TimeAxis:
    """The time axis for runs up to `duration_s` long (the longest run): h from 3 h, min from 3 min, else s."""
    if duration_s >= 3 * 3600:
        return TimeAxis(3600.0, "h")
    if duration_s >= 180:
        return TimeAxis(60.0, "min")
    return TimeAxis(1.0, "s")


def linewidth(rows: int) -> float:
    """Line width for a series of `rows` points: thin for long series."""
    return 0.5 if rows > LONG_SERIES_ROWS else 1.4


def legend_beside(axes: Axes, handles: Sequence[Artist] | None = None, fontsize: float = 8) -> None:
    """The legend outside the axes, to the right, top-aligned and frameless."""
    options = {} if handles is None else {"handles": handles}
    axes.legend(**options, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=fontsize, frameon=False)


def colour_ticks(axes: Axes, designs: Sequence[str], colours: Mapping[str, str]) -> None:
    """One x tick per design, named in bold in the design's colour."""
    axes.set_xticks(range(len(designs)), list(designs), rotation=15 if len(designs) > 4 else 0)
    for label, design in zip(axes.get_xticklabels(), designs, strict=True):
        label.set_color(colours[design])
        label.set_fontweight("bold")


def stacked_bars(axes: Axes, layers: Iterable[tuple[str, FloatArray, str]], count: int,
                 linewidth: float = 0.5) -> FloatArray:
    """One stacked bar per design position from (label, heights, colour) layers, bottom first; the stack tops."""
    bottom = np.zeros(count)
    for label, heights, colour in layers:
        axes.bar(range(count), heights, bottom=bottom, color=colour, edgecolor="0.25", linewidth=linewidth,
                 width=0.6, label=label)
        bottom += heights
    return bottom


def file_name(text: str, fallback: str) -> str:
    """`text` as a safe file-name part (runs of other characters become '-'), or `fallback` if nothing is left."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or fallback


@dataclass(frozen=True)
class FigureRef:
    """A figure as the reports show it: a file beside report.md, inlined in report.html."""

    title: str
    file: str
    data_uri: str


def save_figure(results_dir: Path, relative: str, title: str, png_bytes: bytes) -> FigureRef:
    """Write the PNG to results_dir/relative (atomically) and return how the reports refer to it."""
    atomic_write_bytes(Path(results_dir) / relative, png_bytes)
    return FigureRef(title, relative, f"data:image/png;base64,{base64.b64encode(png_bytes).decode()}")


class RunData(Protocol):
    """What the figure modules need of a run (racksim.report.render.Run has it)."""

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
    """Each design's time-series columns."""
    durations_s: Mapping[str, float]
    """Each design's simulated time, s."""
    colours: Mapping[str, str]
    """The report's colour of each design (the same in every figure)."""
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """What one figure module read from the runs for another to reuse, by name (e.g. the job mixes)."""


def figure_context(runs: Sequence[RunData], colours: Mapping[str, str]) -> FigureContext:
    """Read the runs' time series once for all figure modules."""
    series = {run.design: run.series() for run in runs}
    durations = {}
    for run in runs:
        time_s = series[run.design].get("time_s")
        end_s = float(time_s[-1]) if time_s is not None and time_s.size else 0.0
        durations[run.design] = run.duration_s if np.isfinite(run.duration_s) else end_s
    return FigureContext(series, durations, colours)
