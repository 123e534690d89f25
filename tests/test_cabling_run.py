"""Cabling through a whole run: its power in the energy balance, metrics.json, cabling.json and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from racksim.report import write_report
from tests.cli import racksim
from tests.conftest import contract_problems

ROOT = Path(__file__).resolve().parent.parent
GB200 = str(ROOT / "designs" / "gb200-nvl72.yaml")
DURATION_S = 60.0
CABLING_METRICS = ("cable_count", "cable_length_m", "active_cable_count", "optical_link_count", "power_w", "cost_usd",
                   "mass_kg", "failure_rate_fit")


def run(out: Path, *overrides: str) -> dict[str, Any]:
    """`racksim run` GB200 through the quick training scenario into `out`; its metrics."""
    sets = [arg for override in overrides for arg in ("--set", override)]
    done = racksim("run", GB200, "--suite", "quick", "--scenario", "training", "--duration", f"{DURATION_S:g}s",
                   "--out", str(out), *sets)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "gb200-nvl72" / "training" / "metrics.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """(results directory, metrics, metrics of the same run with the optics drawing nothing)."""
    root = tmp_path_factory.mktemp("cabling")
    metrics = run(root / "with")
    dark = run(root / "dark", "cabling.media.optics.end_energy_pj_per_bit=0")
    return root / "with", metrics, dark


def test_cabling_metrics_are_reported(runs: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    _, metrics, _ = runs
    cabling = metrics["cabling"]
    for name in CABLING_METRICS:
        assert isinstance(cabling[name], int | float)
    assert cabling["cable_count"] == 5184 + 72 + 4  # NVLink pairs, scale-out links, management-switch cords
    assert cabling["optical_link_count"] == 72
    assert cabling["power_w"] == pytest.approx(72 * 8.75)


def test_cabling_power_appears_in_the_energy_balance(runs: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    _, metrics, dark = runs
    assert contract_problems(metrics) == []
    assert contract_problems(dark) == []
    assert dark["cabling"]["power_w"] == 0.0
    # The optics draw a constant P from the busbar: IT energy grows by P · t, plus the fans' extra energy for
    # carrying the optics' heat out in the air; the feed pays for it and the extra conversion losses.
    grown_j = metrics["power"]["it_energy_j"] - dark["power"]["it_energy_j"]
    fans_j = metrics["thermal"]["fan_energy_j"] - dark["thermal"]["fan_energy_j"]
    assert grown_j - fans_j == pytest.approx(metrics["cabling"]["power_w"] * DURATION_S, rel=1e-9)
    assert metrics["power"]["input_energy_j"] - dark["power"]["input_energy_j"] > grown_j
    assert metrics["thermal"]["heat_to_air_j"] - dark["thermal"]["heat_to_air_j"] > grown_j - fans_j


def test_cabling_json_and_report(runs: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    results, metrics, _ = runs
    summary = json.loads((results / "gb200-nvl72" / "training" / "cabling.json").read_text())
    assert summary["totals"] == metrics["cabling"]
    assert [row["medium"] for row in summary["bom"]] == ["passive_copper", "optics", "power_cord"]
    assert sum(sum(counts) for counts in summary["histogram"]["cables"].values()) == metrics["cabling"]["cable_count"]
    assert sum(route["links"] for route in summary["routes"]) == 1296 + 72 + 4
    html_path, md_path = write_report(results)
    markdown, html = md_path.read_text(), html_path.read_text()
    assert "## Cabling" in markdown
    assert "| passive_copper | passive_copper | 1,296 | 5,184 |" in markdown
    assert "scale_out: 72 links on optics" in markdown
    assert "](figures/cabling-gb200-nvl72.png)" in markdown
    assert '<section id="cabling">' in html
    figure = results / "figures" / "cabling-gb200-nvl72.png"
    first = (html_path.read_bytes(), md_path.read_bytes(), figure.read_bytes())
    write_report(results)
    assert (html_path.read_bytes(), md_path.read_bytes(), figure.read_bytes()) == first
