"""The evaluation report: read every run of a results tree, compare designs per scenario, write HTML + MD.

Output is a function of the inputs only (no clock, no absolute paths), so rewriting gives the same bytes.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from racksim._types import FloatArray
from racksim.design.loader import validate
from racksim.design.suite import Suite, Weight
from racksim.errors import InputError
from racksim.io import atomic_write_json, atomic_write_text
from racksim.kpis import DELTA_NOTE, STAGES, Row, kpi_rows, verdict
from racksim.report import cabling_figures, cost_figures, network_figures
from racksim.report.designs import design_sections
from racksim.report.events import DesignEvents, event_logs
from racksim.report.hall_jobs import HALL_HEADINGS, hall_table
from racksim.report.perf_section import VALIDATION_HEADINGS, performance_tables, validation_appendix
from racksim.report.plotkit import FigureRef, design_colours, file_name, save_figure
from racksim.report.registry import scenario_figures as draw_scenario_figures
from racksim.report.rundir import read_json, read_yaml
from racksim.report.scorecard import scorecard
from racksim.report.summary import design_summary, scenario_summary, scorecard_summary
from racksim.run.results import metrics_files
from racksim.run.timeseries import read_timeseries

SKIPPED_GROUPS = frozenset({"engine", "replicas"})
"""Top-level groups of metrics.json that are diagnostics, not KPIs."""


@dataclass(frozen=True)
class Run:
    """One design × scenario result directory."""

    design: str
    scenario: str
    directory: Path
    metrics: dict[str, Any]
    values: dict[str, float]
    """Numeric KPIs by dotted name, in SI units as stored."""
    description: str

    @property
    def duration_s(self) -> float:
        """Simulated time, s (NaN if metrics.json does not say)."""
        value = self.metrics.get("duration_s")
        return float(value) if isinstance(value, int | float) else math.nan

    def series(self) -> dict[str, FloatArray]:
        """Columns of timeseries.parquet (racksim.run.timeseries), or none if the run has no time series."""
        return read_timeseries(self.directory)


def flatten(metrics: dict[str, Any]) -> dict[str, float]:
    """Numeric leaves of the KPI groups by dotted name; total losses added from the stages if absent."""
    values: dict[str, float] = {}
    for group, node in metrics.items():
        if not isinstance(node, dict) or group in SKIPPED_GROUPS:
            continue
        for key, value in node.items():
            leaves = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, leaf in leaves:
                if isinstance(leaf, int | float) and not isinstance(leaf, bool):
                    values[f"{group}.{key}" if sub is None else f"{group}.{key}.{sub}"] = float(leaf)
    stages = [v for k, v in values.items() if k.startswith(STAGES + ".")]
    if stages and "power.loss_energy_j" not in values:
        values["power.loss_energy_j"] = math.fsum(stages)
    return values


def load_runs(results_dir: Path) -> list[Run]:
    """Every run below `results_dir` (any folder holding a metrics.json), sorted by scenario then design.

    Hidden folders are skipped: a sweep stages a run in one before renaming it into place.
    """
    results_dir = Path(results_dir)
    paths = metrics_files(results_dir) if results_dir.is_dir() else []
    if not paths:
        raise InputError(str(results_dir), "", "no runs found (no metrics.json below it)")
    runs: dict[tuple[str, str], Run] = {}
    for path in paths:
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(str(path), "", f"unreadable metrics.json: {error}") from error
        for name in ("design", "scenario"):
            if not isinstance(metrics, dict) or not isinstance(metrics.get(name), str):
                raise InputError(str(path), name, "must be present and a string")
        key = (metrics["scenario"], metrics["design"])
        if key in runs:
            raise InputError(str(path), "", f"second run of design {key[1]!r} in scenario {key[0]!r} "
                             f"(first in {runs[key].directory})")
        design_file = path.parent / "design.resolved.yaml"
        try:
            resolved = read_yaml(design_file) if design_file.exists() else {}
        except (OSError, yaml.YAMLError) as error:
            raise InputError(str(design_file), "", f"unreadable design: {error}") from error
        description = str(resolved.get("description") or "") if isinstance(resolved, dict) else ""
        runs[key] = Run(key[1], key[0], path.parent, metrics, flatten(metrics), " ".join(description.split()))
    return [runs[key] for key in sorted(runs)]


def _description(runs: list[Run], design: str) -> str:
    """The first non-empty description of a design among its runs."""
    return next((run.description for run in runs if run.design == design and run.description), "")


def _md(text: object) -> str:
    """Text safe inside a Markdown table cell or paragraph."""
    out = str(text).replace("\\", "\\\\")
    for char in "|*[]`":
        out = out.replace(char, "\\" + char)
    return " ".join(out.replace("<", "&lt;").replace(">", "&gt;").split())


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("racksim.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    environment.filters["md"] = _md
    return environment


@dataclass(frozen=True)
class Section:
    """Everything the report shows about one scenario."""

    name: str
    anchor: str
    designs: list[str]
    baseline: str | None
    rows: list[Row]
    verdict: list[str]
    figures: list[FigureRef]
    events: tuple[DesignEvents, ...] = ()
    """The event list of each design with an events.json."""
    hall: tuple[list[str], ...] = ()
    """The hall table's rows (racksim.report.hall_jobs.hall_table), one per design that ran a job mix."""


