"""The evaluation report on synthetic result trees: files, best marks, deltas, determinism, errors."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import racksim.report.render as render
from racksim.errors import InputError
from racksim.kpis import best_designs, delta, delta_text, fmt, kpi_rows
from racksim.report import load_runs, plotkit, write_report
from racksim.run.timeseries import TIMESERIES_FILE, write_timeseries

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_run(root: Path, design: str, scenario: str, *, peak_kw: float, energy_kwh: float,
             gpu_temp_max_c: float, work_units: float, rows: int = 200, description: str = "",
             extra: dict[str, Any] | None = None, with_series: bool = True) -> Path:
    """Write one synthetic run directory as the engine would, with a consistent energy balance."""
    run_dir = root / design / scenario
    run_dir.mkdir(parents=True)
    duration_s = 600.0
    input_j = energy_kwh * 3.6e6
    losses = {"psu": 0.03 * input_j, "busbar": 0.01 * input_j, "ibc_50v_to_12v": 0.02 * input_j}
    it_j = input_j - sum(losses.values())
    metrics: dict[str, Any] = {
        "design": design, "scenario": scenario, "seed": 42, "duration_s": duration_s,
        "racksim_version": "0.1.0", "design_hash": hashlib.sha256(design.encode()).hexdigest(),
        "power": {
            "input_energy_j": input_j, "it_energy_j": it_j, "loss_energy_j": sum(losses.values()),
            "loss_energy_j_by_stage": losses, "storage_net_energy_j": 0.0,
            "input_power_w_mean": input_j / duration_s, "input_power_w_peak": peak_kw * 1e3,
            "input_power_w_p99": 0.98 * peak_kw * 1e3, "chain_efficiency": it_j / input_j,
            "max_ramp_w_per_s": 0.4 * peak_kw * 1e3, "capped_fraction": 0.0, "trips": 0,
        },
        "thermal": {
            "gpu_temp_c_max": gpu_temp_max_c, "gpu_temp_c_p99": gpu_temp_max_c - 1.0,
            "gpu_throttle_fraction": 0.0125, "coolant_return_temp_c_max": 45.0,
            "heat_to_liquid_j": 0.85 * input_j, "heat_to_air_j": 0.15 * input_j,
            "cooling_energy_j": 0.02 * input_j,
        },
        "performance": {"work_units": work_units, "goodput_fraction": 0.97,
                        "work_per_kwh": work_units / energy_kwh},
        "engine": {"event_count": rows},
        **(extra or {}),
    }
    if with_series:
        time_s = np.linspace(0.0, duration_s, rows, endpoint=False)
        feed_w = np.where(np.arange(rows) % 10 < 7, peak_kw * 1e3, 0.5 * peak_kw * 1e3)
        temp_max = gpu_temp_max_c - 20.0 * np.exp(-time_s / 120.0)
        columns = {
            "time_s": time_s, "feed_power_w": feed_w, "it_power_w": 0.94 * feed_w,
            "loss_power_w": 0.06 * feed_w,
            "gpu_power_w": 0.8 * feed_w, "gpu_temp_c_max": temp_max, "gpu_temp_c_mean": temp_max - 5.0,
            "coolant_return_temp_c": 35.0 + 0.1 * temp_max, "throttled_gpu_fraction": np.zeros(rows),
            "work_units": np.linspace(0.0, work_units, rows),
        }
        write_timeseries(run_dir / TIMESERIES_FILE, columns, {"design": design, "scenario": scenario})
    resolved = {"name": design, "description": description}
    (run_dir / "design.resolved.yaml").write_text(yaml.safe_dump(resolved))
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    return run_dir


def make_results(root: Path) -> Path:
    """alpha and beta through 'steady' and 'pump-fault'; beta has the lower peak and energy in 'steady'."""
    make_run(root, "alpha", "steady", peak_kw=120.0, energy_kwh=10.0, gpu_temp_max_c=78.0, work_units=1000.0,
             description="Busbar rack <rev A> & friends")
    make_run(root, "beta", "steady", peak_kw=100.0, energy_kwh=7.5, gpu_temp_max_c=81.0, work_units=900.0,
             description="800 V DC rack",
             extra={"cabling": {"cost_usd": 12000.0}, "cost": {"capex_usd": 3e6}})
    make_run(root, "alpha", "pump-fault", peak_kw=118.0, energy_kwh=9.0, gpu_temp_max_c=92.0,
             work_units=800.0)
    make_run(root, "beta", "pump-fault", peak_kw=101.0, energy_kwh=7.0, gpu_temp_max_c=88.0,
             work_units=850.0)
    return root


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A fresh synthetic results tree."""
    return make_results(tmp_path / "results")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(results dir, HTML, Markdown) of one report with the default baseline, shared by read-only tests."""
    root = make_results(tmp_path_factory.mktemp("report") / "results")
    html_path, md_path = write_report(root, command_line="racksim compare a.yaml b.yaml --out results")
    assert (html_path, md_path) == (root / "report.html", root / "report.md")
    return root, html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")


def table_row(html: str, section: str, metric: str) -> str:
    """The <tr> of `metric` inside the section of scenario `section`."""
    body = html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
    match = re.search(rf'<tr data-metric="{re.escape(metric)}">(.*?)</tr>', body)
    assert match, f"no row {metric} in {section}"
    return match.group(1)


def cell(row: str, design: str) -> tuple[str, str]:
    """(class attribute, content) of a design's cell in a row."""
    match = re.search(rf'<td class="([^"]*)" data-design="{design}">(.*?)</td>', row)
    assert match, f"no cell for {design}"
    return match.group(1), match.group(2)


