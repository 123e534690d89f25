"""Report figures of a hall job mix over time: the jobs' Gantt on the racks, and the hall's utilization.

The Gantt draws every stretch a job held racks (placements.parquet) as rectangles over its racks, one colour per
job: runs of consecutive racks merge into one rectangle, and all of a design's rectangles are one rasterized
PolyCollection, so a month of a 1,400-rack hall with thousands of jobs stays one cheap artist. Interruptions are
crosses on the racks that failed, restarts (a stretch after the job's first) black lines over its racks at their
start, and faults that hit no job grey dots. Utilization is the running and down racks' share of the hall over
time, the queue below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from racksim._types import FloatArray
from racksim.report.hall_jobs import HallJobs, Mark, job_mix_runs
from racksim.report.plotkit import FigureContext, RunData, legend_beside, png, report_style, time_axis

NAMED_JOBS = 10
"""Jobs a Gantt panel names in its legend (more are told apart by colour only)."""
MARKS_FULL_SIZE_RACKS = 300
"""Halls up to this many racks get full-size failure marks; larger ones smaller marks, down to a quarter."""
RACK_BAR = 0.8
"""Height of a job's bar on one rack (rack pitch 1)."""


def fleet_figures(runs: Sequence[RunData], context: FigureContext) -> list[tuple[str, str, bytes | None]]:
    """(key, title, PNG or None): the jobs' Gantt on the racks and the hall's utilization, for job-mix runs."""
    halls = job_mix_runs(runs, context)
    if not halls:
        return []
    return [
        ("hall-gantt", "Hall: jobs on racks over time (one colour per job), with interruptions and restarts",
         gantt_figure(halls, context.durations_s, context.colours)),
        ("hall-utilization", "Hall: share of racks running a job and down, and the jobs waiting, over time",
         utilization_figure(halls, {d: context.series.get(d, {}) for d in halls}, context.colours,
                            context.durations_s)),
    ]


def job_colour_index(jobs: FloatArray, colours: int) -> FloatArray:
    """Each job's place (0-1) in a qualitative palette of `colours` colours, in steps of 7.

    tab20 pairs a dark and a light shade of each hue; the steps keep neighbouring jobs in different hues.
    """
    return ((jobs * 7) % colours) / colours