@dataclass(frozen=True)
class CablingSection:
    """One design's cabling as the report shows it: BOM table, notes and the side-view figure."""

    design: str
    rows: list[list[str]]
    notes: list[str]
    figure: FigureRef


def _cabling_sections(runs: list[Run], designs: list[str], results_dir: Path) -> list[CablingSection]:
    """The cabling of each design, from the cabling.json of its first run that has one (sorted by scenario)."""
    sections = []
    for design in designs:
        summary = next((s for s in (cabling_figures.read_cabling(r.directory) for r in runs if r.design == design)
                        if s is not None), None)
        if summary is None:
            continue
        figure = save_figure(results_dir, f"figures/cabling-{file_name(design, 'design')}.png", f"Cabling of {design}",
                             cabling_figures.cabling_figure(summary))
        sections.append(CablingSection(design, cabling_figures.bom_rows(summary), cabling_figures.bom_notes(summary),
                                       figure))
    return sections


def recorded_suite(results_dir: Path) -> tuple[str | None, dict[str, Weight], str | None]:
    """(suite name, scorecard weights, command line) the runs of a results directory came from (suite.json)."""
    path = Path(results_dir) / "suite.json"
    data = read_json(path)
    if not isinstance(data, dict):
        return None, {}, None
    weights = data.get("weights")  # a list, to keep the suite's order (JSON objects are written key-sorted)
    entries = [dict(w) for w in weights if isinstance(w, dict)] if isinstance(weights, list) else []
    parsed = {str(w.pop("kpi", "")): validate(Weight, w, f"{path}: weights.{index}")
              for index, w in enumerate(entries)}
    name, command_line = data.get("suite"), data.get("command_line")
    return (name if isinstance(name, str) else None, parsed,
            command_line if isinstance(command_line, str) else None)


def _network_figure(runs: list[Run], designs: list[str], colours: dict[str, str],
                    results_dir: Path) -> FigureRef | None:
    """All-reduce time and busbw against size per design, from each design's first run with a readable design."""
    found = {}
    for design in designs:
        model = next((m for m in (network_figures.read_design(r.directory) for r in runs if r.design == design)
                      if m is not None), None)
        if model is not None:
            found[design] = model
    if not found:
        return None
    return save_figure(results_dir, "figures/network-all-reduce.png",
                       "All-reduce time and bus bandwidth against message size",
                       network_figures.collectives_figure(found, colours))


POOL_MIN_SCENARIOS = 4
"""Scenarios below which the figures are drawn in this process: a worker's start (forkserver, matplotlib and
racksim imports) costs about what drawing one or two scenarios does (2 scenarios of 2 designs: 8.5 s wall in
two workers, 9.4 s here, with more CPU in the workers; 7 scenarios: 14.9 s against 21.5 s)."""


def _all_scenario_figures(by_scenario: list[list[Run]], colours: dict[str, str],
                          jobs: int) -> list[list[tuple[str, str, bytes]]]:
    """Every scenario's figures, drawn in `jobs` processes when there are enough (the PNGs do not depend on it)."""
    if jobs <= 1 or len(by_scenario) < POOL_MIN_SCENARIOS:
        return [draw_scenario_figures(runs, colours) for runs in by_scenario]
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(min(jobs, len(by_scenario)), mp_context=context) as pool:
        return list(pool.map(draw_scenario_figures, by_scenario, [colours] * len(by_scenario)))


