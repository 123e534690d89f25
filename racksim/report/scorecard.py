"""The scorecard: the weighted KPIs of a suite across its scenarios, a score per design and a verdict.

Each weighted KPI combines a design's values over the scenarios (their mean, or the worst one) into one
value, and scores it from 0 (the worst design) to 1 (the best), linearly between; equal values all score 1.
A design's score is the weighted mean of its KPI scores, 0-100. A KPI some design has no value for in every
scenario the others have is shown but not scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from racksim.design.suite import Weight
from racksim.kpis import HIGHER, NEUTRAL, best_designs, delta, delta_text, fmt, kpi_spec, trend

DEFAULT_WEIGHTS = {"performance.work_per_kwh": Weight(weight=1.0),
                   "performance.goodput_fraction": Weight(weight=1.0, aggregate="worst"),
                   "power.input_power_w_peak": Weight(weight=1.0),
                   "thermal.gpu_temp_c_max": Weight(weight=1.0, aggregate="worst")}
"""Weights when the suite gives none."""
CLOSE_POINTS = 5.0
"""A lead of fewer score points than this is called narrow."""


class ScoredRun(Protocol):
    """What the scorecard needs of a run (racksim.report.render.Run has it)."""

    @property
    def design(self) -> str: ...  # noqa: D102

    @property
    def scenario(self) -> str: ...  # noqa: D102

    @property
    def values(self) -> Mapping[str, float]: ...  # noqa: D102


@dataclass(frozen=True)
class ScoreCell:
    """One design's combined value of a weighted KPI."""

    design: str
    value: float
    """In display units; NaN if the design has none."""
    text: str
    best: bool
    delta: str
    trend: str
    points: float | None
    """0 (worst design) to 1 (best); None if the KPI is not scored."""


@dataclass(frozen=True)
class ScoreRow:
    """One weighted KPI across the designs."""

    metric: str
    label: str
    unit: str
    weight: float
    better: int
    how: str
    """How the scenarios combine, e.g. 'mean of 7 scenarios' or 'worst of 7 scenarios'."""
    scenarios: tuple[str, ...]
    cells: list[ScoreCell]
    note: str = ""
    """Why the KPI is not scored, if it is not."""

    @property
    def scored(self) -> bool:
        """Whether the KPI counts in the scores."""
        return not self.note


@dataclass(frozen=True)
class Scorecard:
    """The weighted KPIs, the score of each design and the verdict."""

    rows: list[ScoreRow]
    scores: dict[str, float]
    """Weighted score of each design, 0-100 (NaN if no KPI could be scored)."""
    ranking: list[str]
    verdict: str
    weights_from: str
    """Where the weights came from: 'suite <name>' or 'default'."""


def _combine(values: Sequence[float], aggregate: str, better: int) -> float:
    if aggregate == "worst":
        return min(values) if better == HIGHER else max(values)
    return math.fsum(values) / len(values)


def _row(metric: str, weight: Weight, runs: Sequence[ScoredRun], designs: Sequence[str],
         baseline: str | None) -> ScoreRow:
    kpi = kpi_spec(metric)
    unit, better = kpi.unit, weight.direction or kpi.better
    wanted = set(weight.scenarios) if weight.scenarios else {run.scenario for run in runs}
    by_scenario: dict[str, dict[str, float]] = {}
    for run in runs:
        value = run.values.get(metric, math.nan)
        if run.scenario in wanted and math.isfinite(value):
            by_scenario.setdefault(run.scenario, {})[run.design] = kpi.display(value)
    common = sorted(s for s, values in by_scenario.items() if set(designs) <= set(values))
    missing = sorted(d for d in designs if not any(d in v for v in by_scenario.values()))
    note = ""
    if not common:
        note = f"not scored: no value for {', '.join(missing) or 'every design'}" if by_scenario else "no values"
    combined = {d: _combine([by_scenario[s][d] for s in common], weight.aggregate, better) if common else math.nan
                for d in designs}
    best = best_designs(combined, better)
    finite = [v for v in combined.values() if math.isfinite(v)] or [0.0]
    top, bottom = (max(finite), min(finite)) if better == HIGHER else (min(finite), max(finite))
    cells = []
    for design in designs:
        value = combined[design]
        change = None if baseline in (None, design) or not common else delta(value, combined[baseline], unit)
        points = None if note else (1.0 if top == bottom else (value - bottom) / (top - bottom) + 0.0)
        cells.append(ScoreCell(design, value, fmt(value, unit), design in best,
                               "" if change is None else delta_text(change, unit), trend(change, better), points))
    how = f"{'worst' if weight.aggregate == 'worst' else 'mean'} of {len(common)} scenario{'s' * (len(common) != 1)}"
    return ScoreRow(metric, kpi.label, unit, weight.weight, better, how, tuple(common), cells, note)


