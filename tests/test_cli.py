"""The command line end to end: run, compare, report, show, schema, and what bad input does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from racksim.run.timeseries import read_timeseries
from tests.cli import racksim, racksim_subprocess
from tests.conftest import Compared, contract_problems

ROOT = Path(__file__).resolve().parent.parent
GB200 = str(ROOT / "designs" / "gb200-nvl72.yaml")
GB300 = str(ROOT / "designs" / "gb300-nvl72.yaml")


def test_run_writes_a_complete_result_directory(tmp_path: Path) -> None:
    done = racksim("run", GB200, "--suite", "quick", "--scenario", "training", "--out", str(tmp_path),
                   "--duration", "90s", "--seed", "7")
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "gb200-nvl72" / "training"
    assert done.stdout.strip() == str(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert contract_problems(metrics) == []
    assert metrics["duration_s"] == 90.0
    assert metrics["seed"] == 7
    assert yaml.safe_load((run_dir / "design.resolved.yaml").read_text())["name"] == "gb200-nvl72"
    series = read_timeseries(run_dir)
    assert series["time_s"][0] == 0.0
    assert series["feed_power_w"].max() == pytest.approx(metrics["power"]["input_power_w_peak"])


@pytest.mark.slow
def test_reruns_are_identical(tmp_path: Path) -> None:
    for out in ("a", "b"):  # two scenarios: they run in the process pool, as a suite does
        assert racksim("run", GB200, "--suite", "quick", "--scenario", "training", "--scenario", "checkpoint-swing",
                       "--out", str(tmp_path / out), "--duration", "60s").returncode == 0
    for scenario in ("training", "checkpoint-swing"):
        first = (tmp_path / "a" / "gb200-nvl72" / scenario / "metrics.json").read_text()
        assert first == (tmp_path / "b" / "gb200-nvl72" / scenario / "metrics.json").read_text()


@pytest.mark.slow
def test_set_override_reaches_the_run(tmp_path: Path) -> None:
    done = racksim("run", GB200, "--suite", "quick", "--scenario", "training", "--out", str(tmp_path),
                   "--duration", "60s", "--set", "compute_tray.gpus.tdp_w=1000")
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load((tmp_path / "gb200-nvl72" / "training" / "design.resolved.yaml").read_text())
    assert resolved["compute_tray"]["gpus"]["tdp_w"] == 1000


@pytest.mark.slow
def test_compare_writes_the_report(quick_compare: Compared, tmp_path: Path) -> None:
    done = quick_compare.done  # compare GB200 GB300 --suite quick --duration 120s, shared by the session
    assert done.returncode == 0, done.stderr
    html, markdown = (Path(line) for line in done.stdout.split())
    assert html.is_file()
    assert markdown.is_file()
    text = html.read_text()
    assert "gb200-nvl72" in text
    assert "gb300-nvl72" in text
    summary = json.loads((quick_compare.out / "summary.json").read_text())
    assert summary["scorecard"]["ranking"][0] in text
    assert "racksim compare" in text
    results = shutil.copytree(quick_compare.out, tmp_path / "results")  # report rewrites the report: on a copy
    again = racksim("report", str(results))
    assert again.returncode == 0, again.stderr
    assert (results / html.relative_to(quick_compare.out)).read_text() == text  # command line, weights: suite.json


def test_show_json_has_derived_figures() -> None:
    done = racksim("show", GB200, "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["derived"]["gpu_count"] == 72
    assert shown["derived"]["psu_installed_capacity_w"] == 264000
    assert shown["design"]["power"]["shelves"]["redundancy"] == "N+N"


def test_show_text_and_validate() -> None:
    shown = racksim("show", GB300)
    assert shown.returncode == 0
    assert "nameplate_feed_power_w" in shown.stdout
    valid = racksim("validate", GB200, GB300)
    assert valid.returncode == 0
    assert valid.stdout.count("ok: ") == 2


def test_schema_is_json_schema_with_descriptions() -> None:
    done = racksim("schema")
    schema = json.loads(done.stdout)
    assert schema["title"] == "Design"
    assert "tdp_w" in json.dumps(schema)
    assert "description" in json.dumps(schema)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", GB200, "--out", "x"], "give a suite or a scenario"),
        (["run", GB200, "--suite", "nosuch", "--out", "x"], "no such suite"),
        (["run", GB200, "--suite", "quick", "--scenario", "nosuch", "--out", "x"], "no scenario named"),
        (["run", GB200, "--suite", "quick", "--duration", "ten", "--out", "x"], "expected a positive duration"),
        (["validate", GB200, "--set", "power.feed.limit_w=-1"], "power.feed.limit_w"),
    ],
)
def test_bad_invocations_give_one_line(args: list[str], fragment: str) -> None:
    done = racksim(*args)
    assert done.returncode == 2
    assert fragment in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_the_real_command_gives_help_and_the_same_one_line_error() -> None:
    """Smoke test in a new interpreter (`python -m racksim`, the console script's entry point), which the rest of
    this module runs in-process through the same racksim.cli.main: the same output and exit codes."""
    helped = racksim_subprocess("--help")
    assert helped.returncode == 0, helped.stderr
    assert "Usage: racksim" in helped.stdout
    assert "compare" in helped.stdout
    args = ("validate", GB200, "--set", "power.feed.limit_w=-1")
    failed = racksim_subprocess(*args)
    assert failed.returncode == 2
    assert failed.stderr.startswith("racksim: error: ")
    assert failed.stderr.count("\n") == 1
    in_process = racksim(*args)
    assert (failed.returncode, failed.stdout, failed.stderr) == (in_process.returncode, in_process.stdout,
                                                                 in_process.stderr)


@pytest.mark.slow
def test_bad_design_leaves_previous_results_intact(tmp_path: Path) -> None:
    assert racksim("run", GB200, "--suite", "quick", "--scenario", "training", "--out", str(tmp_path),
                   "--duration", "30s").returncode == 0
    metrics = tmp_path / "gb200-nvl72" / "training" / "metrics.json"
    before = metrics.read_bytes()
    failed = racksim("run", GB200, "--suite", "quick", "--out", str(tmp_path), "--set", "rack.height_u=10")
    assert failed.returncode == 2
    assert metrics.read_bytes() == before
