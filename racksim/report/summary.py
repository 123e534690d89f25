"""summary.json: the report's numbers for machines (KPIs per scenario, scorecard, design diff, provenance).

KPI values under ``scenarios`` are in SI units as metrics.json stores them (the unit is in the name);
scorecard values are in the display unit given beside them. Missing or non-finite numbers are null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from racksim.kpis import DIRECTION_NAMES, Row, kpi_spec
from racksim.report.designs import DiffRow, Provenance
from racksim.report.scorecard import Scorecard


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def scenario_summary(values: Mapping[str, Mapping[str, float]], rows: Sequence[Row],
                     verdict: Sequence[str]) -> dict[str, Any]:
    """One scenario: every KPI's SI value per design, its direction and the designs holding the best value."""
    kpis = {}
    for row in rows:
        kpi = kpi_spec(row.metric)
        kpis[row.metric] = {"label": kpi.label, "display_unit": kpi.unit, "better": kpi.better_name,
                            "values": {d: _number(v.get(row.metric)) for d, v in values.items()},
                            "best": [c.design for c in row.cells if c.best]}
    return {"verdict": list(verdict), "kpis": kpis}


def scorecard_summary(card: Scorecard) -> dict[str, Any]:
    """The scorecard: weights, combined values (display units), points, scores, ranking and verdict."""
    return {
        "weights_from": card.weights_from, "verdict": card.verdict, "ranking": card.ranking,
        "scores": {d: _number(s) for d, s in card.scores.items()},
        "kpis": [{"metric": row.metric, "label": row.label, "unit": row.unit, "weight": row.weight,
                  "better": DIRECTION_NAMES.get(row.better), "combined": row.how, "scenarios": list(row.scenarios),
                  "scored": row.scored, "note": row.note,
                  "values": {c.design: _number(c.value) for c in row.cells},
                  "points": {c.design: _number(c.points) for c in row.cells},
                  "best": [c.design for c in row.cells if c.best]} for row in card.rows],
    }


def design_summary(designs: Sequence[str], diff: Sequence[DiffRow], identical: int,
                   notes: Sequence[Provenance]) -> dict[str, Any]:
    """The design diff (field -> design -> value as shown) and the counts and assumptions of each design."""
    return {
        "design_diff": {"identical_fields": identical,
                        "fields": {row.path: dict(zip(designs, row.values, strict=True)) for row in diff}},
        "provenance": {p.design: {"counts": p.counts, "assumptions": {r.path: r.note for r in p.assumptions},
                                  "overridden": [r.path for r in p.overridden], "untagged": p.untagged}
                       for p in notes},
    }
