"""The report's predicted performance section, its figures, and the appendix of the performance model's validation."""

from __future__ import annotations

import html as html_lib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure

from racksim.kpis import kpi_spec
from racksim.perf.published_inference import ALL_SERVING_CASES, BLACKWELL_SERVING_CASES
from racksim.perf.validation import ALL_TRAINING_CASES
from racksim.report import perf_figures, perf_section
from racksim.report.plotkit import design_colours
from racksim.report.render import flatten, load_runs
from racksim.run.results import SERVING_CURVE_FILE
from tests.conftest import Compared
from tests.test_report import PNG_MAGIC

DESIGNS = ("gb200-nvl72", "gb300-nvl72")


@dataclass(frozen=True)
class FakeRun:
    """A run as the section reads it, without a run directory's other files."""

    design: str
    scenario: str
    directory: Path
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, float]:
        """The flattened metrics."""
        return flatten(self.metrics)


def training_metrics(step_s: float, pinned: bool) -> dict[str, Any]:
    """A training run's performance and cost groups."""
    return {"performance": {
        "step_time_s": step_s, "mfu": 0.4, "hfu": 0.5, "tokens_per_s_per_gpu": 5000.0, "pinned": pinned,
        "memory_gb_per_gpu_peak": 100.0, "layout": "tp 2 · pp 1 · dp 36 · mb 1 · recompute none · ZeRO 1",
        "memory_gb_per_gpu_by_part": {"weights_gb": 10.0, "gradients_gb": 20.0, "optimizer_gb": 30.0,
                                      "activations_gb": 35.0, "buffers_gb": 5.0},
        "step_breakdown_s": {"compute_s": 0.7 * step_s, "tp_comm_s": 0.2 * step_s, "optimizer_s": 0.1 * step_s},
        "goodput_fraction": 1.0, "work_per_kwh": 8.0, "tokens_per_kwh": 1e7},
        "cost": {"usd_per_mtoken": 0.12, "usd_per_work_unit": 0.14}}


class Captured:
    """Figures drawn while patched in place of plotkit's `png`."""

    def __init__(self) -> None:
        self.figures: list[Figure] = []

    def __call__(self, figure: Figure) -> bytes:
        self.figures.append(figure)
        return PNG_MAGIC


def test_pinned_runs_are_marked_and_cells_follow_the_kpi_spec(tmp_path: Path) -> None:
    runs = [FakeRun("alpha", "training", tmp_path, training_metrics(2.0, pinned=False)),
            FakeRun("beta", "training", tmp_path, training_metrics(3.0, pinned=True))]
    [table] = perf_section.performance_tables(runs, design_colours(["alpha", "beta"]), tmp_path)
    assert table.kind == "training"
    assert [row.design for row in table.rows] == ["alpha", "beta"]
    assert [row.pinned for row in table.rows] == [False, True]
    assert table.rows[0].cells[1] == perf_section.PREDICTED
    assert table.rows[1].cells[1] == perf_section.PINNED
    assert table.rows[1].cells[2] == kpi_spec("performance.step_time_s").text(3.0) == "3.00"
    assert table.rows[1].cells[-1] == "weights 10.00 · gradients 20.00 · optimizer 30.00 · activations 35.00 · " \
                                      "buffers 5.00"
    assert table.figure is not None
    assert (tmp_path / table.figure.file).read_bytes().startswith(PNG_MAGIC)


def test_step_breakdown_figure_has_units_and_design_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    captured = Captured()
    monkeypatch.setattr(perf_figures, "png", captured)
    colours = design_colours(list(DESIGNS))
    parts = {d: {"compute_s": 2.0, "tp_comm_s": 0.3, "bubble_s": 0.1} for d in DESIGNS}
    assert perf_figures.step_breakdown_figure(parts, colours, pinned=[DESIGNS[1]]) == PNG_MAGIC
    [axes] = captured.figures[0].axes
    assert axes.get_ylabel() == "time per training step (s)"
    assert [t.get_color() for t in axes.get_xticklabels()] == [colours[d] for d in DESIGNS]
    assert any("(pinned)" in text.get_text() for text in axes.texts)


