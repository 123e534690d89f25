"""Cost end to end: bundled prices carry their provenance, runs carry the cost group, the report shows it all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from racksim.cost import provenance_rows, unit_counts
from racksim.design.suite import load_suite
from racksim.report import write_report
from racksim.run.loading import load_design
from racksim.run.pipeline import RunRequest, run_many, run_one

ROOT = Path(__file__).resolve().parent.parent
GB200 = ROOT / "designs" / "gb200-nvl72.yaml"


@pytest.mark.parametrize("name", ["gb200-nvl72", "gb300-nvl72", "vr-800vdc"])
def test_every_bundled_price_has_a_source_or_an_assumption_flag(name: str) -> None:
    design = load_design(ROOT / "designs" / f"{name}.yaml").design
    assert design.cost is not None
    rows = provenance_rows(design.cost, unit_counts(design))
    for row in rows:
        assert bool(row["source"].strip()) != row["assumption"], row
    assert any(row["assumption"] for row in rows)
    assert any(row["source"] for row in rows)
    assert {"prices.gpu", "prices.compute_tray", "energy.price_usd_per_kwh",
            "lost_work.price_usd_per_gpu_hour"} <= {row["input"] for row in rows}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GB200 training at a 50 °C facility supply with the coolant sensitivity (its GPUs throttle a little at 50 °C,
    not at 45 °C and more at 55 °C), and a run without a cost section."""
    out = tmp_path_factory.mktemp("cost-results")
    training = load_suite("quick").scenario("training")
    run_many([RunRequest(GB200, training, overrides=("cooling.facility_supply_temp_c=50",), sensitivity=True)], out,
             jobs=1)
    bare = load_design(GB200, ["name=gb200-no-cost", "cost=null"])
    run_one(RunRequest(GB200, training, duration_s=60.0, overrides=("name=gb200-no-cost", "cost=null")), out,
            loaded=bare)
    write_report(out)
    return out


def metrics_of(results: Path, design: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((results / design / "training" / "metrics.json").read_text())
    return loaded


@pytest.mark.slow
def test_run_carries_the_cost_group_with_a_simulated_coolant_sensitivity(results: Path) -> None:
    cost = metrics_of(results, "gb200-nvl72")["cost"]
    assert cost["tco_usd"] == pytest.approx(cost["capex_usd"] + cost["period_years"] * cost["opex_usd_per_year"])
    assert cost["capex_usd"] == pytest.approx(sum(cost["capex_usd_by_component"].values()))
    coolant = cost["sensitivity"]["coolant_temp"]
    # The colder and the warmer run are simulated and priced on their own: warmer water throttles more, which may
    # lose a step (dearer) or, when the last step still completes inside the 300 s, only save energy (cheaper; work
    # is counted in whole steps). Which of the two depends on the step time, so only "simulated, not reused" holds.
    assert coolant["low_usd_per_work_unit"] != cost["usd_per_work_unit"] != coolant["high_usd_per_work_unit"]
    assert {coolant["low_change"], coolant["high_change"]} == {"\u22125 K", "+5 K"}
    for name in ("energy_price", "gpu_price", "failure_rates"):
        swing = cost["sensitivity"][name]
        assert swing["low_usd_per_work_unit"] < cost["usd_per_work_unit"] < swing["high_usd_per_work_unit"]


@pytest.mark.slow
def test_a_design_without_a_cost_section_has_no_cost_group(results: Path) -> None:
    assert "cost" not in metrics_of(results, "gb200-no-cost")


@pytest.mark.slow
def test_report_shows_costs_figures_and_every_price_with_its_flag(results: Path) -> None:
    markdown = (results / "report.md").read_text(encoding="utf-8")
    html = (results / "report.html").read_text(encoding="utf-8")
    assert "## Cost of ownership" in markdown
    assert 'id="cost"' in html
    assert "Cost per unit of work (TCO / nominal work)" in markdown
    assert (results / "figures" / "cost-tco.png").stat().st_size > 0
    assert (results / "figures" / "cost-sensitivity.png").stat().st_size > 0
    table = markdown.split("### Prices and rates of gb200-nvl72", 1)[1].split("\n## ", 1)[0]
    cost = metrics_of(results, "gb200-nvl72")["cost"]
    for item in cost["inputs"]:
        line = next(line for line in table.splitlines() if line.startswith(f"| {item['input']} |"))
        assert ("| assumption |" in line) == item["assumption"], line
        if not item["assumption"]:
            assert item["source"][:20] in line
    assert "gb200-no-cost" not in markdown.split("## Cost of ownership", 1)[1].split("\n## ", 1)[0]
