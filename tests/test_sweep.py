"""Sweeps: --param parsing and its one-line errors, grid and Latin hypercube, the Pareto front, and sweeps on a
real dask LocalCluster on loopback (one for the session, tests/conftest.py): equal to serial runs, resuming finished
points, and an interrupted sweep resuming to the same table. tests/test_hall.py runs a sweep on the LocalCluster the
command starts itself (--workers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from racksim.cli import main
from racksim.design.suite import load_suite
from racksim.errors import InputError
from racksim.run.pipeline import run_one
from racksim.run.results import RunOutput
from racksim.sweep import execute as sweep_execute
from racksim.sweep import grid, latin_hypercube, pareto_front, parse_objectives, parse_params, plan, run_sweep
from racksim.sweep.spec import parse_param
from tests.conftest import ROOT

SMALL = ROOT / "tests" / "data" / "good_designs" / "small-cabling.yaml"
DURATION_S = 20.0
PARAMS = ["cooling.facility_supply_temp_c=30:40:10", "compute_tray.gpus.tdp_w=1000,1200"]
PARETO = parse_objectives("performance.work_per_kwh,power.input_power_w_peak")


def training() -> list:
    return [load_suite("quick").scenario("training")]


def sweep_runs(out: Path) -> list:
    return plan(grid(parse_params(PARAMS)), [SMALL], training(), out, duration_s=DURATION_S)


# ---------------------------------------------------------------- spec


def test_ranges_and_lists_expand_to_a_grid() -> None:
    temp, tdp, fluid = parse_params(["cooling.facility_supply_temp_c=30:45:5", "compute_tray.gpus.tdp_w=0.9:1.2:0.1",
                                     "cooling.fluid=water,PG25"])
    assert temp.values == (30, 35, 40, 45)
    assert all(isinstance(v, int) for v in temp.values)
    assert tdp.values == (0.9, 1.0, 1.1, 1.2)  # float steps land on the decimal values, stop included
    assert fluid.values == ("water", "PG25")
    points = grid([temp, fluid])
    assert [p.overrides for p in points[:3]] == [
        ("cooling.facility_supply_temp_c=30", "cooling.fluid=water"),
        ("cooling.facility_supply_temp_c=30", "cooling.fluid=PG25"),
        ("cooling.facility_supply_temp_c=35", "cooling.fluid=water")]
    assert len(points) == 8
    assert len({p.point_id for p in points}) == 8
    assert points[0].values == {"cooling.facility_supply_temp_c": 30, "cooling.fluid": "water"}


def test_latin_hypercube_puts_one_sample_in_every_stratum() -> None:
    params = parse_params(["a.b=30.0:45", "c.d=1:8", "e=x,y"])
    points = latin_hypercube(params, 8, seed=3)
    temps = np.array([p.values["a.b"] for p in points])
    strata = np.floor((temps - 30.0) / (15.0 / 8)).astype(int)
    assert sorted(strata) == list(range(8))  # one sample in each eighth of the range
    assert sorted(p.values["c.d"] for p in points) == list(range(1, 9))  # integers, each once
    assert sorted(p.values["e"] for p in points) == ["x"] * 4 + ["y"] * 4
    assert [p.overrides for p in latin_hypercube(params, 8, seed=3)] == [p.overrides for p in points]
    assert [p.overrides for p in latin_hypercube(params, 8, seed=4)] != [p.overrides for p in points]


@pytest.mark.parametrize(("text", "rule"), [
    ("cooling.facility_supply_temp_c", "expected dotted.path=start:stop:step"),
    ("cooling..temp=1,2", "is not a dotted field path"),
    ("cooling.temp=", "no values after '='"),
    ("cooling.temp=30:20:5", "range stop 20 is below its start 30"),
    ("cooling.temp=30:45:0", "range step 0 must be positive"),
    ("cooling.temp=30:45:-5", "range step -5 must be positive"),
    ("cooling.temp=30:hot:5", "range bound 'hot' is not a finite number"),
    ("cooling.temp=30:45:5:1", "a range is start:stop:step"),
    ("cooling.temp=1,,2", "empty value in the list"),
    ("cooling.temp=1,2,1", "a value appears twice"),
    ("cooling.temp=[1,2]", "cannot parse value"),
    ("cooling.temp=0:1:0.000001", "a sweep takes at most"),
])
def test_bad_param_is_one_line_error(text: str, rule: str) -> None:
    with pytest.raises(InputError, match=r"^--param: ") as caught:
        parse_param(text)
    assert rule in str(caught.value)
    assert "\n" not in str(caught.value)


def test_grid_needs_steps_and_paths_once() -> None:
    with pytest.raises(InputError, match="a grid range needs a step"):
        grid(parse_params(["a.b=30:45"]))
    with pytest.raises(InputError, match="the same field is swept twice"):
        parse_params(["a.b=1,2", "a.b=3"])


def test_cli_bad_param_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", str(SMALL), "--param", "cooling.facility_supply_temp_c=45:30:5", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "racksim: error: --param: cooling.facility_supply_temp_c=45:30:5: range stop 30 is below its " \
                  "start 45\n"
    assert not any(tmp_path.iterdir())  # nothing ran


def test_a_path_no_design_has_is_one_line_error_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"small-cabling.yaml: cooling.no_such_field: unknown field"):
        plan(grid(parse_params(["cooling.no_such_field=1,2"])), [SMALL], training(), tmp_path)


def test_points_breaking_a_design_rule_are_kept_as_infeasible(tmp_path: Path) -> None:
    runs = plan(grid(parse_params(["compute_tray.gpus.tdp_w=100,1200"])), [SMALL], training(), tmp_path)
    assert runs[0].status.startswith(f"{SMALL}: compute_tray.gpus")  # a TDP below the idle power
    assert runs[0].loaded is None
    assert runs[1].status == "pending"


# ---------------------------------------------------------------- Pareto


def test_pareto_front_by_hand() -> None:
    # maximize x, minimize y: (3, 1) dominates (2, 2) and (3, 2); (1, 0) trades off; NaN never counts
    x = [3.0, 2.0, 3.0, 1.0, np.nan, 3.0]
    y = [1.0, 2.0, 2.0, 0.0, -5.0, 1.0]
    assert pareto_front(x, y, 1, -1).tolist() == [True, False, False, True, False, True]  # ties both stay
    assert pareto_front(x, y, -1, 1).tolist() == [False, True, False, True, False, False]


@pytest.mark.parametrize(("text", "rule"), [
    ("performance.work_per_kwh", "expected two metrics"),
    ("performance.work_per_kwh,thermal.heat_to_liquid_j", "knows no better direction"),
    ("performance.work_per_kwh,power.input_power_w_peak:up", "must be higher or lower"),
])
def test_bad_pareto_is_one_line_error(text: str, rule: str) -> None:
    with pytest.raises(InputError, match=r"^--pareto: ") as caught:
        parse_objectives(text)
    assert rule in str(caught.value)


def test_pareto_direction_suffix() -> None:
    _, heat = parse_objectives("performance.work_per_kwh,thermal.heat_to_liquid_j:higher")
    assert heat.better == 1


# ---------------------------------------------------------------- on a LocalCluster


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, dask_scheduler: str) -> Path:
    """A whole sweep on the session's LocalCluster (2 worker processes on loopback)."""
    out = tmp_path_factory.mktemp("sweep")
    result = run_sweep(sweep_runs(out), out, objectives=PARETO, scheduler=dask_scheduler)
    assert (result.ran, result.kept, result.failed) == (4, 0, 0)
    return out


