"""Report sections on a synthetic results tree: scorecard by hand, design diff, assumptions, summary.json,
and every section naming every design in HTML and Markdown."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from racksim.design.provenance import design_notes
from racksim.design.suite import Weight, load_suite
from racksim.report import write_report
from racksim.report.scorecard import scorecard
from tests.conftest import ROOT
from tests.test_report import make_results, table_row

WEIGHTS = [{"kpi": "thermal.gpu_temp_c_max", "weight": 1.0, "aggregate": "worst"},
           {"kpi": "performance.work_units", "weight": 3.0},
           {"kpi": "power.input_power_w_peak", "weight": 1.0}]
RESOLVED = {"alpha": {"rack": {"height_u": 48}, "compute_tray": {"gpus": {"tdp_w": 1200}}},
            "beta": {"rack": {"height_u": 48}, "compute_tray": {"gpus": {"tdp_w": 1400}}, "power": {"kind": "dc"}}}
NOTES = {"compute_tray.gpus.tdp_w": {"tags": "P", "note": "P: datasheet", "file": "x.yaml"},
         "rack.height_u": {"tags": "A", "note": "A: a guess", "file": "x.yaml"}}


def annotate(root: Path) -> Path:
    """Add what the runner writes beside the runs: resolved designs, provenance, suite.json."""
    for run_dir in sorted(p.parent for p in root.rglob("metrics.json")):
        design = run_dir.parent.name
        metrics = json.loads((run_dir / "metrics.json").read_text())
        metrics.pop("cost", None)  # the cost section needs a whole cost group; not what these tests are about
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
        (run_dir / "design.resolved.yaml").write_text(yaml.safe_dump({"name": design, **RESOLVED[design]}))
        (run_dir / "provenance.json").write_text(json.dumps(NOTES))
    (root / "suite.json").write_text(json.dumps({"suite": "mini", "weights": WEIGHTS,
                                                 "command_line": "racksim compare a.yaml b.yaml --out r"}))
    return root


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, dict[str, Any]]:
    """(results, HTML, Markdown, summary.json) of the annotated synthetic tree."""
    root = annotate(make_results(tmp_path_factory.mktemp("sections") / "results"))
    html, md = write_report(root)
    summary = json.loads((root / "summary.json").read_text())
    return root, html.read_text(encoding="utf-8"), md.read_text(encoding="utf-8"), summary


@pytest.mark.slow
def test_scorecard_by_hand(written: tuple[Path, str, str, dict[str, Any]]) -> None:
    # work_units mean: alpha (1000 + 800) / 2 = 900 (best), beta 875 -> points 1, 0; weight 3.
    # peak mean: alpha 119 kW, beta 100.5 kW (best); max GPU temperature worst: alpha 92, beta 88 (best).
    # alpha: 100 × 3 / 5 = 60; beta: 100 × (1 + 1) / 5 = 40.
    _, html, markdown, summary = written
    card = summary["scorecard"]
    assert card["scores"] == {"alpha": pytest.approx(60.0), "beta": pytest.approx(40.0)}
    assert card["ranking"] == ["alpha", "beta"]
    assert card["weights_from"] == "suite mini"
    assert [k["metric"] for k in card["kpis"]] == [w["kpi"] for w in WEIGHTS]  # the suite's order
    work = next(k for k in card["kpis"] if k["metric"] == "performance.work_units")
    assert work["values"] == {"alpha": 900.0, "beta": 875.0}
    assert work["points"] == {"alpha": 1.0, "beta": 0.0}
    assert work["combined"] == "mean of 2 scenarios"
    verdict = card["verdict"]
    assert verdict.startswith(
        "alpha wins on the weighted score with 60 of 100, ahead of beta (40), over 3 weighted KPIs.")
    assert "alpha is best on work done (900.0 work units). It loses" in verdict
    assert "It loses on max GPU temperature (92.00 °C against 88.00 °C for beta); peak feed power (119.0 kW" in verdict
    assert verdict in html
    row = table_row(html, "scorecard", "performance.work_units")
    assert 'class="value best" data-design="alpha">900.0' in row
    assert '875.0<span class="delta worse">-2.8 %</span><span class="delta">0.00 pt</span>' in row
    assert "| **Weighted score (0–100)** | | | | **60.0** | 40.0 |" in markdown


def test_scorecard_edge_cases() -> None:
    class R:
        def __init__(self, design: str, scenario: str, values: dict[str, float]) -> None:
            self.design, self.scenario, self.values = design, scenario, values

    runs = [R("a", "s", {"performance.work_units": 5.0}), R("b", "s", {"performance.work_units": 5.0, "x.y": 1.0})]
    weights = {"performance.work_units": Weight(weight=1.0), "x.y": Weight(weight=1.0, better="higher")}
    card = scorecard(runs, ["a", "b"], "a", weights, "suite t")
    assert card.scores == {"a": 100.0, "b": 100.0}  # equal values all score 1; x.y is not scored (a lacks it)
    assert card.rows[1].note == "not scored: no value for a"
    assert card.verdict.startswith("a and b tie on the weighted score at 100 of 100")
    assert "Not scored for lack of values: x.y." in card.verdict
    assert scorecard(runs[:1], ["a"], "a").verdict == "Only a ran: there is nothing to compare it with."


@pytest.mark.slow
def test_design_diff_and_assumptions(written: tuple[Path, str, str, dict[str, Any]]) -> None:
    _, html, markdown, summary = written
    assert summary["design_diff"] == {"identical_fields": 1, "fields": {
        "compute_tray.gpus.tdp_w": {"alpha": "1200", "beta": "1400"}, "power.kind": {"alpha": "—", "beta": "dc"}}}
    assert ('<td class="value changed" data-design="beta">1400</td>' in html)
    assert "| `compute_tray.gpus.tdp_w` | 1200 | 1400 |" in markdown
    assert summary["provenance"]["beta"]["assumptions"] == {"rack.height_u": "A: a guess"}
    assert summary["provenance"]["alpha"]["counts"] == {"P": 1, "S": 0, "D": 0, "A": 1}
    assert "| `rack.height_u` | 48 | A | A: a guess | x.yaml |" in markdown


@pytest.mark.slow
def test_every_section_names_every_design(written: tuple[Path, str, str, dict[str, Any]]) -> None:
    _, html, markdown, summary = written
    sections = ["scorecard", "steady", "pump-fault", "design-diff", "assumptions"]
    for section in sections:
        body = html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
        for design in ("alpha", "beta"):
            assert f'data-design="{design}"' in body, (section, design)
    footer = html.split('<footer id="reproducibility">', 1)[1]
    assert "<td>alpha</td>" in footer
    assert "<td>beta</td>" in footer
    assert "racksim compare a.yaml b.yaml --out r" in footer  # the command line recorded in suite.json
    headings = re.findall(r"(?m)^## (.+)$", markdown)
    assert headings[:4] == ["Designs", "Scorecard", "Scenario: pump-fault", "Scenario: steady"]
    assert headings[-4:] == ["Design diff", "Assumptions and sources", "Appendix: performance model validation",
                             "Reproducibility"]
    assert re.findall(r"(?m)^### (alpha|beta)$", markdown.split("## Assumptions and sources")[1]) == ["alpha", "beta"]
    assert set(summary["designs"]) == {"alpha", "beta"}
    assert summary["scenarios"]["steady"]["kpis"]["power.input_power_w_peak"]["values"] == {
        "alpha": 120000.0, "beta": 100000.0}
    assert summary["scenarios"]["steady"]["kpis"]["power.input_power_w_peak"]["best"] == ["beta"]


@pytest.mark.slow
def test_summary_is_byte_reproducible(written: tuple[Path, str, str, dict[str, Any]]) -> None:
    root = written[0]
    before = (root / "summary.json").read_bytes()
    write_report(root)
    assert (root / "summary.json").read_bytes() == before
    assert str(root) not in before.decode()


def test_provenance_of_a_bundled_design_follows_extends_and_overrides() -> None:
    notes = design_notes(ROOT / "designs" / "gb300-nvl72.yaml", ["compute_tray.gpus.idle_w=150"])
    assert notes["compute_tray.gpus.tdp_w"].file == "gb300-nvl72.yaml"  # the child's note replaces the parent's
    assert "1,400 W" in notes["compute_tray.gpus.tdp_w"].note
    assert notes["rack.height_u"].file == "gb200-nvl72.yaml"  # inherited
    assert notes["compute_tray.gpus.idle_w"].file == "override"
    assert "A" in notes["compute_tray.other_power_w"].tags
    assert "P" in notes["compute_tray.other_power_w"].tags  # the continuation line below the field
    assert notes["rack.slots"].tags == "A"  # the comment block above the field


@pytest.mark.slow
def test_another_suites_weights_rescore_the_same_runs(tmp_path: Path) -> None:
    root = annotate(make_results(tmp_path / "results"))
    write_report(root, suite=load_suite("quick"))
    card = json.loads((root / "summary.json").read_text())["scorecard"]
    assert card["weights_from"] == "suite quick"
    assert [k["metric"] for k in card["kpis"]] == list(load_suite("quick").weights)


def test_the_verdict_follows_the_winner_not_the_column_order() -> None:
    class R:
        def __init__(self, design: str, values: dict[str, float]) -> None:
            self.design, self.scenario, self.values = design, "s", values

    runs = [R("base", {"performance.work_units": 1.0, "power.input_power_w_peak": 1e5}),
            R("cand", {"performance.work_units": 3.0, "power.input_power_w_peak": 2e5})]
    weights = {"performance.work_units": Weight(weight=2.0), "power.input_power_w_peak": Weight(weight=1.0)}
    card = scorecard(runs, ["base", "cand"], "base", weights, "suite t")
    assert card.ranking == ["cand", "base"]
    assert card.verdict == ("cand wins on the weighted score with 67 of 100, ahead of base (33), over 2 weighted "
                            "KPIs. cand is best on work done (3.00 work units). It loses on peak feed power "
                            "(200.0 kW against 100.0 kW for base).")
