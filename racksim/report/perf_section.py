"""The report's predicted performance: per design the layout, step time, MFU, memory, serving point, work and cost.

Scenarios whose runs carry the same prediction for every design (the suite's fault scenarios reuse the training
workload) share one table, named after all of them; its energy and cost columns come from the least disturbed of
them (highest mean goodput, then fewest events; a scenario named like its kind, "training", before others). A
training table has a figure of the step's breakdown, an inference table one of every design's
throughput-interactivity curve (serving_curve.json of the run, racksim.run.results).
The appendix holds the performance model's validation against published measurements (racksim.perf.published*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from racksim.kpis import fmt, kpi_spec
from racksim.report.perf_figures import serving_figure, step_breakdown_figure, step_parts
from racksim.report.plotkit import FigureRef, file_name, save_figure
from racksim.report.rundir import read_json
from racksim.report.validation_tables import CELLS, Row, Table, shipped_tables
from racksim.run.results import SERVING_CURVE_FILE

TRAINING_COLUMNS = (("performance.step_time_s", "step time"), ("performance.mfu", "MFU"), ("performance.hfu", "HFU"),
                    ("performance.tokens_per_s_per_gpu", "tokens/s per GPU"),
                    ("performance.memory_gb_per_gpu_peak", "memory per GPU"),
                    ("performance.work_per_kwh", "work per kWh"), ("performance.tokens_per_kwh", "tokens per kWh"),
                    ("cost.usd_per_mtoken", "cost per M tokens"))
"""The numeric columns of a training table: (metrics.json name, heading); the unit follows from the KPI spec."""
INFERENCE_COLUMNS = (("performance.replicas", "replicas"),
                     ("performance.tokens_per_s_per_gpu_at_slo", "tokens/s per GPU at the operating point"),
                     ("performance.capacity_tokens_per_s_per_gpu", "capacity per GPU"),
                     ("performance.ttft_s_p50", "TTFT p50"), ("performance.ttft_s_p99", "TTFT p99"),
                     ("performance.tpot_s_p50", "TPOT p50"), ("performance.tpot_s_p99", "TPOT p99"),
                     ("performance.tokens_per_kwh", "tokens per kWh"), ("cost.usd_per_mtoken", "cost per M tokens"))
"""The numeric columns of an inference table."""
MEMORY_PARTS = {"weights_gb": "weights", "gradients_gb": "gradients", "optimizer_gb": "optimizer",
                "activations_gb": "activations", "buffers_gb": "buffers"}
"""performance.memory_gb_per_gpu_by_part key → how the table names it."""
PINNED = "pinned (calibrated to a measurement)"
PREDICTED = "predicted"


class PerfRun(Protocol):
    """What the section needs of a run (racksim.report.render.Run has it)."""

    @property
    def design(self) -> str: ...  # noqa: D102

    @property
    def scenario(self) -> str: ...  # noqa: D102

    @property
    def directory(self) -> Path: ...  # noqa: D102

    @property
    def metrics(self) -> dict[str, Any]: ...  # noqa: D102

    @property
    def values(self) -> dict[str, float]: ...  # noqa: D102


@dataclass(frozen=True)
class PerfRow:
    """One design's row: its colour, whether its prediction was pinned, and the cells after the design's name."""

    design: str
    colour: str
    pinned: bool
    cells: list[str]


@dataclass(frozen=True)
class PerfTable:
    """One prediction shared by `scenarios`, its rows from `scenario`'s runs, and its figure."""

    kind: str
    """'training' or 'inference'."""
    scenario: str
    scenarios: list[str]
    headings: list[str]
    rows: list[PerfRow]
    figure: FigureRef | None


def column_headings(columns: Sequence[tuple[str, str]]) -> list[str]:
    """Each column's heading with the KPI spec's display unit in brackets."""
    return [f"{heading} ({unit})" if (unit := kpi_spec(name).unit) not in ("", "count") else heading
            for name, heading in columns]


def cell(values: Mapping[str, float], name: str) -> str:
    """A metric as the report prints it (the KPI spec's unit and format), or '—' if the run lacks it."""
    return kpi_spec(name).text(values[name]) if name in values else "—"


def memory_parts(values: Mapping[str, float]) -> str:
    """The predicted memory per GPU by part, 'weights 1.96 · gradients 3.92 · …' (GB), or '—'."""
    prefix = "performance.memory_gb_per_gpu_by_part."
    parts = [f"{label} {fmt(values[prefix + key], 'GB')}" for key, label in MEMORY_PARTS.items()
             if prefix + key in values]
    return " · ".join(parts) or "—"


def _signature(run: PerfRun, kind: str) -> tuple[object, ...]:
    """What makes two runs' predictions the same."""
    p = run.metrics.get("performance", {})
    keys = (("layout", "step_time_s", "memory_gb_per_gpu_peak", "pinned") if kind == "training"
            else ("tensor_parallel", "replicas", "tokens_per_s_per_gpu_at_slo"))
    return (run.design, *(p.get(key) for key in keys))


def _kind(run: PerfRun) -> str | None:
    values = run.values
    if "performance.step_time_s" in values:
        return "training"
    if "performance.tokens_per_s_per_gpu_at_slo" in values:
        return "inference"
    return None


