"""The report's cabling part: per design, a side view, a length histogram and the bill of materials.

All of it comes from the `cabling.json` a run writes; the side view draws every route coloured by medium.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from racksim.errors import InputError
from racksim.kpis import fmt
from racksim.report.plotkit import legend_beside, png, report_style

MEDIUM_COLOURS = {"passive_copper": "#b35806", "active_copper": "#d7301f", "optics": "#2166ac", "cpo": "#1b9e77",
                  "power": "#525252"}
"""Route colour by medium kind."""
UNIT_COLOURS = {"compute": "#e0e0e0", "switch": "#bdbdbd", "power_shelf": "#fee8a0", "network": "#d9f0d3",
                "other": "#deebf7"}
BOM_COLUMNS = (("links", "links", "count"), ("cables", "cables", "count"), ("length_m", "length (m)", "m"),
               ("mass_kg", "mass (kg)", "kg"), ("cost_usd", "cost (USD)", "USD"),
               ("power_w", "power in rack (W)", "W"), ("remote_power_w", "power at far ends (W)", "W"),
               ("failure_rate_fit", "failure rate (FIT)", "FIT"))
"""BOM table columns: (cabling.json key, heading, unit for formatting)."""
BUNDLE_SPREAD_MM = 4.0
"""Side-view offset between the risers of successive source heights, so bundles show as fans."""


def read_cabling(run_dir: Path) -> dict[str, Any] | None:
    """A run's cabling.json, or None if it has none."""
    path = Path(run_dir) / "cabling.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(str(path), "", f"unreadable cabling.json: {error}") from error
    if not isinstance(summary, dict):
        raise InputError(str(path), "", "must be a JSON object")
    return summary


def bom_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """The BOM table as text: a row per medium, then the total."""
    rows = [[str(item["medium"]), str(item["kind"]), *(fmt(float(item[key]), unit) for key, _, unit in BOM_COLUMNS)]
            for item in summary["bom"]]
    totals = [math.fsum(float(item[key]) for item in summary["bom"]) for key, _, _ in BOM_COLUMNS]
    return [*rows, ["total", "", *(fmt(total, unit) for total, (_, _, unit) in zip(totals, BOM_COLUMNS, strict=True))]]


def bom_notes(summary: Mapping[str, Any]) -> list[str]:
    """Sentences: each group's reach per medium at its lane rate, and the links that need active media or optics."""
    notes = []
    for name, group in sorted(summary["groups"].items(), key=lambda item: item[0] != "scale_up"):
        if "reach_m" in group:
            reaches = ", ".join(f"{medium} {fmt(reach, 'm')} m"
                                for medium, reach in sorted(group["reach_m"].items(), key=lambda item: item[1]))
            notes.append(f"Reach of {name} at {group['lane_rate_gbps']:g} Gb/s per lane: {reaches}.")
    off_copper: dict[tuple[str, str], list[float]] = {}
    kinds = {item["medium"]: item["kind"] for item in summary["bom"]}
    for route in summary["routes"]:
        if kinds.get(route["medium"]) not in ("passive_copper", "power"):
            tally = off_copper.setdefault((route["group"], route["medium"]), [0, math.inf, 0.0])
            tally[:] = [tally[0] + route["links"], min(tally[1], route["length_m_min"]),
                        max(tally[2], route["length_m_max"])]
    for (group, medium), (links, shortest, longest) in off_copper.items():
        notes.append(f"{group}: {fmt(links, 'count')} links on {medium} ({fmt(shortest, 'm')}–{fmt(longest, 'm')} m).")
    return notes


