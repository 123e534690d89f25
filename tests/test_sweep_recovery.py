"""Sweeps that survive (issue 21, item 3), on the session's dask LocalCluster (2 worker processes, tests/conftest.py):
a worker killed on purpose mid-run (its run retried elsewhere, by the scheduler or by the sweep after a
KilledWorker), a run whose task raises, and a sweep process killed outright, then resumed; every run directory
is written exactly once and nothing half-written is left or taken as done."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from distributed import Client, KilledWorker

import racksim.results
from racksim.design.suite import load_suite
from racksim.errors import InputError
from racksim.run.results import partial_dirs
from racksim.sweep import SweepResult, grid, parse_params, plan, run_sweep
from racksim.sweep import execute as sweep_execute
from tests.conftest import ROOT
from tests.sweep_faults import failing_run_output

SMALL = ROOT / "tests" / "data" / "good_designs" / "small-cabling.yaml"
DURATION_S = 20.0
TDP = "compute_tray.gpus.tdp_w"


def sweep_runs(out: Path, tdps: str = "1000,1200", temps: str | None = None) -> list[sweep_execute.SweepRun]:
    params = [f"{TDP}={tdps}"] + ([f"cooling.facility_supply_temp_c={temps}"] if temps else [])
    return plan(grid(parse_params(params)), [SMALL], [load_suite("quick").scenario("training")], out,
                duration_s=DURATION_S)


def run_dir(out: Path, run: sweep_execute.SweepRun) -> Path:
    assert run.loaded is not None
    return out / run.request.run_dir(run.out_root, run.loaded)


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Counter[Path]:
    """Every run directory the sweep writes, counted."""
    written: Counter[Path] = Counter()
    replace = sweep_execute.replace_run

    def counted(directory: Path, output: Any) -> Path:
        written[directory] += 1
        return replace(directory, output)

    monkeypatch.setattr(sweep_execute, "replace_run", counted)
    return written


def set_allowed_failures(count: int, dask_scheduler: Any) -> int:
    """On the scheduler: how many worker deaths a task survives before KilledWorker; returns the former value."""
    former: int = dask_scheduler.allowed_failures
    dask_scheduler.allowed_failures = count
    return former


def sweep_with_failures(out: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch, *, dies: str,
                        raises: str = "none", allowed_failures: int) -> tuple[SweepResult, list[str]]:
    """A sweep whose failing_run_output points fail as told, on the scheduler allowing `allowed_failures` deaths of
    a task's workers; its result and the attempts logged."""
    log = out / "attempts.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(sweep_execute, "run_output", partial(failing_run_output, dies=dies, raises=raises,
                                                             log=str(log)))
    with Client(scheduler) as client:
        former = client.run_on_scheduler(set_allowed_failures, allowed_failures)
        try:
            result = run_sweep(sweep_runs(out), out, scheduler=scheduler)
        finally:
            client.run_on_scheduler(set_allowed_failures, former)
    return result, log.read_text().splitlines()


@pytest.mark.dask
def test_a_worker_killed_mid_run_is_rescheduled_and_every_run_written_once(
        tmp_path: Path, dask_scheduler: str, monkeypatch: pytest.MonkeyPatch, writes: Counter[Path]) -> None:
    result, attempts = sweep_with_failures(tmp_path, dask_scheduler, monkeypatch, dies=f"{TDP}=1200",
                                           allowed_failures=3)  # distributed's default
    assert attempts == [f"{TDP}=1200"] * 2  # killed its worker, then ran on another
    assert (result.ran, result.failed) == (2, 0)
    assert [row["status"] for row in pq.read_table(tmp_path / "sweep.parquet").to_pylist()] == ["ok", "ok"]
    runs = sweep_runs(tmp_path)
    assert writes == Counter({run_dir(tmp_path, run): 1 for run in runs})
    assert all(run.status == "ok" for run in runs)
    tables = racksim.results.open(tmp_path)  # a sweep's runs as tables: a row per point
    assert list(tables.metrics["point"]) == [run.point.point_id for run in runs]
    series = tables.timeseries(runs[1].design_name, "training", point=runs[1].point.point_id)
    assert series["time_s"].iloc[-1] == pytest.approx(DURATION_S)
    with pytest.raises(InputError, match="2 runs"):
        tables.timeseries(runs[1].design_name, "training")


