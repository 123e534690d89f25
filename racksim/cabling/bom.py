"""Bill of materials of a cabling plan: totals, counts by medium, length histogram, routes; metrics and JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from racksim._types import FloatArray
from racksim.cabling.plan import GROUPS, CablingPlan

if TYPE_CHECKING:
    from racksim.design.schema import Design

HISTOGRAM_EDGES_M = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)
"""Lower edges of the bins of the cable-length histogram (the last bin is open), m."""
OPTICAL_KINDS = ("optics", "cpo")


def by_medium(plan: CablingPlan, values: FloatArray) -> FloatArray:
    """Sum of a per-row quantity for each medium of `plan.medium_names`."""
    return np.bincount(plan.medium, weights=values, minlength=len(plan.medium_names)).astype(float)


def _row_kinds(plan: CablingPlan) -> np.ndarray:
    return np.asarray(plan.medium_kinds)[plan.medium]


def cabling_metrics(plan: CablingPlan) -> dict[str, Any]:
    """The `cabling` group of metrics.json: totals (counts, m, W, USD, kg, FIT) and counts by medium.

    A cable is a differential pair or fibre per lane and direction for groups of loose pairs (the NVLink
    spine), else one assembly per link; power cords count one each.
    """
    kinds = _row_kinds(plan)
    cable_length_m = plan.cables * plan.length_m
    cables = by_medium(plan, plan.cables.astype(float))
    lengths = by_medium(plan, cable_length_m)
    return {
        "cable_count": int(plan.cables.sum()),
        "cable_length_m": float(cable_length_m.sum()),
        "active_cable_count": int(plan.cables[kinds == "active_copper"].sum()),
        "optical_link_count": int(np.isin(kinds, OPTICAL_KINDS).sum()),
        "link_count": int(np.count_nonzero(plan.group != GROUPS.index("power"))),
        "power_w": plan.rack_power_w,
        "remote_power_w": float(plan.remote_power_w.sum()),
        "cost_usd": float(plan.cost_usd.sum()),
        "mass_kg": float(plan.mass_kg.sum()),
        "failure_rate_fit": float(plan.failure_rate_fit.sum()),
        "longest_cable_m": float(plan.length_m.max()),
        "cable_count_by_medium": {name: int(count) for name, count in zip(plan.medium_names, cables, strict=True)},
        "cable_length_m_by_medium": {name: float(m) for name, m in zip(plan.medium_names, lengths, strict=True)},
    }


def cabling_figures(plan: CablingPlan) -> dict[str, Any]:
    """Flat figures for `racksim show`: the metrics, cables by medium and each candidate's reach."""
    metrics = cabling_metrics(plan)
    figures = {f"cabling_{name}": value for name, value in metrics.items() if not isinstance(value, dict)}
    figures |= {f"cabling_cables_{name}": count for name, count in metrics["cable_count_by_medium"].items()}
    figures |= {f"cabling_{group}_reach_m_{medium}": reach
                for group, reaches in plan.reach_m.items() for medium, reach in reaches.items()}
    return figures


def length_histogram(plan: CablingPlan) -> dict[str, list[int]]:
    """Cables per bin of HISTOGRAM_EDGES_M for each medium that has any."""
    edges = np.asarray(HISTOGRAM_EDGES_M)
    bins = np.searchsorted(edges, plan.length_m, side="right") - 1
    counts = np.zeros((len(plan.medium_names), edges.size), dtype=np.int64)
    np.add.at(counts, (plan.medium, bins), plan.cables)
    return {name: row.tolist() for name, row in zip(plan.medium_names, counts, strict=True) if row.any()}


def routes(plan: CablingPlan) -> list[dict[str, Any]]:
    """Distinct (group, medium, source height, far-end height) routes with their link counts and lengths."""
    keys = np.column_stack([plan.group, plan.medium, plan.source_z_mm, plan.dest_z_mm])
    unique, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    shortest = np.full(counts.size, np.inf)
    longest = np.zeros(counts.size)
    np.minimum.at(shortest, inverse, plan.length_m)
    np.maximum.at(longest, inverse, plan.length_m)
    return [{"group": GROUPS[int(g)], "medium": plan.medium_names[int(m)], "source_z_mm": float(zs),
             "dest_z_mm": float(zd), "links": int(n), "length_m_min": float(lo), "length_m_max": float(hi)}
            for (g, m, zs, zd), n, lo, hi in zip(unique, counts, shortest, longest, strict=True)]


def bill_of_materials(plan: CablingPlan) -> list[dict[str, Any]]:
    """A row per medium in use: links, cables, cable length, mass, cost, power in and outside the rack, FIT."""
    links = np.bincount(plan.medium, minlength=len(plan.medium_names))
    columns = {
        "cables": by_medium(plan, plan.cables.astype(float)),
        "length_m": by_medium(plan, plan.cables * plan.length_m),
        "mass_kg": by_medium(plan, plan.mass_kg),
        "cost_usd": by_medium(plan, plan.cost_usd),
        "power_w": by_medium(plan, plan.power_w),
        "remote_power_w": by_medium(plan, plan.remote_power_w),
        "failure_rate_fit": by_medium(plan, plan.failure_rate_fit),
    }
    return [{"medium": name, "kind": kind, "links": int(links[index]),
             **{key: int(v[index]) if key == "cables" else float(v[index]) for key, v in columns.items()}}
            for index, (name, kind) in enumerate(zip(plan.medium_names, plan.medium_kinds, strict=True))
            if links[index]]


def cabling_summary(design: Design, plan: CablingPlan) -> dict[str, Any]:
    """cabling.json: the rack outline, each group's route and reach, the BOM, the histogram and the routes."""
    cabling, pitch = design.cabling, design.rack.u_pitch_mm
    units = [{"kind": slot.kind, "z_mm": (slot.u - 1 + i * design.slot_height_u(slot)) * pitch,
              "height_mm": design.slot_height_u(slot) * pitch}
             for slot in design.rack.slots for i in range(slot.count)]
    signal = {"scale_up": (cabling.scale_up, "tray"), "scale_out": (cabling.scale_out, "top")}
    groups: dict[str, dict[str, Any]] = {
        name: {"lanes_per_link": group.lanes_per_link, "lane_rate_gbps": group.lane_rate_gbps, "face": group.face,
               "riser_depth_mm": group.riser.depth_mm, "ends_at": ends_at, "reach_m": plan.reach_m[name]}
        for name, (group, ends_at) in signal.items()}
    groups["power"] = {"face": "rear", "riser_depth_mm": cabling.power.busbar.depth_mm, "ends_at": "busbar"}
    return {
        "design": design.name,
        "rack": {"height_mm": design.rack.height_u * pitch, "tray_depth_mm": cabling.tray_depth_mm, "units": units},
        "groups": groups,
        "bom": bill_of_materials(plan),
        "totals": cabling_metrics(plan),
        "histogram": {"edges_m": list(HISTOGRAM_EDGES_M), "cables": length_histogram(plan)},
        "routes": routes(plan),
    }
