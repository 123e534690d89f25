"""Runs that are killed, interrupted or diverge lose nothing finished, and repeated runs give the same numbers.

The kill tests start `racksim run` in its own session (as a terminal would: Ctrl-C reaches the whole process
group, workers included), stop it as soon as its first run is complete, and check that every complete run
still loads and that the next invocation keeps it and runs only the rest.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import racksim.run.simulate
from racksim.cli import main
from racksim.design.loader import read_yaml_mapping
from racksim.design.suite import SUITES_DIR, load_suite
from racksim.errors import SimulationError
from racksim.physics.arrays import RackArrays, build
from racksim.run.components import PARTS, read_component
from racksim.run.loading import load_design
from racksim.run.pipeline import RunRequest, run_one
from racksim.run.results import metrics_files
from racksim.run.timeseries import read_timeseries
from tests.conftest import contract_problems

ROOT = Path(__file__).resolve().parent.parent
SMALL = "tests/data/good_designs/small-cabling.yaml"
"""An 8-GPU rack: fast, and enough for the KILLED_SCENARIOS."""
COMPACT = "tests/data/good_designs/gb200-compact.yaml"
"""A 72-GPU NVL72 rack: every quick scenario runs on it (some need a 72-GPU scale-up domain)."""
QUICK_RUNS = len(load_suite("quick").scenarios)
KILLED_SCENARIOS = ["training", "pump-failure", "psu-failure", "cdu-failure"]


def racksim_args(suite: Path | str, out: Path, jobs: int, design: str = SMALL, duration: str = "20s") -> list[str]:
    """`racksim run` of one design through `suite`, every scenario cut to `duration`."""
    return [sys.executable, "-m", "racksim", "run", design, "--suite", str(suite), "--duration", duration,
            "--out", str(out), "--jobs", str(jobs)]


@pytest.fixture
def short_suite(tmp_path: Path) -> Path:
    """Four scenarios of the quick suite (a run to interrupt, and the rest to resume)."""
    data = read_yaml_mapping(SUITES_DIR / "quick.yaml")
    data["scenarios"] = [s for s in data["scenarios"] if s["name"] in KILLED_SCENARIOS]
    data.pop("weights", None)  # they may name the scenarios left out
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def complete_runs(out: Path) -> list[Path]:
    """Run directories holding metrics.json (written last: a complete run), not a hidden staging folder."""
    return sorted(path.parent for path in metrics_files(out)) if out.is_dir() else []


def stop_after_first_run(process: subprocess.Popen[str], out: Path, signal_number: int) -> tuple[str, str]:
    """Signal the process group once a first run is complete; returns (stdout, stderr)."""
    deadline = time.monotonic() + 120
    while not complete_runs(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, process.communicate()[1]
    os.killpg(process.pid, signal_number)
    return process.communicate(timeout=60)


def check_loads(run_dir: Path) -> dict[str, Any]:
    """Every file of a complete run parses; metrics meet the contract; returns the metrics."""
    for name in ("metrics.json", "inputs.json", "events.json", "cabling.json", "warnings.json"):
        json.loads((run_dir / name).read_text(encoding="utf-8"))
    assert all(read_component(run_dir, part) for part in PARTS)
    series = read_timeseries(run_dir)
    assert series
    assert all(np.isfinite(values).all() for values in series.values())
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert contract_problems(metrics) == []
    return metrics


def run_to_the_end(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a racksim command to its end."""
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
@pytest.mark.parametrize(("signal_number", "jobs"), [(signal.SIGKILL, 2), (signal.SIGINT, 2), (signal.SIGINT, 1)],
                         ids=["sigkill-jobs2", "ctrl-c-jobs2", "ctrl-c-serial"])
