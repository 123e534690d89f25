"""The runner: resume skips unchanged runs and reruns changed ones, parallel equals serial, kills leave no
half runs, and suite files validate with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from racksim.design.suite import load_suite
from racksim.errors import InputError
from racksim.run.pipeline import INPUTS_FILE, RunRequest, requests_for, run_many, run_one
from tests.cli import racksim
from tests.conftest import ROOT

GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
GB300 = ROOT / "designs" / "gb300-nvl72.yaml"
DURATION_S = 30.0


def scenarios(*names: str) -> list:
    quick = load_suite("quick")
    return [quick.scenario(name) for name in names]


def inode(run_dir: Path) -> int:
    """The inode of metrics.json: atomic writes replace the file, so a rerun changes it."""
    return (run_dir / "metrics.json").stat().st_ino


@pytest.mark.slow
def test_resume_skips_unchanged_and_reruns_changed(tmp_path: Path) -> None:
    requests = requests_for([GB200, GB300], scenarios("training"), duration_s=DURATION_S)
    dirs = run_many(requests, tmp_path, jobs=1)
    first = {d: inode(d) for d in dirs}
    assert json.loads((dirs[0] / INPUTS_FILE).read_text())["duration_s"] == DURATION_S
    assert run_many(requests, tmp_path, jobs=1) == dirs
    assert {d: inode(d) for d in dirs} == first  # nothing rerun
    changed = requests_for([GB200], scenarios("training"), duration_s=DURATION_S,
                           overrides=["compute_tray.gpus.tdp_w=1100"])
    run_many([*changed, requests[1]], tmp_path, jobs=1)
    assert inode(dirs[0]) != first[dirs[0]]  # the override changed gb200's inputs
    assert inode(dirs[1]) == first[dirs[1]]
    for other in (requests_for([GB300], scenarios("training"), duration_s=DURATION_S, seed=5),
                  requests_for([GB300], scenarios("training"), duration_s=DURATION_S + 1)):
        before = inode(dirs[1])
        run_many(other, tmp_path, jobs=1)
        assert inode(dirs[1]) != before  # seed or duration changed
    before = inode(dirs[1])
    run_many(requests_for([GB300], scenarios("training"), duration_s=DURATION_S + 1), tmp_path, jobs=1, force=True)
    assert inode(dirs[1]) != before  # --force


@pytest.mark.slow
def test_a_run_killed_half_way_is_rerun_and_leaves_the_others(tmp_path: Path) -> None:
    requests = requests_for([GB200, GB300], scenarios("training"), duration_s=DURATION_S)
    dirs = run_many(requests, tmp_path, jobs=1)
    kept = (dirs[1] / "metrics.json").read_bytes()
    changed = RunRequest(GB200, requests[0].scenario, seed=9, duration_s=DURATION_S)

    def interrupt(simulated_s: float) -> None:
        if simulated_s > 1.0:
            raise KeyboardInterrupt

    earlier = (dirs[0] / "metrics.json").read_bytes()
    with pytest.raises(KeyboardInterrupt):
        run_one(changed, tmp_path, progress=interrupt)
    assert (dirs[0] / "metrics.json").read_bytes() == earlier  # the earlier run stays whole (staged writes)
    assert (dirs[1] / "metrics.json").read_bytes() == kept
    assert not changed.is_done(tmp_path, changed.load())
    run_many([changed], tmp_path, jobs=1)
    assert json.loads((dirs[0] / "metrics.json").read_text())["seed"] == 9


@pytest.mark.slow
def test_parallel_runs_equal_serial_runs(tmp_path: Path) -> None:
    requests = requests_for([GB200, GB300], scenarios("training", "pump-failure"), duration_s=DURATION_S)
    serial = run_many(requests, tmp_path / "serial", jobs=1)
    parallel = run_many(requests, tmp_path / "parallel", jobs=2)
    assert [d.relative_to(tmp_path / "parallel") for d in parallel] == [
        d.relative_to(tmp_path / "serial") for d in serial]
    for one, other in zip(serial, parallel, strict=True):
        for name in ("metrics.json", INPUTS_FILE, "events.json", "timeseries.parquet"):
            assert (one / name).read_bytes() == (other / name).read_bytes(), f"{one.name}/{name}"


SUITE_HEAD = """name: s
scenarios:
  - name: training
    duration_s: 60
    workload: {kind: training, model: llama3-70b, global_batch_sequences: 144, seq_len: 8192,
               checkpoint_every_steps: 10, checkpoint_time_s: 30}
"""


@pytest.mark.parametrize("name", ["quick", "standard"])
def test_bundled_suites_validate_with_weights(name: str) -> None:
    suite = load_suite(name)
    assert suite.weights
    assert all(w.weight > 0 for w in suite.weights.values())


@pytest.mark.parametrize(
    ("weights", "fragment"),
    [
        ("weights: {performance.work_units: -1}",
         "weights.performance.work_units.weight: Input should be greater than 0"),
        ("weights: {performance.work_units: {weight: 1, bogus: 2}}",
         "weights.performance.work_units.bogus: unknown field"),
        ("weights: {thermal.heat_to_liquid_j: 1}",
         "weights.thermal.heat_to_liquid_j.better: racksim knows no better direction"),
        ("weights: {performance.work_units: {weight: 1, scenarios: [nosuch]}}",
         "weights.performance.work_units.scenarios: no scenario named nosuch"),
        ("weights: {performance.work_units: {weight: 1, aggregate: median}}", "aggregate"),
        ("weights: {Work-Units: 1}", "weights.Work-Units.[key]: String should match pattern"),
    ],
)
def test_bad_suite_weights_fail_with_one_line(tmp_path: Path, weights: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SUITE_HEAD + weights + "\n")
    with pytest.raises(InputError, match=None) as raised:
        load_suite(str(path))
    assert str(raised.value).startswith(f"{path}: ")
    assert fragment in str(raised.value)
    done = racksim("run", str(GB200), "--suite", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert fragment in done.stderr
    assert not (tmp_path / "out").exists()