def rack_runs(racks: Sequence[int]) -> list[tuple[int, int]]:
    """(first rack, count) of each run of consecutive racks in `racks` (sorted first)."""
    ordered = np.unique(np.asarray(racks, dtype=int))
    if ordered.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [ordered.size]])
    return [(int(ordered[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def rack_span(first: int, count: int) -> tuple[float, float]:
    """(bottom, top) of the bar over `count` consecutive racks from `first`, in axis units (rack pitch 1)."""
    return first - RACK_BAR / 2, first + count - 1 + RACK_BAR / 2


def gantt_rectangles(hall: HallJobs, scale_s: float) -> tuple[FloatArray, FloatArray]:
    """Rectangles of every stretch (vertices, shape (n, 4, 2), in axis units) and each one's job index."""
    corners, owners = [], []
    for job, start_s, end_s, racks in zip(hall.stretch_job, hall.stretch_start_s, hall.stretch_end_s,
                                          hall.stretch_racks, strict=True):
        for first, count in rack_runs(racks):
            low, high = rack_span(first, count)
            x0, x1 = start_s / scale_s, end_s / scale_s
            corners.append(((x0, low), (x1, low), (x1, high), (x0, high)))
            owners.append(job)
    return np.asarray(corners, dtype=float).reshape(-1, 4, 2), np.asarray(owners, dtype=float)


def restarts(hall: HallJobs) -> list[Mark]:
    """The start of every stretch after a job's first, on its racks (a restart after a swap or a requeue)."""
    seen: set[int] = set()
    marks = []
    for job, start_s, racks in zip(hall.stretch_job.tolist(), hall.stretch_start_s.tolist(), hall.stretch_racks,
                                   strict=True):
        if job in seen:
            marks.append(Mark(start_s, tuple(racks)))
        seen.add(job)
    return marks


def restart_segments(marks: Sequence[Mark], scale_s: float) -> list[tuple[tuple[float, float], ...]]:
    """A vertical segment over each run of consecutive racks of each restart, in axis units."""
    return [tuple((mark.time_s / scale_s, y) for y in rack_span(first, count))
            for mark in marks for first, count in rack_runs(mark.racks)]


def _points(marks: Sequence[Mark], scale_s: float) -> tuple[FloatArray, FloatArray]:
    """(times in axis units, racks) of every rack of every mark."""
    times = [mark.time_s / scale_s for mark in marks for _ in mark.racks]
    return np.asarray(times, dtype=float), np.asarray([r for mark in marks for r in mark.racks], dtype=float)


def gantt_figure(halls: Mapping[str, HallJobs], durations_s: Mapping[str, float],
                 colours: Mapping[str, str]) -> bytes:
    """A panel per design: racks (y) against time (x), one colour per job, failure and restart marks."""
    axis = time_axis(max(durations_s.get(d, 0.0) for d in halls) or 1.0)
    with report_style():
        import matplotlib as mpl
        from matplotlib.collections import LineCollection, PolyCollection
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        heights = [min(6.0, max(2.8, 1.0 + 0.03 * hall.racks)) for hall in halls.values()]
        figure = Figure(figsize=(10.0, 0.9 + sum(heights) + 0.35 * (len(halls) - 1)))
        panels = figure.subplots(len(halls), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
        figure.subplots_adjust(left=0.08, right=0.76, top=1 - 0.35 / figure.get_figheight(),
                               bottom=0.55 / figure.get_figheight(), hspace=0.12)
        palette = mpl.colormaps["tab20"]
        for axes, (design, hall) in zip(panels, halls.items(), strict=True):
            vertices, owners = gantt_rectangles(hall, axis.scale_s)
            faces = palette(job_colour_index(owners, palette.N)) if owners.size else np.zeros((0, 4))
            axes.add_collection(PolyCollection(list(vertices), facecolors=faces, edgecolors="none", rasterized=True))
            hit = {(m.time_s, r) for m in hall.interruptions for r in m.racks}
            idle_faults = [Mark(m.time_s, tuple(r for r in m.racks if (m.time_s, r) not in hit)) for m in hall.faults]
            axes.add_collection(LineCollection(restart_segments(restarts(hall), axis.scale_s), colors="black",
                                               linewidths=0.9, zorder=3, rasterized=True))
            small = float(np.clip(MARKS_FULL_SIZE_RACKS / max(hall.racks, 1), 0.25, 1.0))  # a big hall: small marks
            for marks, style in ((idle_faults, {"marker": ".", "color": "0.45", "s": 10 * small}),
                                 (hall.interruptions, {"marker": "x", "color": "red", "s": 22 * small,
                                                       "linewidths": 1.2})):
                x, y = _points(marks, axis.scale_s)
                if x.size:
                    axes.scatter(x, y, zorder=3, rasterized=x.size > 500, **style)
            axes.set_ylim(hall.racks - 0.5, -0.5)
            axes.set_xlim(0.0, durations_s.get(design, 0.0) / axis.scale_s)
            axes.set_ylabel(f"{design}\nrack", color=colours[design])
            axes.grid(False)
            names = hall.jobs["name"]
            handles: list[Patch | Line2D] = [
                Patch(color=palette(job_colour_index(np.array([float(i)]), palette.N)[0]), label=str(name))
                for i, name in enumerate(names[:NAMED_JOBS])]
            if len(names) > NAMED_JOBS:
                handles.append(Patch(color="white", label=f"… {len(names)} jobs in all"))
            handles += [Line2D([], [], marker="x", color="red", linestyle="none", label="interruption"),
                        Line2D([], [], color="black", linewidth=0.9, label="restart (over its racks)"),
                        Line2D([], [], marker=".", color="0.45", linestyle="none", label="fault, no job hit")]
            legend_beside(axes, handles, fontsize=7)
        panels[-1].set_xlabel(axis.label)
        panels[0].set_title("Jobs on racks")
        return png(figure)


def utilization_figure(halls: Mapping[str, HallJobs], series: Mapping[str, Mapping[str, FloatArray]],
                       colours: Mapping[str, str], durations_s: Mapping[str, float]) -> bytes | None:
    """Running and down racks' share (%) over time per design with its failures as ticks; queued jobs below."""
    drawn = {d: s for d, s in series.items() if "running_racks_fraction" in s and "time_s" in s}
    if not drawn:
        return None
    axis = time_axis(max(durations_s.get(d, 0.0) for d in drawn) or 1.0)
    with report_style():
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D

        figure = Figure(figsize=(10.0, 4.6))
        share, queue = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        figure.subplots_adjust(left=0.08, right=0.76, top=0.93, bottom=0.11, hspace=0.12)
        for order, (design, columns) in enumerate(drawn.items()):
            width = max(0.8, 1.8 - 0.6 * order)  # later designs thinner: equal curves stay visible
            end_s = durations_s.get(design, float(columns["time_s"][-1]))
            time = np.append(columns["time_s"], end_s) / axis.scale_s
            colour = colours[design]
            for name, style in (("running_racks_fraction", "-"), ("down_racks_fraction", "--")):
                values = columns.get(name)
                if values is not None:
                    share.step(time, 100.0 * np.append(values, values[-1]), where="post", color=colour,
                               linestyle=style, linewidth=width)
            if "queued_jobs_units" in columns:
                queued = columns["queued_jobs_units"]
                queue.step(time, np.append(queued, queued[-1]), where="post", color=colour, linewidth=width)
            failures = np.asarray([m.time_s for m in halls[design].faults], dtype=float) / axis.scale_s
            share.plot(failures, np.full(failures.size, -3.0), linestyle="none", marker="|", color=colour,
                       markersize=8, clip_on=False)
            mean = float(np.sum(np.diff(time) * columns["running_racks_fraction"])) / max(time[-1] - time[0], 1e-12)
            share.axhline(100.0 * mean, color=colour, linewidth=0.6, linestyle=":")
        share.set_ylim(-6.0, 103.0)
        share.set_ylabel("racks (%)")
        share.set_title("Hall utilization")
        queue.set_ylabel("jobs waiting")
        queue.set_xlabel(axis.label)
        queue.set_xlim(0.0, max(durations_s.get(d, 0.0) for d in drawn) / axis.scale_s)
        handles = [Line2D([], [], color=colours[d], label=d) for d in drawn]
        handles += [Line2D([], [], color="0.3", linestyle="-", label="running a job"),
                    Line2D([], [], color="0.3", linestyle="--", label="down (failed, tripped)"),
                    Line2D([], [], color="0.3", linestyle=":", label="mean running"),
                    Line2D([], [], color="0.3", marker="|", linestyle="none", markersize=8, label="failure")]
        legend_beside(share, handles)
        return png(figure)