@pytest.mark.dask
def test_sweep_on_a_local_cluster_equals_serial_runs(reference: Path, tmp_path: Path) -> None:
    table = pq.read_table(reference / "sweep.parquet").to_pylist()
    assert [row["status"] for row in table] == ["ok"] * 4
    assert [(row["param.cooling.facility_supply_temp_c"], row["param.compute_tray.gpus.tdp_w"]) for row in table] \
        == [(30, 1000), (30, 1200), (40, 1000), (40, 1200)]
    for run in sweep_runs(tmp_path):  # the same points, run serially in this process
        serial_dir = run_one(run.request, tmp_path / run.out_root)
        swept_dir = reference / run.out_root / serial_dir.relative_to(tmp_path / run.out_root)
        for name in ("metrics.json", "timeseries.parquet", "events.json", "components/chips.parquet", "inputs.json"):
            assert (swept_dir / name).read_bytes() == (serial_dir / name).read_bytes(), name
    peak = {row["param.compute_tray.gpus.tdp_w"]: row["power.input_power_w_peak"] for row in table}
    assert peak[1200] > peak[1000]  # the parameters reached the runs
    metrics = json.loads((reference / table[0]["run_dir"] / "metrics.json").read_text())
    assert table[0]["power.input_energy_j"] == metrics["power"]["input_energy_j"]


@pytest.mark.dask
def test_pareto_column_and_figure(reference: Path) -> None:
    table = pq.read_table(reference / "sweep.parquet").to_pylist()
    front = pareto_front([r["performance.work_per_kwh"] for r in table], [r["power.input_power_w_peak"] for r in table],
                         1, -1)
    assert [row["on_pareto_front"] for row in table] == front.tolist()
    assert 0 < front.sum() < 4
    assert (reference / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.dask
def test_resume_skips_finished_points(reference: Path) -> None:
    before = {path: path.stat().st_ino for path in reference.rglob("metrics.json")}
    table = pq.read_table(reference / "sweep.parquet")
    runs = sweep_runs(reference)
    assert all(run.status == "ok" for run in runs)  # done: no cluster is even started
    result = run_sweep(runs, reference, objectives=PARETO, scheduler="tcp://127.0.0.1:1")
    assert (result.ran, result.kept) == (0, 4)
    assert {path: path.stat().st_ino for path in reference.rglob("metrics.json")} == before
    assert pq.read_table(reference / "sweep.parquet").equals(table)


@pytest.mark.dask
def test_interrupted_sweep_resumes_to_the_same_table(reference: Path, tmp_path: Path, dask_scheduler: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store, stored = sweep_execute.store_run, []

    def store_then_interrupt(run_dir: Path, output: RunOutput, **options: bool) -> None:
        store(run_dir, output, **options)
        stored.append(run_dir)
        if len(stored) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(sweep_execute, "store_run", store_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep_runs(tmp_path), tmp_path, objectives=PARETO, scheduler=dask_scheduler)
    monkeypatch.undo()
    assert not (tmp_path / "sweep.parquet").exists()
    first = {run_dir: (run_dir / "metrics.json").stat().st_ino for run_dir in stored}
    runs = sweep_runs(tmp_path)
    assert sum(run.status == "pending" for run in runs) == 2
    result = run_sweep(runs, tmp_path, objectives=PARETO, scheduler=dask_scheduler)
    assert (result.ran, result.kept) == (2, 2)
    assert {run_dir: (run_dir / "metrics.json").stat().st_ino for run_dir in stored} == first
    assert pq.read_table(tmp_path / "sweep.parquet").equals(pq.read_table(reference / "sweep.parquet"))