@pytest.mark.dask
def test_killed_workers_resubmit_and_raising_runs_retry_then_fail_alone(
        tmp_path: Path, dask_scheduler: str, monkeypatch: pytest.MonkeyPatch, writes: Counter[Path]) -> None:
    """With no worker death allowed, the scheduler gives up at once (KilledWorker) and the sweep submits again."""
    result, attempts = sweep_with_failures(tmp_path, dask_scheduler, monkeypatch, dies=f"{TDP}=1200",
                                           raises=f"{TDP}=1000", allowed_failures=0)
    assert attempts.count(f"{TDP}=1200") == 2  # killed its worker, then ran after the resubmission
    # raised, and was retried: a retry queued on the dying worker is killed with it and resubmitted too
    assert attempts.count(f"{TDP}=1000") >= 1 + sweep_execute.RETRIES
    assert (result.ran, result.failed) == (2, 1)
    statuses = [row["status"] for row in pq.read_table(tmp_path / "sweep.parquet").to_pylist()]
    assert statuses == ["failed on a dask worker: RuntimeError: disk on fire", "ok"]
    runs = sweep_runs(tmp_path)
    assert writes == Counter({run_dir(tmp_path, runs[1]): 1})
    assert [run.status for run in runs] == ["pending", "ok"]  # the next call retries the failed run


def test_workers_that_keep_dying_are_a_one_line_status() -> None:
    status = sweep_execute.failure(KilledWorker("run_output-1", None, 0))
    assert status == "its dask workers died (2 submissions, KilledWorker); rerun the sweep to retry it"


def test_a_result_already_written_is_not_written_again(tmp_path: Path, writes: Counter[Path]) -> None:
    [run] = sweep_runs(tmp_path, tdps="1000")
    output = sweep_execute.run_output(run.request, run.loaded)
    assert not isinstance(output, str)
    target = run_dir(tmp_path, run)
    assert sweep_execute.store_run(target, output)
    assert not sweep_execute.store_run(target, output)
    assert writes == Counter({target: 1})
    assert sweep_execute.store_run(target, output, force=True)  # --force rewrites
    assert writes == Counter({target: 2})
    assert partial_dirs(target) == []


def finished(out: Path) -> list[Path]:
    """The run directories of a sweep holding a metrics.json (not the hidden ones a run is written in first)."""
    return [path.parent for path in out.glob("points/*/*/*/metrics.json") if not path.parent.name.startswith(".")]


@pytest.mark.dask
@pytest.mark.slow
def test_a_killed_sweep_resumes_without_rerunning_finished_runs(tmp_path: Path, dask_scheduler: str,
                                                                writes: Counter[Path]) -> None:
    out = tmp_path / "sweep"
    args = [sys.executable, "-m", "racksim", "sweep", str(SMALL), "--param", f"{TDP}=1000,1200",
            "--param", "cooling.facility_supply_temp_c=30,40", "--suite", "quick", "--scenario", "training",
            "--duration", f"{DURATION_S}s", "--scheduler", dask_scheduler, "--out", str(out)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not finished(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    runs = sweep_runs(out, temps="30,40")
    done = {run_dir(out, run): (run_dir(out, run) / "metrics.json").stat().st_ino for run in runs
            if run.status == "ok"}
    pending = [run_dir(out, run) for run in runs if run.status == "pending"]
    assert done
    assert pending  # killed before the end
    assert not (out / "sweep.parquet").exists()
    result = run_sweep(runs, out, scheduler=dask_scheduler)
    assert (result.ran, result.kept, result.failed) == (len(pending), len(done), 0)
    assert writes == Counter(dict.fromkeys(pending, 1))  # the finished runs were not rerun
    assert {path: (path / "metrics.json").stat().st_ino for path in done} == done
    assert not [path for run in runs for path in partial_dirs(run_dir(out, run))]
    assert [row["status"] for row in pq.read_table(out / "sweep.parquet").to_pylist()] == ["ok"] * 4