def md_row(markdown: str, scenario: str, label: str) -> list[str]:
    """Cells of the Markdown table row labelled `label` in a scenario section."""
    body = markdown.split(f"## Scenario: {scenario}\n", 1)[1].split("\n## ", 1)[0]
    line = next(ln for ln in body.splitlines() if ln.startswith(f"| {label} |"))
    return [part.strip() for part in line.strip("|").split(" | ")]


@pytest.mark.slow
def test_report_files_designs_and_embedded_figures(report: tuple[Path, str, str]) -> None:
    results, html, markdown = report
    for design in ("alpha", "beta"):
        assert design in html
        assert design in markdown
    assert html.count('<img src="data:image/png;base64,') == 12  # 6 figures × 2 scenarios
    for key in ("feed-power", "gpu-temperature", "energy", "heat", "cooling"):
        png = results / "figures" / f"steady-{key}.png"
        assert png.read_bytes().startswith(PNG_MAGIC)
        assert f"](figures/steady-{key}.png)" in markdown
    assert "racksim compare a.yaml b.yaml --out results" in html
    assert "racksim 0.1.0" in markdown
    assert "&lt;rev A&gt; &amp; friends" in html
    assert "<rev A>" not in html


@pytest.mark.slow
def test_best_value_is_marked_in_html_and_markdown(report: tuple[Path, str, str]) -> None:
    _, html, markdown = report
    peak = table_row(html, "steady", "power.input_power_w_peak")
    assert "best" in cell(peak, "beta")[0].split()
    assert "best" not in cell(peak, "alpha")[0].split()
    work = table_row(html, "steady", "performance.work_units")  # higher is better: alpha
    assert "best" in cell(work, "alpha")[0].split()
    temp = table_row(html, "pump-fault", "thermal.gpu_temp_c_max")  # lower is better: beta in the fault
    assert "best" in cell(temp, "beta")[0].split()
    assert "best" not in cell(table_row(html, "steady", "power.trips"), "alpha")[0]  # all equal: no mark
    # Markdown: columns are KPI, unit, alpha (baseline), beta.
    assert md_row(markdown, "steady", "Peak feed power") == [
        "Peak feed power", "kW", "120.0", "**100.0**<br>-16.7 %"]


@pytest.mark.slow
def test_delta_against_baseline_by_hand(report: tuple[Path, str, str], results: Path) -> None:
    html = report[1]
    # Feed energy: beta 7.5 kWh against alpha 10 kWh -> (7.5 - 10) / 10 = -25.0 %, an improvement.
    assert cell(table_row(html, "steady", "power.input_energy_j"), "beta") == (
        "value best", '7.50<span class="delta better">-25.0 %</span>')
    assert cell(table_row(html, "steady", "power.input_energy_j"), "alpha")[1] == "10.00"
    # Max GPU temperature: beta 81 °C against 78 °C -> +3.0 K, worse.
    assert cell(table_row(html, "steady", "thermal.gpu_temp_c_max"), "beta")[1] == (
        '81.00<span class="delta worse">+3.0 K</span>')
    # With beta as baseline, alpha's peak is (120 - 100) / 100 = +20.0 %.
    html = write_report(results, baseline="beta")[0].read_text(encoding="utf-8")
    assert cell(table_row(html, "steady", "power.input_power_w_peak"), "alpha")[1] == (
        '120.0<span class="delta worse">+20.0 %</span>')