def _draw_rack(axes: Axes, summary: Mapping[str, Any]) -> None:
    """Side view: units as boxes (depth across, height up), each route as a polyline in its medium's colour."""
    rack = summary["rack"]
    depth = float(rack["tray_depth_mm"])
    for unit in rack["units"]:
        axes.add_patch(Rectangle((0.0, unit["z_mm"]), depth, unit["height_mm"], facecolor=UNIT_COLOURS.get(
            unit["kind"], "#f0f0f0"), edgecolor="white", linewidth=0.4, zorder=1))
    kinds = {item["medium"]: item["kind"] for item in summary["bom"]}
    fans: dict[str, list[float]] = {}
    for route in summary["routes"]:
        fans.setdefault(route["group"], [])
        if route["source_z_mm"] not in fans[route["group"]]:
            fans[route["group"]].append(route["source_z_mm"])
    for route in summary["routes"]:
        group = summary["groups"][route["group"]]
        sign = -1.0 if group["face"] == "front" else 1.0
        face = 0.0 if group["face"] == "front" else depth
        fan = sorted(fans[route["group"]]).index(route["source_z_mm"])
        riser = face + sign * (group["riser_depth_mm"] + BUNDLE_SPREAD_MM * fan)
        end = face if group["ends_at"] == "tray" else riser
        source, dest = route["source_z_mm"], route["dest_z_mm"]
        axes.plot([face, riser, riser, end], [source, source, dest, dest], zorder=2, alpha=0.75,
                  color=MEDIUM_COLOURS.get(kinds.get(route["medium"], ""), "#000000"),
                  linewidth=0.4 + 0.25 * math.log2(route["links"]))
    axes.axhline(float(rack["height_mm"]), color="0.4", linewidth=0.6, linestyle=":")
    axes.set_xlim(-200.0, depth + 200.0)
    axes.set_ylim(0.0, float(rack["height_mm"]) * 1.04)
    axes.set_xlabel("depth from the tray fronts (mm)")
    axes.set_ylabel("height (mm)")
    axes.set_title("Side view: cable routes by medium")
    present = sorted({u["kind"] for u in rack["units"]})
    media = [Line2D([], [], color=MEDIUM_COLOURS.get(item["kind"], "#000000"),
                    label=f"{item['medium']} ({fmt(item['cables'], 'count')})") for item in summary["bom"]]
    units = [Patch(facecolor=UNIT_COLOURS.get(kind, "#f0f0f0"), label=kind) for kind in present]
    legend_beside(axes, [*media, *units], fontsize=7)


def _draw_histogram(axes: Axes, summary: Mapping[str, Any]) -> None:
    """Cables per length bin, stacked by medium."""
    edges = [float(edge) for edge in summary["histogram"]["edges_m"]]
    labels = [f"{a:g}–{b:g}" for a, b in itertools.pairwise(edges)] + [f"≥{edges[-1]:g}"]
    kinds = {item["medium"]: item["kind"] for item in summary["bom"]}
    bottom = np.zeros(len(edges))
    for medium, counts in summary["histogram"]["cables"].items():
        heights = np.asarray(counts, dtype=float)
        axes.bar(range(len(edges)), heights, bottom=bottom, color=MEDIUM_COLOURS.get(kinds.get(medium, ""), "#000000"),
                 edgecolor="0.25", linewidth=0.4, label=medium)
        bottom += heights
    axes.set_xticks(range(len(edges)), labels, rotation=60, fontsize=7)
    axes.set_xlabel("cable length (m)")
    axes.set_ylabel("cables")
    axes.set_title("Cable lengths")


def cabling_figure(summary: Mapping[str, Any]) -> bytes:
    """PNG: the rack side view with routes beside the histogram of cable lengths."""
    with report_style():
        figure = Figure(figsize=(10.0, 5.2))
        side, histogram = figure.subplots(1, 2, width_ratios=(1.3, 1.0))
        _draw_rack(side, summary)
        _draw_histogram(histogram, summary)
        figure.suptitle(f"Cabling of {summary.get('design', '')}")
        figure.tight_layout()
        return png(figure)


def headings() -> Sequence[str]:
    """Column headings of the BOM table."""
    return ["medium", "kind", *(heading for _, heading, _ in BOM_COLUMNS)]
