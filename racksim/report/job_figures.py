"""Report figures of a hall job mix by job: job MTTF against job size, and effective training time (ETTR).

MTTF per job size is pooled over the run's jobs of that size: the time they held racks (placements.parquet) over
their interruptions (all causes: stochastic failures and the scenario's faults). The dashed line is the series model
of Kokolis et al. (a job's nodes in series), MTTF(N) = 1 / (N · r), with r the run's interruptions per GPU-hour held.
Published points are drawn in black, each labelled with its source:

- Kokolis et al., "Revisiting Reliability in Large-Scale Machine Learning Research Clusters", HPCA 2025,
  arXiv 2410.21680, §IV and Fig. 7 (Meta RSC-1, A100): job MTTF 47.7 days at 8 GPUs and 7.9 h at 1,024 GPUs
  (measured); 1.8 h at 16,384 and 0.23 h at 131,072 GPUs (projected from 6.5 failures per 1,000 node-days); and
  their E[ETTR] of a 16,000-GPU job on RSC-1: 0.70 with 60-min checkpoints, 0.93 with 5-min ones.
- Llama 3 (Dubey et al. 2024, arXiv 2407.21783, Table 5): 419 unexpected interruptions in 54 days of a 16,384-GPU
  job, MTTF 54 × 24 / 419 = 3.1 h (353 of them hardware: 3.7 h); above 90 % effective training time (§3.3.4).

These are checks of scale, not fits: the figures compare the run with them, nothing is tuned to meet them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

from racksim._types import FloatArray
from racksim.report.hall_jobs import HallJobs, job_mix_runs
from racksim.report.plotkit import FigureContext, RunData, legend_beside, png, report_style

KOKOLIS = "Kokolis et al. 2025 (Meta RSC-1)"
LLAMA3 = "Llama 3 (Dubey et al. 2024)"


@dataclass(frozen=True)
class Published:
    """A published figure: its x (GPUs, or checkpoint interval in min), its value, what it is and its source."""

    x: float
    value: float
    label: str
    marker: str


PUBLISHED_MTTF_H = (
    Published(8, 47.7 * 24, f"{KOKOLIS}: measured", "s"),
    Published(1024, 7.9, f"{KOKOLIS}: measured", "s"),
    Published(16384, 1.8, f"{KOKOLIS}: projected", "D"),
    Published(131072, 0.23, f"{KOKOLIS}: projected", "D"),
    Published(16384, 54 * 24 / 419, f"{LLAMA3}: 419 interruptions in 54 days", "*"),
)
"""Published job MTTF (h) against job size (GPUs) (module docstring)."""
PUBLISHED_ETTR_BY_GPUS = (Published(16384, 0.9, "Llama 3: above 90 % at 16k GPUs", "^"),)
"""Published effective training time against job size (GPUs); the triangle marks a lower bound."""
PUBLISHED_ETTR_BY_INTERVAL = (
    Published(60.0, 0.70, "Kokolis et al. 2025: E[ETTR] of 16k GPUs", "s"),
    Published(5.0, 0.93, "Kokolis et al. 2025: E[ETTR] of 16k GPUs", "s"),
)
"""Published expected ETTR against checkpoint interval (min), of a 16,000-GPU job at RSC-1's failure rate."""
INTERVAL_TICKS_MIN = (1, 2, 5, 10, 20, 30, 60, 120, 240, 480)
"""Checkpoint intervals the ETTR figure labels, min."""


def job_figures(runs: Sequence[RunData], context: FigureContext) -> list[tuple[str, str, bytes | None]]:
    """(key, title, PNG or None): job MTTF against job size and ETTR per job, for job-mix runs."""
    halls = job_mix_runs(runs, context)
    if not halls:
        return []
    return [
        ("hall-mttf", "Hall: job MTTF against job size, with the published points",
         mttf_figure(halls, context.colours)),
        ("hall-ettr", "Hall: effective training time ratio (ETTR) per job, against job size and checkpoint interval",
         ettr_figure(halls, context.colours)),
    ]


@dataclass(frozen=True)
class SizeMttf:
    """A run's jobs pooled by size: GPUs, hours held, interruptions, and the series model's rate."""

    gpus: FloatArray
    held_h: FloatArray
    interruptions: FloatArray
    rate_per_gpu_h: float
    """Interruptions per GPU-hour held, over every job (the series model's r)."""

    @property
    def mttf_h(self) -> FloatArray:
        """Hours held per interruption of each size (inf where none)."""
        with np.errstate(divide="ignore"):
            return np.where(self.interruptions > 0, self.held_h / np.maximum(self.interruptions, 1), np.inf)


def mttf_by_size(hall: HallJobs) -> SizeMttf:
    """Job MTTF of each job size of a run: Σ hours held / Σ interruptions over its jobs of that size."""
    gpus, held_h, stops = hall.column("gpus"), hall.held_s() / 3600.0, hall.column("interruptions")
    sizes, index = np.unique(gpus, return_inverse=True)
    held = np.asarray(np.bincount(index, weights=held_h, minlength=sizes.size), dtype=float)
    count = np.asarray(np.bincount(index, weights=stops, minlength=sizes.size), dtype=float)
    exposure = float(np.sum(gpus * held_h))
    kept = held > 0
    return SizeMttf(sizes[kept], held[kept], count[kept], float(stops.sum()) / exposure if exposure > 0 else 0.0)