def test_serving_figure_one_colour_per_design_slo_and_operating_points(monkeypatch: pytest.MonkeyPatch) -> None:
    captured = Captured()
    monkeypatch.setattr(perf_figures, "png", captured)
    colours = design_colours(list(DESIGNS))

    def point(c: int) -> dict[str, float]:
        return {"concurrency": c, "tokens_per_s_per_gpu": 100.0 * c, "tokens_per_s_per_user": 80.0 / c,
                "ttft_s": 0.1, "tpot_s": c / 80.0}

    curves = {d: {"max_tpot_s": 0.05, "tensor_parallel": 2, "points": [point(c) for c in (1, 2, 4)],
                  "operating_point": point(2)} for d in DESIGNS}
    assert perf_figures.serving_figure(curves, colours) == PNG_MAGIC
    [axes] = captured.figures[0].axes
    assert axes.get_xlabel().endswith("(tokens/s)")
    assert axes.get_ylabel().endswith("(tokens/s)")
    curve_colours = [line.get_color() for line in axes.lines if len(line.get_xdata()) == 3]
    assert curve_colours == [colours[d] for d in DESIGNS]
    stars = [line for line in axes.lines if line.get_marker() == "*"]
    assert [s.get_color() for s in stars] == [colours[d] for d in DESIGNS]
    assert [list(line.get_xdata()) for line in axes.lines if line.get_linestyle() == "--"] == [[20.0, 20.0]]


def test_the_appendix_lists_every_validation_case() -> None:
    appendix = perf_section.validation_appendix()
    assert [row[0] for row in appendix.training] == [case.name for case in ALL_TRAINING_CASES]
    inference = ALL_SERVING_CASES + BLACKWELL_SERVING_CASES
    assert [row[0] for row in appendix.inference] == [case.name for case in inference]
    assert {row[6] for row in appendix.training + appendix.inference} <= {"calibrated", "checked"}
    assert all(len(row) == len(perf_section.VALIDATION_HEADINGS) for row in appendix.training + appendix.inference)


def perf_table(html: str, scenario: str) -> str:
    """The body of the predicted-performance table of `scenario`."""
    match = re.search(rf'<table class="perf" data-kind="\w+" data-scenario="{re.escape(scenario)}">(.*?)</table>',
                      html, re.S)
    assert match, f"no predicted-performance table for {scenario}"
    return match.group(1)


def row_cells(table: str, design: str) -> list[str]:
    """The text of a design's cells after its name."""
    row = re.search(rf'<tr data-design="{re.escape(design)}"[^>]*>(.*?)</tr>', table, re.S)
    assert row, f"no row for {design}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells[1:]]


@pytest.mark.slow
def test_compare_report_has_the_predicted_performance(quick_compare: Compared) -> None:
    out, done = quick_compare.out, quick_compare.done  # compare GB200 GB300 --suite quick --duration 120s
    assert done.returncode == 0, done.stderr[-3000:]
    html = (out / "report.html").read_text(encoding="utf-8")
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert '<section id="performance">' in html
    assert "## Predicted performance\n" in markdown
    for scenario, figure in (("training", "perf-step-training.png"),
                             ("inference-diurnal", "perf-serving-inference-diurnal.png")):
        table = perf_table(html, scenario)
        assert (out / "figures" / figure).read_bytes().startswith(PNG_MAGIC)
        assert f"](figures/{figure})" in markdown
        columns = perf_section.TRAINING_COLUMNS if scenario == "training" else perf_section.INFERENCE_COLUMNS
        for design in DESIGNS:
            metrics = json.loads((out / design / scenario / "metrics.json").read_text())
            values = flatten(metrics)
            cells = row_cells(table, design)
            assert cells[1] == (perf_section.PINNED if metrics["performance"]["pinned"] else perf_section.PREDICTED)
            assert cells[2:2 + len(columns)] == [kpi_spec(name).text(values[name]) if name in values else "—"
                                                 for name, _ in columns]
            if scenario == "training":
                assert cells[0] == metrics["performance"]["layout"]
                assert values["cost.usd_per_mtoken"] == pytest.approx(
                    metrics["cost"]["usd_per_work_unit"] / metrics["performance"]["tokens_per_work_unit"] * 1e6)
                assert "activations" in cells[-1]
            else:
                curve = json.loads((out / design / scenario / SERVING_CURVE_FILE).read_text())
                assert curve["operating_point"]["tokens_per_s_per_gpu"] == pytest.approx(
                    metrics["performance"]["tokens_per_s_per_gpu_at_slo"])
    assert '<section id="validation">' in html
    for case in (*ALL_TRAINING_CASES, *ALL_SERVING_CASES, *BLACKWELL_SERVING_CASES):
        assert f"<td>{html_lib.escape(case.name)}</td>" in html


@pytest.mark.slow
def test_the_section_is_byte_reproducible(quick_compare: Compared, tmp_path: Path) -> None:
    runs = load_runs(quick_compare.out)
    colours = design_colours(list(DESIGNS))
    first = perf_section.performance_tables(runs, colours, tmp_path / "a")
    second = perf_section.performance_tables(runs, colours, tmp_path / "b")
    assert first == second
    assert len(first) >= 2
    for table in first:
        assert table.figure is not None
        assert (tmp_path / "a" / table.figure.file).read_bytes() == (tmp_path / "b" / table.figure.file).read_bytes()