@pytest.mark.slow
def test_verdict_and_optional_groups(report: tuple[Path, str, str]) -> None:
    _, html, markdown = report
    assert "beta has the lowest peak feed power: 100.0 kW (next: alpha, 120.0 kW)." in markdown
    assert "alpha does the most work per kWh: 100.0 work units/kWh" not in markdown  # beta: 120 per kWh
    assert ("beta does the most work per kWh: 120.0 work units/kWh (next: alpha, 100.0 work units/kWh)."
            in markdown)
    assert "alpha has the most thermal headroom" in markdown
    assert md_row(markdown, "steady", "Cable cost")[2:] == ["—", "12,000"]
    assert 'data-metric="cost.capex_usd"' in html
    assert 'data-metric="power.loss_energy_j_by_stage.ibc_50v_to_12v"' in html
    assert "event_count" not in html


@pytest.mark.slow
def test_writing_twice_gives_identical_bytes(results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twice, and with the scenarios' figures drawn in one process or in two: the same bytes."""
    monkeypatch.setattr(render, "POOL_MIN_SCENARIOS", 2)  # a pool even for these few scenarios

    def written(jobs: int) -> dict[Path, bytes]:
        reports = write_report(results, command_line="racksim report results", jobs=jobs)
        return {p: p.read_bytes() for p in (*reports, *sorted((results / "figures").glob("*.png")))}

    first = written(1)
    assert len(first) == 2 + 12
    assert written(2) == first


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_no_runs_is_an_input_error(tmp_path: Path, make: str) -> None:
    target = tmp_path / "nothing"
    if make == "empty":
        (target / "some" / "folder").mkdir(parents=True)
    with pytest.raises(InputError, match="no runs found"):
        write_report(target)


def test_unknown_baseline_is_an_input_error(results: Path) -> None:
    with pytest.raises(InputError, match="gamma"):
        write_report(results, baseline="gamma")


@pytest.mark.slow
def test_run_without_time_series_and_long_series(tmp_path: Path) -> None:
    root = tmp_path / "results"
    common: dict[str, Any] = {"energy_kwh": 5.0, "gpu_temp_max_c": 70.0, "work_units": 10.0}
    make_run(root, "a", "s", peak_kw=100.0, with_series=False, **common)
    make_run(root, "b", "s", peak_kw=90.0, rows=6000, **common)
    html = write_report(root)[0].read_text(encoding="utf-8")
    assert html.count('<img src="data:image/png;base64,') == 6  # with the cooling figure (coolant return)
    assert [run.design for run in load_runs(root)] == ["a", "b"]


def test_a_run_staged_in_a_hidden_folder_is_not_a_run(tmp_path: Path) -> None:
    """A sweep killed between writing a staged run and renaming it into place leaves a hidden folder behind."""
    root = tmp_path / "results"
    run_dir = make_run(root, "a", "s", peak_kw=100.0, energy_kwh=5.0, gpu_temp_max_c=70.0, work_units=10.0,
                       with_series=False)
    shutil.copytree(run_dir, run_dir.parent / ".s.partial-0123")
    assert [run.directory for run in load_runs(root)] == [run_dir]


def test_kpi_helpers_by_hand() -> None:
    assert fmt(1234.5, "kWh") == "1,234"
    assert fmt(0.0, "%") == "0.00"
    assert fmt(-0.0, "kW") == "0.00"
    assert fmt(float("nan"), "kW") == "—"
    assert delta(1.5, 1.25, "%") == pytest.approx(0.25)  # fractions: percentage points
    assert delta_text(0.25, "%") == "+0.25 pp"
    assert delta(5.0, 0.0, "kWh") is None
    assert best_designs({"a": 1.0, "b": 1.0}, -1) == set()
    assert best_designs({"a": 1.0, "b": 2.0, "c": 1.0}, -1) == {"a", "c"}
    rows = kpi_rows({"a": {"power.chain_efficiency": 0.9}, "b": {"power.chain_efficiency": 0.95}}, "a")
    assert [(c.text, c.best, c.delta, c.trend) for c in rows[0].cells] == [
        ("90.00", False, "", ""), ("95.00", True, "+5.0 pp", "better")]


def test_design_colours_are_distinct_and_fixed() -> None:
    colours = plotkit.design_colours(["a", "b", "c"])
    assert list(colours) == ["a", "b", "c"]
    assert len(set(colours.values())) == 3
    assert colours == plotkit.design_colours(["a", "b", "c"])


def test_when_the_steepest_ramp_happens_is_not_a_kpi() -> None:
    runs = {"a": {"power.max_ramp_w_per_s": 9.0, "power.max_ramp_time_s": 30.0},
            "b": {"power.max_ramp_w_per_s": 7.0, "power.max_ramp_time_s": 40.0}}
    assert [row.metric for row in kpi_rows(runs, "a")] == ["power.max_ramp_w_per_s"]