def prediction_groups(runs: Sequence[PerfRun]) -> list[tuple[str, list[list[PerfRun]]]]:
    """(kind, the runs of each scenario sharing one prediction), training first, scenarios by name."""
    groups: dict[tuple[str, tuple[object, ...]], list[list[PerfRun]]] = {}
    for scenario in sorted({run.scenario for run in runs}):
        here = sorted((r for r in runs if r.scenario == scenario and _kind(r)), key=lambda r: r.design)
        kinds = {_kind(r) for r in here}
        if len(kinds) != 1:
            continue
        kind = str(kinds.pop())
        groups.setdefault((kind, tuple(_signature(r, kind) for r in here)), []).append(here)
    return sorted(((kind, members) for (kind, _), members in groups.items()), key=lambda g: g[0] != "training")


def _representative(kind: str, members: list[list[PerfRun]]) -> list[PerfRun]:
    """The least disturbed scenario's runs: highest mean goodput, fewest events (events.json), named `kind`, name."""
    def goodput(here: list[PerfRun]) -> float:
        return sum(r.values.get("performance.goodput_fraction", 0.0) for r in here) / len(here)

    def events(here: list[PerfRun]) -> int:
        return sum(len(e) if isinstance(e := read_json(r.directory / "events.json"), list) else 0 for r in here)

    return sorted(members, key=lambda here: (-goodput(here), events(here), here[0].scenario != kind,
                                             here[0].scenario))[0]


def _training_table(here: list[PerfRun], scenarios: list[str], colours: Mapping[str, str],
                    results_dir: Path) -> PerfTable:
    rows, parts, pinned = [], {}, []
    for run in here:
        performance = run.metrics.get("performance", {})
        is_pinned = bool(performance.get("pinned"))
        if is_pinned:
            pinned.append(run.design)
        parts[run.design] = step_parts(run.values)
        rows.append(PerfRow(run.design, colours[run.design], is_pinned,
                            [str(performance.get("layout", "—")), PINNED if is_pinned else PREDICTED,
                             *(cell(run.values, name) for name, _ in TRAINING_COLUMNS), memory_parts(run.values)]))
    drawn = step_breakdown_figure(parts, colours, pinned)
    scenario = here[0].scenario
    figure = None if drawn is None else save_figure(
        results_dir, f"figures/perf-step-{file_name(scenario, 'scenario')}.png",
        f"Predicted step time by part, scenario {scenario}", drawn)
    headings = ["layout", "prediction", *column_headings(TRAINING_COLUMNS), "memory per GPU by part (GB)"]
    return PerfTable("training", scenario, scenarios, headings, rows, figure)


def _inference_table(here: list[PerfRun], scenarios: list[str], colours: Mapping[str, str],
                     results_dir: Path) -> PerfTable:
    rows, curves = [], {}
    for run in here:
        curve = read_json(run.directory / SERVING_CURVE_FILE)
        if isinstance(curve, dict):
            curves[run.design] = curve
        performance = run.metrics.get("performance", {})
        is_pinned = bool(performance.get("pinned"))
        replica = f"TP {performance.get('tensor_parallel', '?')}"
        if isinstance(curve, dict) and curve.get("precision"):
            replica += f" · {curve['precision']}"
        rows.append(PerfRow(run.design, colours[run.design], is_pinned,
                            [replica, PINNED if is_pinned else PREDICTED,
                             *(cell(run.values, name) for name, _ in INFERENCE_COLUMNS)]))
    drawn = serving_figure(curves, colours)
    scenario = here[0].scenario
    figure = None if drawn is None else save_figure(
        results_dir, f"figures/perf-serving-{file_name(scenario, 'scenario')}.png",
        f"Predicted throughput against interactivity, scenario {scenario}", drawn)
    headings = ["replica", "prediction", *column_headings(INFERENCE_COLUMNS)]
    return PerfTable("inference", scenario, scenarios, headings, rows, figure)


def performance_tables(runs: Sequence[PerfRun], colours: Mapping[str, str], results_dir: Path) -> list[PerfTable]:
    """The section's tables (figures written to results_dir/figures), training first; [] without predictions."""
    tables = []
    for kind, members in prediction_groups(runs):
        here = _representative(kind, members)
        scenarios = [m[0].scenario for m in members]
        build = _training_table if kind == "training" else _inference_table
        tables.append(build(here, scenarios, colours, results_dir))
    return tables


VALIDATION_HEADINGS = ("case", "source", "quantity (unit)", "measured", "predicted", "error", "role", "settings")


@dataclass(frozen=True)
class Validation:
    """The appendix: the performance model's training and inference cases against published measurements."""

    training: list[list[str]]
    inference: list[list[str]]
    training_summary: str
    """'21 of 25 within 15 %; known settings: 8 of 8'."""
    inference_summary: str


def validation_appendix() -> Validation:
    """Every validation case as table rows, as `racksim perf validate` prints them.

    The rows and summaries are the package's copy of the tables (`validation_tables.shipped_tables`, written with
    VALIDATION.md's by `make validation-table` and checked against the code by the tests), not predicted again.
    """
    training, serving = shipped_tables()

    def rows(table: Table) -> list[list[str]]:
        return [[cells[cell] for cell in CELLS] for cells in map(Row.cells, table.rows)]

    return Validation(rows(training), rows(serving), training.summary(), serving.summary())