def _published(axes: Axes, points: Sequence[Published], labelled: set[str]) -> None:
    """Black markers of published figures, each source labelled once in the legend."""
    for point in points:
        label = point.label if point.label not in labelled else None
        labelled.add(point.label)
        axes.scatter(point.x, point.value, marker=point.marker, edgecolors="black", s=36, zorder=4, label=label,
                     facecolors="none" if "projected" in point.label else "black")


def mttf_figure(halls: Mapping[str, HallJobs], colours: Mapping[str, str]) -> bytes:
    """Log-log job MTTF (h) against job size (GPUs): the run's sizes, its series-model line, the published points.

    A size without interruptions is drawn as an open triangle at its hours held (MTTF above it).
    """
    with report_style():
        from matplotlib.figure import Figure

        figure = Figure(figsize=(10.0, 4.4))
        axes = figure.subplots()
        figure.subplots_adjust(left=0.08, right=0.6, top=0.92, bottom=0.12)
        sizes = [8.0, 131072.0]
        for design, hall in halls.items():
            pooled = mttf_by_size(hall)
            colour = colours[design]
            failed = pooled.interruptions > 0
            if failed.any():
                axes.scatter(pooled.gpus[failed], pooled.mttf_h[failed], color=colour, s=40, zorder=3,
                             label=f"{design}: this run")
            for x, y, n in zip(pooled.gpus[failed], pooled.mttf_h[failed], pooled.interruptions[failed], strict=True):
                axes.annotate(f"{n:.0f}", (x, y), textcoords="offset points", xytext=(5, 3), fontsize=7, color=colour)
            if not failed.all():
                axes.scatter(pooled.gpus[~failed], pooled.held_h[~failed], marker="^", facecolors="none",
                             edgecolors=colour, s=40, zorder=3, label=f"{design}: no interruption (MTTF above)")
            sizes += pooled.gpus.tolist()
            if pooled.rate_per_gpu_h > 0:
                line = np.geomspace(min(sizes), max(sizes), 50)
                axes.plot(line, 1.0 / (line * pooled.rate_per_gpu_h), color=colour, linestyle="--", linewidth=1.0,
                          label=f"{design}: series model 1/(N·r)")
        _published(axes, PUBLISHED_MTTF_H, set())
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("job size (GPUs)")
        axes.set_ylabel("job MTTF (h)")
        axes.set_title("Job mean time to failure by size (numbers: interruptions in the run)")
        legend_beside(axes, fontsize=7)
        return png(figure)


def ettr_figure(halls: Mapping[str, HallJobs], colours: Mapping[str, str]) -> bytes:
    """ETTR of every training job that ran, against its size (GPUs) and its checkpoint interval (min)."""
    with report_style():
        from matplotlib.figure import Figure

        figure = Figure(figsize=(10.0, 3.9))
        by_size, by_interval = figure.subplots(1, 2, sharey=True)
        figure.subplots_adjust(left=0.07, right=0.64, top=0.9, bottom=0.14, wspace=0.08)
        for design, hall in halls.items():
            ran = (np.asarray(hall.jobs["kind"]) == "training") & (hall.column("run_s") > 0)
            ettr, interrupted = hall.column("ettr")[ran], hall.column("interruptions")[ran] > 0
            for axes, x in ((by_size, hall.column("gpus")[ran]),
                            (by_interval, hall.column("checkpoint_interval_s")[ran] / 60.0)):
                for kept, marker, label in ((~interrupted, "o", "uninterrupted"), (interrupted, "X", "interrupted")):
                    if kept.any():
                        axes.scatter(x[kept], ettr[kept], color=colours[design], marker=marker, s=28, alpha=0.85,
                                     label=f"{design}: {label}")
        labelled: set[str] = set()
        _published(by_size, PUBLISHED_ETTR_BY_GPUS, labelled)
        _published(by_interval, PUBLISHED_ETTR_BY_INTERVAL, labelled)
        by_size.set_xscale("log")
        by_interval.set_xscale("log")
        by_interval.xaxis.set_major_locator(FixedLocator(INTERVAL_TICKS_MIN))
        by_interval.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        by_interval.xaxis.set_minor_formatter(NullFormatter())
        by_size.set_xlabel("job size (GPUs)")
        by_interval.set_xlabel("checkpoint interval (min)")
        by_size.set_ylabel("ETTR (kept training time / run time)")
        by_size.set_ylim(0.0, 1.05)
        by_size.set_title("ETTR by job size")
        by_interval.set_title("ETTR by checkpoint interval")
        handles, labels = by_size.get_legend_handles_labels()
        more, more_labels = by_interval.get_legend_handles_labels()
        kept = dict(zip(labels + more_labels, handles + more, strict=True))
        legend_beside(by_interval, list(kept.values()), fontsize=7)
        return png(figure)