def write_report(results_dir: Path, baseline: str | None = None, command_line: str | None = None,
                 suite: Suite | None = None, jobs: int | None = None) -> tuple[Path, Path]:
    """Write results_dir/report.html, report.md, summary.json and figures/*.png comparing every run below it.

    Deltas are taken against `baseline` (default: the first design alphabetically). The scorecard's weights
    come from `suite`, else from the suite recorded in results_dir/suite.json, else the defaults;
    `command_line` (default: the recorded one) is shown in the reproducibility footer. The scenarios'
    figures are drawn in `jobs` processes (default: one per CPU core) from POOL_MIN_SCENARIOS scenarios on.
    Returns (html_path, md_path).
    """
    results_dir = Path(results_dir)
    runs = load_runs(results_dir)
    suite_name, weights, recorded_command = recorded_suite(results_dir)
    if suite is not None:
        suite_name, weights = suite.name, dict(suite.weights)
    command_line = command_line or recorded_command
    designs = sorted({run.design for run in runs})
    if baseline is None:
        baseline = designs[0]
    elif baseline not in designs:
        raise InputError(str(results_dir), "baseline",
                         f"no runs of design {baseline!r}; found: {', '.join(designs)}")
    colours = design_colours(designs)
    ordered = sorted(designs, key=lambda d: (d != baseline, d))
    card = scorecard(runs, ordered, baseline, weights, f"suite {suite_name}" if weights else "default")
    diff, identical, provenance = design_sections(runs, ordered, colours)
    scenario_summaries = {}
    sections: list[Section] = []
    scenarios = sorted({run.scenario for run in runs})
    by_scenario = [sorted((r for r in runs if r.scenario == scenario), key=lambda r: (r.design != baseline, r.design))
                   for scenario in scenarios]
    drawn = _all_scenario_figures(by_scenario, colours, jobs or os.cpu_count() or 1)
    for scenario, here, scenario_figures in zip(scenarios, by_scenario, drawn, strict=True):
        values = {r.design: r.values for r in here}
        base = baseline if baseline in values else None
        rows = kpi_rows(values, base)
        anchor = file_name(scenario, "scenario")
        if anchor in {s.anchor for s in sections}:
            anchor += f"-{len(sections)}"
        refs = [save_figure(results_dir, f"figures/{anchor}-{key}.png", title, png)
                for key, title, png in scenario_figures]
        designs_here = [r.design for r in here]
        sentences = verdict(values, rows)
        scenario_summaries[scenario] = scenario_summary(values, rows, sentences)
        sections.append(Section(scenario, anchor, designs_here, base, rows, sentences, refs,
                                events=event_logs(here, colours),
                                hall=tuple(hall_table({r.design: r.metrics for r in here}))))
    run_rows = [(r.design, r.scenario, r.metrics.get("seed", ""), str(r.metrics.get("design_hash", ""))[:12],
                 r.metrics.get("racksim_version", ""), r.directory.relative_to(results_dir).as_posix())
                for r in sorted(runs, key=lambda r: (r.design, r.scenario))]
    context: dict[str, Any] = {
        "designs": [(d, colours[d], _description(runs, d))
                    for d in designs],
        "baseline": baseline,
        "sections": sections,
        "versions": sorted({str(r.metrics.get("racksim_version", "unknown")) for r in runs}),
        "runs": run_rows,
        "command_line": command_line,
        "cabling": _cabling_sections(runs, designs, results_dir),
        "network_figure": _network_figure(runs, designs, colours, results_dir),
        "cabling_headings": cabling_figures.headings(),
        "hall_headings": HALL_HEADINGS,
        "performance": performance_tables(runs, colours, results_dir),
        "validation": validation_appendix(),
        "validation_headings": VALIDATION_HEADINGS,
        "cost": cost_figures.cost_report(runs, designs, colours, results_dir),
        "cost_headings": (cost_figures.SUMMARY_HEADINGS, cost_figures.PRICE_HEADINGS),
        "scorecard": card,
        "delta_note": DELTA_NOTE,
        "ordered": ordered,
        "diff": diff,
        "identical_fields": identical,
        "provenance": provenance,
    }
    summary = {
        "racksim_versions": context["versions"], "baseline": baseline, "command_line": command_line,
        "designs": {d: {"colour": colours[d], "description": _description(runs, d),
                        "design_hashes": sorted({str(r.metrics.get("design_hash", "")) for r in runs if r.design == d})}
                    for d in designs},
        "scorecard": scorecard_summary(card), "scenarios": scenario_summaries,
        **design_summary(ordered, diff, identical, provenance),
        "runs": [dict(zip(("design", "scenario", "seed", "design_hash", "racksim_version", "directory"), run,
                          strict=True)) for run in run_rows],
    }
    atomic_write_json(results_dir / "summary.json", summary)
    environment = _environment()
    html_path, md_path = results_dir / "report.html", results_dir / "report.md"
    atomic_write_text(md_path, environment.get_template("report.md.j2").render(context))
    atomic_write_text(html_path, environment.get_template("report.html.j2").render(context))
    return html_path, md_path