def scorecard(runs: Sequence[ScoredRun], designs: Sequence[str], baseline: str | None,
              weights: Mapping[str, Weight] | None = None, weights_from: str = "default") -> Scorecard:
    """The scorecard of `designs` over every scenario of `runs`, with deltas against `baseline`."""
    if not weights:
        weights, weights_from = DEFAULT_WEIGHTS, "default"
    rows = [_row(metric, weight, runs, designs, baseline) for metric, weight in weights.items()]
    scored = [row for row in rows if row.scored and row.better != NEUTRAL]
    total = math.fsum(row.weight for row in scored)
    scores = {}
    for index, design in enumerate(designs):
        earned = math.fsum(row.weight * (row.cells[index].points or 0.0) for row in scored)
        scores[design] = 100.0 * earned / total if total else math.nan
    ranking = sorted(designs, key=lambda d: (-scores[d] if math.isfinite(scores[d]) else math.inf, d))
    return Scorecard(rows, scores, ranking, verdict(rows, scores, ranking), weights_from)


def _phrase(label: str) -> str:
    """A KPI label inside a sentence: 'Max GPU temperature' -> 'max GPU temperature'."""
    return label[0].lower() + label[1:] if label[1:2].islower() else label


def _cell(row: ScoreRow, design: str) -> ScoreCell:
    return next(c for c in row.cells if c.design == design)


def _value(row: ScoreRow, design: str) -> str:
    cell = _cell(row, design)
    return f"{cell.text} {row.unit}".strip()


def verdict(rows: Sequence[ScoreRow], scores: Mapping[str, float], ranking: Sequence[str]) -> str:
    """One paragraph from the numbers: who wins on the weighted score, by how much, where it wins and loses."""
    scored = [row for row in rows if row.scored and row.better != NEUTRAL]
    if len(ranking) < 2:
        return f"Only {ranking[0] if ranking else 'no design'} ran: there is nothing to compare it with."
    if not scored:
        return "No weighted KPI has a value for every design, so the designs are not scored."
    first, second = ranking[0], ranking[1]
    lead = scores[first] - scores[second]
    others = ", ".join(f"{d} ({scores[d]:.0f})" for d in ranking[1:])
    if lead == 0:
        tied = [d for d in ranking if scores[d] == scores[first]]
        opening = f"{' and '.join(tied)} tie on the weighted score at {scores[first]:.0f} of 100"
    else:
        strength = "narrowly " if lead < CLOSE_POINTS else ""
        opening = f"{first} {strength}wins on the weighted score with {scores[first]:.0f} of 100, ahead of {others}"
    sentences = [f"{opening}, over {len(scored)} weighted KPI{'s' * (len(scored) != 1)}."]
    wins = sorted((row for row in scored if _cell(row, first).best), key=lambda r: -r.weight)
    losses = sorted((row for row in scored if (_cell(row, first).points or 0.0) < 1.0), key=lambda r: -r.weight)
    if wins:
        sentences.append(f"{first} is best on {', '.join(f'{_phrase(r.label)} ({_value(r, first)})' for r in wins)}.")
    if losses:
        parts = []
        for row in losses:
            leader = next(c.design for c in row.cells if c.best or c.points == 1.0)
            parts.append(f"{_phrase(row.label)} ({_value(row, first)} against {_value(row, leader)} for {leader})")
        sentences.append(f"It loses on {'; '.join(parts)}.")
    else:
        sentences.append("It is best or tied on every weighted KPI.")
    skipped = [_phrase(row.label) for row in rows if not row.scored]
    if skipped:
        sentences.append(f"Not scored for lack of values: {', '.join(skipped)}.")
    return " ".join(sentences)

