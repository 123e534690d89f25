"""The time-series resolution end to end: `--resolution` on run and compare, the scenario field, resume, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from racksim.design.suite import SUITES_DIR
from racksim.run.timeseries import read_timeseries
from tests.test_cli import GB200, racksim

QUICK = yaml.safe_load((SUITES_DIR / "quick.yaml").read_text())


def rows(out: Path) -> int:
    return int(read_timeseries(out / "gb200-nvl72" / "training")["time_s"].size)


def suite_file(tmp_path: Path, resolution: object) -> Path:
    """The quick suite's training scenario with `timeseries_resolution_s: resolution`."""
    training = next(s for s in QUICK["scenarios"] if s["name"] == "training")
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "resolved", "scenarios": [{**training, "timeseries_resolution_s":
                                                                        resolution}]}))
    return path


@pytest.mark.slow
def test_resolution_option_bounds_the_rows_resumes_by_it_and_reports(tmp_path: Path) -> None:
    common = ("run", GB200, "--suite", "quick", "--scenario", "training", "--duration", "20m")
    events, coarse = tmp_path / "events", tmp_path / "coarse"
    assert racksim(*common, "--out", str(events)).returncode == 0
    done = racksim(*common, "--out", str(coarse), "--resolution", "60")
    assert done.returncode == 0, done.stderr
    assert rows(coarse) <= 20 + 2 < rows(events)
    run_dir = coarse / "gb200-nvl72" / "training"
    assert json.loads((run_dir / "inputs.json").read_text())["timeseries_resolution_s"] == 60.0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == json.loads((events / "gb200-nvl72" / "training" / "metrics.json").read_text())
    # Another resolution is another run (the fingerprint holds it); the same one is kept.
    assert racksim(*common, "--out", str(coarse), "--resolution", "5m").returncode == 0
    assert rows(coarse) <= 4 + 2
    written_ns = (run_dir / "metrics.json").stat().st_mtime_ns
    assert racksim(*common, "--out", str(coarse), "--resolution", "300").returncode == 0
    assert (run_dir / "metrics.json").stat().st_mtime_ns == written_ns
    report = racksim("report", str(coarse))
    assert report.returncode == 0, report.stderr
    assert "Max feed ramp" in Path(report.stdout.split()[0]).read_text()


@pytest.mark.slow
def test_scenario_field_sets_the_resolution_and_the_option_overrides_it(tmp_path: Path) -> None:
    suite = suite_file(tmp_path, 120)
    done = racksim("run", GB200, "--suite", str(suite), "--duration", "20m", "--out", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    assert rows(tmp_path / "a") <= 10 + 2
    done = racksim("compare", GB200, "--suite", str(suite), "--duration", "20m", "--resolution", "30s",
                   "--out", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    assert 10 + 2 < rows(tmp_path / "b") <= 40 + 2


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1e3", "inf", ""])
def test_bad_resolution_option_gives_one_line(tmp_path: Path, value: str) -> None:
    done = racksim("run", GB200, "--suite", "quick", "--out", str(tmp_path), "--resolution", value)
    assert done.returncode == 2
    assert done.stderr.startswith("racksim: error: --resolution")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "gb200-nvl72").exists()


@pytest.mark.parametrize("value", [0, -60, float("inf"), "a minute"])
def test_bad_scenario_resolution_gives_one_line(tmp_path: Path, value: object) -> None:
    suite = suite_file(tmp_path, value)
    done = racksim("run", GB200, "--suite", str(suite), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert str(suite) in done.stderr
    assert "scenarios.0.timeseries_resolution_s" in done.stderr
    assert done.stderr.count("\n") == 1