def test_killed_run_keeps_finished_results_and_resumes(tmp_path: Path, short_suite: Path, signal_number: int,
                                                        jobs: int) -> None:
    out = tmp_path / "out"
    # A new session, as a terminal's: Ctrl-C reaches the process group (workers and forkserver too).
    process = subprocess.Popen(racksim_args(short_suite, out, jobs), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    _, stderr = stop_after_first_run(process, out, signal_number)
    finished = complete_runs(out)
    assert 1 <= len(finished) < len(KILLED_SCENARIOS), "the run ended before it could be interrupted"
    assert process.returncode == (130 if signal_number == signal.SIGINT else -signal.SIGKILL)
    if signal_number == signal.SIGINT:
        lines = [line for line in stderr.splitlines() if line.startswith("racksim:")]
        assert lines == ["racksim: interrupted; finished runs are kept and the next run resumes"], stderr
        assert "Traceback" not in stderr, stderr
        assert "KeyboardInterrupt" not in stderr
    kept = {run_dir: (check_loads(run_dir), (run_dir / "metrics.json").stat().st_mtime_ns) for run_dir in finished}

    done = run_to_the_end(racksim_args(short_suite, out, jobs))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("(unchanged, kept)") == len(finished)
    assert len(complete_runs(out)) == len(KILLED_SCENARIOS)
    for run_dir, (metrics, mtime_ns) in kept.items():
        assert (run_dir / "metrics.json").stat().st_mtime_ns == mtime_ns
        assert check_loads(run_dir) == metrics


def _all_numbers(node: Any, path: str = "") -> dict[str, float]:
    if isinstance(node, dict):
        return {k: v for key, value in node.items() for k, v in _all_numbers(value, f"{path}.{key}").items()}
    if isinstance(node, list):
        return {k: v for i, value in enumerate(node) for k, v in _all_numbers(value, f"{path}.{i}").items()}
    return {path: node} if isinstance(node, float) else {}


@pytest.mark.slow
def test_metrics_finite_and_identical_serial_repeated_and_parallel(tmp_path: Path) -> None:
    trees = {}
    for name, jobs in (("serial", 1), ("again", 1), ("parallel", 2)):
        done = run_to_the_end(racksim_args("quick", tmp_path / name, jobs, COMPACT, "5s"))
        assert done.returncode == 0, done.stderr
        trees[name] = {run_dir.relative_to(tmp_path / name): (run_dir / "metrics.json").read_bytes()
                       for run_dir in complete_runs(tmp_path / name)}
    assert len(trees["serial"]) == QUICK_RUNS
    assert trees["again"] == trees["serial"]
    assert trees["parallel"] == trees["serial"]
    for relative, raw in trees["serial"].items():
        metrics = json.loads(raw)
        assert contract_problems(metrics) == [], relative
        bad = [name for name, value in _all_numbers(metrics).items() if not math.isfinite(value)]
        assert bad == [], relative


# --------------------------------------------------------------------------- divergence


def _diverging(arrays: RackArrays) -> RackArrays:
    """Arrays whose second GPU has a NaN thermal resistance (no valid design gets here: the schema refuses it)."""
    arrays.chips.resistance_k_per_w[1] = math.nan
    return arrays


def test_divergence_names_component_and_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(racksim.run.simulate, "build", lambda design, **options: _diverging(build(design, **options)))
    request = RunRequest(ROOT / SMALL, load_suite("quick").scenario("training"), duration_s=20.0)
    with pytest.raises(SimulationError) as caught:
        run_one(request, tmp_path)
    label = build(load_design(ROOT / SMALL).design).chips.label[1]
    assert str(caught.value).startswith(f"{label}: temperature is not finite at t = 0.000 s"), str(caught.value)
    assert complete_runs(tmp_path) == []


def test_divergence_through_the_cli_is_one_line_and_writes_no_metrics(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(racksim.run.simulate, "build", lambda design, **options: _diverging(build(design, **options)))
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["run", SMALL, "--scenario", "training", "--suite", "quick", "--duration", "20s",
                     "--out", str(tmp_path), "--jobs", "1"])
    assert code == SimulationError.exit_code == 3
    lines = [line for line in stderr.getvalue().splitlines() if line.startswith("racksim:")]
    assert len(lines) == 1, stderr.getvalue()
    assert lines[0].startswith("racksim: error: ")
    assert "temperature is not finite at t = " in lines[0]
    assert "Traceback" not in stderr.getvalue()
    assert complete_runs(tmp_path) == []
