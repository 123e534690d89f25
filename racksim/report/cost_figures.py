"""The report's cost of ownership: TCO by component per design, the sensitivity tornado, and every price's source.

All of it comes from the `cost` group of each design's reference run (its coolant-sensitivity scenario, which
`compare` and `run --sensitivity` also simulate at ± the coolant step; else its first scenario with a cost group).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from racksim.cost.sensitivity import LABELS as SENSITIVITY_LABELS
from racksim.kpis import Kpi, fmt, kpi_spec
from racksim.report.plotkit import FigureRef, colour_ticks, legend_beside, png, report_style, save_figure, stacked_bars

_M_USD = 1e6
_COMPONENT_COLOURS = ("#4e79a7", "#a0cbe8", "#f28e2b", "#ffbe7d", "#59a14f", "#8cd17d", "#b6992d", "#f1ce63",
                      "#499894", "#86bcb6", "#e15759", "#ff9d9a", "#79706e", "#bab0ac", "#d37295", "#fabfd2")
SUMMARY_KPIS = tuple(kpi_spec(f"cost.{key}") for key in ("capex_usd", "opex_usd_per_year", "period_years", "tco_usd",
                                                          "usd_per_work_unit", "work_per_usd"))
"""The cost group's KPIs in the summary table, one column each (headed by the spec's short heading)."""
SUMMARY_HEADINGS = ("design", "scenario priced", *(kpi.heading for kpi in SUMMARY_KPIS))
PRICE_HEADINGS = ("input", "count", "value", "unit", "provenance", "note")


class CostRun(Protocol):
    """What the cost part needs of a run (racksim.report.render.Run has it)."""

    @property
    def design(self) -> str: ...  # noqa: D102

    @property
    def scenario(self) -> str: ...  # noqa: D102

    @property
    def metrics(self) -> dict[str, Any]: ...  # noqa: D102


def reference_runs(runs: Sequence[CostRun]) -> dict[str, CostRun]:
    """Per design, the run whose cost group carries the coolant sensitivity, else its first run with a cost group."""
    chosen: dict[str, CostRun] = {}
    for run in sorted(runs, key=lambda r: (r.design, "coolant_temp" not in _cost(r).get("sensitivity", {}),
                                           r.scenario)):
        if _cost(run) and run.design not in chosen:
            chosen[run.design] = run
    return chosen


def _cost(run: CostRun) -> dict[str, Any]:
    group = run.metrics.get("cost")
    return group if isinstance(group, dict) else {}


def tco_by_component(cost: Mapping[str, Any]) -> dict[str, float]:
    """TCO split into capex lines and opex lines × period, USD."""
    years = float(cost["period_years"])
    return ({f"capex: {k}": float(v) for k, v in cost["capex_usd_by_component"].items()}
            | {f"opex: {k}": years * float(v) for k, v in cost["opex_usd_per_year_by_component"].items()})


def tco_figure(tco_usd: Mapping[str, Mapping[str, float]], colours: Mapping[str, str]) -> bytes | None:
    """Stacked bar per design: TCO over the depreciation period by component, million USD."""
    if not tco_usd:
        return None
    designs = list(tco_usd)
    totals = {c: sum(parts.get(c, 0.0) for parts in tco_usd.values()) for p in tco_usd.values() for c in p}
    components = sorted(totals, key=lambda c: -totals[c])
    with report_style():
        figure = Figure(figsize=(max(6.0, 1.3 * len(designs) + 4.0), 4.4))
        axes = figure.subplots()
        bottom = stacked_bars(axes, ((component, np.array([tco_usd[d].get(component, 0.0) for d in designs]) / _M_USD,
                                      _COMPONENT_COLOURS[index % len(_COMPONENT_COLOURS)])
                                     for index, component in enumerate(components)), len(designs), linewidth=0.4)
        for position, total in enumerate(bottom):
            axes.annotate(f"{total:.2f} M", (position, total), textcoords="offset points", xytext=(0, 3),
                          ha="center", fontsize=8)
        axes.set_ylim(0.0, 1.12 * max(float(bottom.max()), 1e-12))
        colour_ticks(axes, designs, colours)
        axes.set_ylabel("TCO over the depreciation period (million USD)")
        axes.set_title("Total cost of ownership by component")
        legend_beside(axes, fontsize=7)
        figure.tight_layout()
        return png(figure)


def tornado_figure(sensitivity: Mapping[str, Mapping[str, Mapping[str, Any]]], base_usd: Mapping[str, float],
                   colours: Mapping[str, str]) -> bytes | None:
    """Change of the cost per unit of work (%) when each input moves down (hatched) and up (solid), per design.

    Inputs are sorted by their largest swing over the designs, largest on top.
    """
    designs = [d for d in sensitivity if base_usd.get(d, 0) > 0 and math.isfinite(base_usd[d])]
    inputs = [name for name in SENSITIVITY_LABELS if any(name in sensitivity[d] for d in designs)]
    if not inputs:
        return None

    def change_pct(design: str, name: str, side: str) -> float:
        swing = sensitivity[design].get(name)
        return 100.0 * (float(swing[f"{side}_usd_per_work_unit"]) / base_usd[design] - 1.0) if swing else 0.0

    reach = {n: max(abs(change_pct(d, n, s)) for d in designs for s in ("low", "high")) for n in inputs}
    inputs.sort(key=lambda n: reach[n])
    height = 0.8 / len(designs)
    with report_style():
        figure = Figure(figsize=(8.5, 1.0 + 0.5 * len(inputs) * max(1, len(designs)) ** 0.5))
        axes = figure.subplots()
        for row, name in enumerate(inputs):
            for index, design in enumerate(designs):
                y = row - 0.4 + (index + 0.5) * height
                for side, hatch in (("low", "///"), ("high", None)):
                    axes.barh(y, change_pct(design, name, side), height=height * 0.9, color=colours[design],
                              hatch=hatch, edgecolor="0.25", linewidth=0.4, alpha=0.55 if hatch else 1.0)
        for row, name in enumerate(inputs):
            if reach[name] == 0:
                axes.annotate("no change", (0.0, row), xytext=(4, 0), textcoords="offset points", va="center",
                              fontsize=8, color="0.3")
        labels = []
        for name in inputs:
            swing = next((sensitivity[d][name] for d in designs if name in sensitivity[d]), {})
            labels.append(f"{SENSITIVITY_LABELS[name]}\n({swing.get('low_change', '')} / "
                          f"{swing.get('high_change', '')})")
        axes.set_yticks(range(len(inputs)), labels)
        axes.axvline(0.0, color="0.2", linewidth=0.8)
        axes.set_xlabel("change of the cost per unit of work (%)")
        axes.set_title("Sensitivity of the cost per unit of work")
        handles = [Patch(facecolor=colours[d], edgecolor="0.25", label=d) for d in designs]
        handles += [Patch(facecolor="0.7", edgecolor="0.25", hatch="///", label="input down"),
                    Patch(facecolor="0.4", edgecolor="0.25", label="input up")]
        legend_beside(axes, handles)
        figure.tight_layout()
        return png(figure)


def price_rows(cost: Mapping[str, Any]) -> list[list[str]]:
    """The cost inputs of one design as text: input, count, value, unit, source or 'assumption', note."""
    rows = []
    for item in cost.get("inputs", []):
        provenance = "assumption" if item.get("assumption") else str(item.get("source") or "")
        count = item.get("count")
        rows.append([str(item["input"]), "" if count is None else f"{count:,}", fmt(float(item["value"]), ""),
                     str(item.get("unit", "")), provenance, str(item.get("note", ""))])
    return rows


@dataclass(frozen=True)
class CostReport:
    """The report's cost section: summary rows, figures, and each design's price table."""

    summary: list[list[str]]
    figures: list[FigureRef]
    prices: list[tuple[str, list[list[str]]]]


def cost_report(runs: Sequence[CostRun], designs: Sequence[str], colours: Mapping[str, str],
                results_dir: Path) -> CostReport | None:
    """The cost section of the designs with a cost group (figures written to results_dir/figures), or None."""
    chosen = reference_runs(runs)
    priced = [d for d in designs if d in chosen]
    if not priced:
        return None
    groups = {d: _cost(chosen[d]) for d in priced}
    def cell(group: Mapping[str, Any], kpi: Kpi) -> str:
        value = group.get(kpi.name.removeprefix("cost."))
        return kpi.text(float(value)) if isinstance(value, int | float) else "—"

    summary = [[d, chosen[d].scenario, *(cell(g, kpi) for kpi in SUMMARY_KPIS)] for d, g in groups.items()]
    complete = {d: g for d, g in groups.items()
                if all(k in g for k in ("period_years", "capex_usd_by_component", "opex_usd_per_year_by_component"))}
    per_unit = {d: float(g["usd_per_work_unit"]) for d, g in groups.items() if "usd_per_work_unit" in g}
    made = [("cost-tco", "TCO by component", tco_figure({d: tco_by_component(g) for d, g in complete.items()},
                                                         colours)),
            ("cost-sensitivity", "Sensitivity of the cost per unit of work (tornado)",
             tornado_figure({d: g.get("sensitivity", {}) for d, g in groups.items() if d in per_unit}, per_unit,
                            colours))]
    refs = [save_figure(results_dir, f"figures/{key}.png", title, drawn) for key, title, drawn in made
            if drawn is not None]
    return CostReport(summary, refs, [(d, price_rows(g)) for d, g in groups.items()])
