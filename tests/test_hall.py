"""Halls: loading and one-line errors, the row physics by hand, conservation, row limits and in-row CDU faults."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from racksim.cli import main
from racksim.design.suite import Fault, load_suite
from racksim.engine import Simulation
from racksim.engine.simulation import RunResult
from racksim.errors import InputError
from racksim.physics.arrays import build
from racksim.physics.hall_power import hall_input_w
from racksim.physics.operating_point import Activity, evaluate
from racksim.physics.rows import (
    cdu_approach_c_per_w,
    overloaded_racks,
    rack_cdus,
    rack_rows,
    row_caps_w,
    row_load_w,
)
from racksim.report.hall_figures import row_loading
from racksim.run.loading_hall import LoadedHall, layout_of, load_hall, load_target
from racksim.run.pipeline import RunRequest, run_one
from racksim.run.simulate import compile_schedule
from racksim.run.timeseries import read_timeseries
from racksim.workload import TrainingSchedule
from racksim.workload.faults import fault_actions

from .conftest import ROOT, contract_problems

GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
HALLS = sorted((ROOT / "designs" / "halls").glob("*.yaml"))
SCHEDULE = TrainingSchedule(compute_s=8.0, communication_s=2.0, checkpoint_every_steps=3, checkpoint_s=4.0)
RACK_TRAINING_W = 110e3
"""A GB200 rack's feed in SCHEDULE's compute phase is above this (and below 2 × it), W."""
TRAINING = load_suite("quick").scenario("training")


def write_hall(tmp_path: Path, **fields: Any) -> Path:
    """A hall file of GB200 racks in tmp_path; `fields` replace or add top-level keys (None removes one)."""
    hall: dict[str, Any] = {"name": "test-hall", "design": str(GB200), "racks": 4, "rows": 2,
                            "row_power": {"feeder_capacity_w": 400e3, "on_overload": "cap"},
                            "row_cdus": {"racks_per_cdu": 2, "capacity_w": 260e3}}
    hall.update(fields)
    path = tmp_path / "hall.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in hall.items() if v is not None}), encoding="utf-8")
    return path


def simulate(path: Path, duration_s: float, faults: Sequence[Fault] = ()) -> tuple[Simulation, RunResult]:
    """Train on the hall's racks for `duration_s` with `faults`; the simulation (its final plant) and result."""
    loaded = load_hall(path)
    arrays = build(loaded.design, hall=loaded.layout)
    simulation = Simulation(arrays, SCHEDULE.phases(), duration_s, faults=fault_actions(list(faults), arrays))
    return simulation, simulation.run()


# --------------------------------------------------------------------------- loading and errors


@pytest.mark.parametrize("path", HALLS, ids=lambda p: p.stem)
def test_bundled_halls_load_with_their_rack_counts(path: Path) -> None:
    loaded = load_target(path)
    assert isinstance(loaded, LoadedHall)
    racks = yaml.safe_load(path.read_text(encoding="utf-8"))["racks"]
    assert layout_of(loaded).n_racks == racks == loaded.hall.racks
    assert loaded.design.name == loaded.hall.name == path.stem
    assert loaded.figures["hall_gpu_count"] == 72 * racks
    sizes = np.bincount(loaded.layout.rack_row)
    assert sizes.max() - sizes.min() <= 1


def test_halls_stay_out_of_the_bundled_design_glob() -> None:
    assert not any(path.parent.name == "halls" for path in (ROOT / "designs").glob("*.yaml"))


def test_a_rack_design_is_a_hall_of_one() -> None:
    loaded = load_target(GB200)
    assert not isinstance(loaded, LoadedHall)
    layout = layout_of(loaded)
    assert layout.n_racks == 1
    assert not layout.has_row_limits


def test_hall_hash_follows_the_hall_and_the_design(tmp_path: Path) -> None:
    first = load_hall(write_hall(tmp_path)).design_hash
    assert load_hall(write_hall(tmp_path)).design_hash == first
    assert load_hall(write_hall(tmp_path, racks=6)).design_hash != first
    assert load_hall(write_hall(tmp_path), ["cooling.facility_supply_temp_c=32"]).design_hash != first


@pytest.mark.parametrize(("fields", "overrides", "field", "rule"), [
    ({"rackz": 4}, [], "rackz", "unknown field"),
    ({"racks": 0}, [], "racks", "greater than 0"),
    ({"rows": 5}, [], "rows", "5 rows for 4 racks"),
    ({"row_cdus": {"racks_per_cdu": 3, "capacity_w": 1e5}}, [], "row_cdus.racks_per_cdu", "longest row has 2"),
    ({"row_power": {"feeder_capacity_w": -1}}, [], "row_power.feeder_capacity_w", "greater than 0"),
    ({"row_power": {"feeder_capacity_w": 1e5, "on_overload": "melt"}}, [], "row_power.on_overload", "'cap'"),
    ({"design": "missing.yaml"}, [], "design", "rack design missing.yaml not found"),
    ({"design": "é" * 200}, [], "design", "not found"),  # a name the system refuses to look up (ENAMETOOLONG)
    ({}, ["power.capping=null"], "row_power.on_overload", "cap needs the rack design's power.capping"),
    ({}, ["cooling.cdu.location=in_rack"], "row_cdus", "in-row CDUs need a design"),
])
def test_bad_hall_is_one_line_naming_file_field_and_rule(tmp_path: Path, fields: dict[str, Any],
                                                         overrides: list[str], field: str, rule: str) -> None:
    path = write_hall(tmp_path, **fields)
    with pytest.raises(InputError) as caught:
        load_hall(path, overrides)
    error = caught.value
    assert (error.source, error.field_path) == (str(path), field)
    assert rule in error.rule
    assert "\n" not in str(error)


def test_cli_rejects_a_bad_hall_with_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_hall(tmp_path, rows=9)
    code = main(["run", str(path), "--suite", "quick", "--scenario", "training", "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error == f"racksim: error: {path}: rows: 9 rows for 4 racks: every row needs a rack"


def test_fault_on_a_missing_cdu_names_the_fault(tmp_path: Path) -> None:
    loaded = load_hall(write_hall(tmp_path))
    arrays = build(loaded.design, hall=loaded.layout)
    with pytest.raises(InputError, match=r"scenario x: faults\.1: no CDU 1 in row 1: the hall has 2 row\(s\)"):
        fault_actions([Fault(kind="row_cdu_failure", at_s=1, row=0, cdu=0),
                       Fault(kind="row_cdu_failure", at_s=1, row=1, cdu=1)], arrays, "scenario x")


def test_row_and_cdu_belong_to_row_cdu_failures_only() -> None:
    with pytest.raises(ValueError, match="row applies to row_cdu_failure, not cdu_failure"):
        Fault(kind="cdu_failure", at_s=1, row=1)


# --------------------------------------------------------------------------- row physics by hand


def test_racks_split_evenly_over_rows_and_cdus_along_each_row() -> None:
    assert rack_rows(5, 2).tolist() == [0, 0, 0, 1, 1]
    assert rack_rows(6, 3).tolist() == [0, 0, 1, 1, 2, 2]
    # Rows of 3 and 2 racks, two racks per CDU: CDUs 0, 1 in row 0 and CDU 2 in row 1.
    assert rack_cdus(rack_rows(5, 2), 2).tolist() == [0, 0, 1, 2, 2]


def test_row_load_and_overload() -> None:
    feed_w = np.array([100.0, 150.0, 120.0, 10.0])
    rows = np.array([0, 0, 1, 1])
    assert row_load_w(feed_w, rows, 2).tolist() == [250.0, 130.0]
    assert overloaded_racks(feed_w, rows, np.array([200.0, 200.0]), np.inf).tolist() == [True, True, False, False]
    assert overloaded_racks(feed_w, rows, np.array([250.0, 130.0]), np.inf).tolist() == [False] * 4
    assert overloaded_racks(feed_w, rows, np.array([np.inf, np.inf]), 379.0).tolist() == [True] * 4


def test_shared_cdu_approach_by_hand() -> None:
    # 3 K at 600 kW shared by 5 racks: 5 × 100 kW raise the supply 2.5 K, i.e. 2.5e-5 K per rack watt.
    assert cdu_approach_c_per_w(3.0, 600e3, 5) * 100e3 == pytest.approx(2.5)


def test_row_caps_are_the_highest_that_fit_each_row_and_the_ups() -> None:
    # Feed of a rack = 1000 W + 10 × cap: linear and monotone, so the fitting caps are known by hand.
    def feed_w_at(cap_w: np.ndarray) -> np.ndarray:
        return 1000.0 + 10.0 * np.minimum(cap_w, 500.0)

    rows = np.array([0, 0, 1])
    caps_w, infeasible = row_caps_w(feed_w_at, np.full(3, np.inf), rows, np.array([8000.0, 1e9]), np.inf,
                                    50.0, 500.0)
    assert caps_w[:2] == pytest.approx([300.0, 300.0])  # 2 × (1000 + 10 × 300) = 8000 W
    assert caps_w[2] == np.inf
    assert not infeasible.any()
    caps_w, infeasible = row_caps_w(feed_w_at, np.array([np.inf, 200.0, np.inf]), rows, np.full(2, 1e9), 9000.0,
                                    50.0, 500.0)
    assert caps_w == pytest.approx([200.0, 200.0, 200.0])  # 3 × 1000 + 10 × 600 = 9000 W
    _, infeasible = row_caps_w(feed_w_at, np.full(3, np.inf), rows, np.array([2500.0, 1e9]), np.inf, 50.0, 500.0)
    assert infeasible.tolist() == [True, True, False]  # 2 × 1500 W > 2500 W even at the lowest cap


# --------------------------------------------------------------------------- engine: conservation and limits


def test_hall_conserves_energy_and_heat(tmp_path: Path) -> None:
    """A 4-rack hall with a capped row and a failed in-row CDU closes both balances to 0.1 %."""
    path = write_hall(tmp_path, row_power={"feeder_capacity_w": 2 * RACK_TRAINING_W, "on_overload": "cap"})
    _, result = simulate(path, 40.0, [Fault(kind="row_cdu_failure", at_s=5, duration_s=20, row=1, cdu=0)])
    integrals = result.integrals
    supplied = integrals.input_energy_j + integrals.storage_net_energy_j
    assert supplied > 4 * 40.0 * 0.5 * RACK_TRAINING_W
    assert integrals.it_energy_j + sum(integrals.loss_energy_j.values()) == pytest.approx(supplied, rel=1e-3)
    assert integrals.heat_to_liquid_j + integrals.heat_to_air_j + integrals.heat_stored_j == pytest.approx(
        supplied, rel=1e-3)


def test_row_feeder_overload_caps_every_rack_of_the_row_and_no_other(tmp_path: Path) -> None:
    # Three racks in two rows: racks 0 and 1 share a feeder that carries less than both train at.
    feeder_w = 1.8 * RACK_TRAINING_W
    path = write_hall(tmp_path, racks=3, row_cdus=None, row_power={"feeder_capacity_w": feeder_w})
    simulation, result = simulate(path, 20.0)
    caps_w = simulation.state.plant.gpu_cap_w
    assert np.isfinite(caps_w[:2]).all()
    assert caps_w[0] == caps_w[1]
    assert caps_w[2] == np.inf
    assert any(event.kind == "cap" for event in result.events)
    state = simulation.state
    full = evaluate(simulation.arrays, Activity(1.0, 1.0, 1.0), np.zeros_like(state.throttled), state.plant)
    assert full.feed_w[:2].sum() <= feeder_w * (1 + 1e-9)
    assert full.feed_w[:2].sum() > 0.999 * feeder_w  # the highest cap that fits, not just any


def test_racks_and_rows_record_their_feed_energy_and_peak(tmp_path: Path) -> None:
    # Three racks in two rows (2 + 1), the first row's feeder short of two racks in training: capped.
    feeder_w = 1.8 * RACK_TRAINING_W
    path = write_hall(tmp_path, racks=3, row_cdus=None, row_power={"feeder_capacity_w": feeder_w})
    _, result = simulate(path, 60.0)
    integrals = result.integrals
    # The hall draws its racks' feeds and its row feeders' loss (no UPS here).
    assert set(integrals.loss_energy_j) >= {"row_feeder"}
    assert "ups" not in integrals.loss_energy_j
    assert integrals.rack_input_energy_j.sum() + integrals.loss_energy_j["row_feeder"] == pytest.approx(
        integrals.input_energy_j, rel=1e-12)
    # The uncapped rack 2 draws more than each capped rack of row 0, which share their feeder alike.
    assert integrals.rack_input_energy_j[2] > integrals.rack_input_energy_j[0] == integrals.rack_input_energy_j[1]
    assert integrals.row_feed_w_max[1] == integrals.rack_feed_w_max[2] > RACK_TRAINING_W
    # Row 0 peaks above its feeder for the controller's response time, then is held within it.
    assert integrals.row_feed_w_max[0] == pytest.approx(integrals.rack_feed_w_max[:2].sum(), rel=1e-12)
    assert integrals.row_feed_w_max[0] > feeder_w
    # The hall's peak is at most the sum of its rows' and their feeders' loss (they need not peak at the same
    # instant), here close to it.
    chain = load_hall(path).layout.power
    assert chain is not None
    peak_bound_w = hall_input_w(chain, integrals.row_feed_w_max)
    assert 0.999 * integrals.row_feed_w_max.sum() < result.feed.peak_w <= peak_bound_w


def test_row_feeder_overload_trips_every_rack_of_the_row_and_no_other(tmp_path: Path) -> None:
    path = write_hall(tmp_path, racks=3, row_cdus=None,
                      row_power={"feeder_capacity_w": 1.8 * RACK_TRAINING_W, "on_overload": "trip"})
    simulation, result = simulate(path, 20.0)
    assert simulation.state.plant.tripped.tolist() == [True, True, False]
    assert np.isinf(simulation.state.plant.gpu_cap_w).all()
    assert result.trips == 2


def test_ups_overload_caps_the_whole_hall(tmp_path: Path) -> None:
    ups_w = 3.5 * RACK_TRAINING_W
    path = write_hall(tmp_path, row_cdus=None, row_power={"feeder_capacity_w": 1e7, "ups_capacity_w": ups_w})
    simulation, _ = simulate(path, 20.0)
    assert np.isfinite(simulation.state.plant.gpu_cap_w).all()
    state = simulation.state
    full = evaluate(simulation.arrays, Activity(1.0, 1.0, 1.0), np.zeros_like(state.throttled), state.plant)
    assert 0.999 * ups_w < full.feed_w.sum() <= ups_w * (1 + 1e-9)


def test_in_row_cdu_failure_heats_every_rack_it_serves_and_no_other(tmp_path: Path) -> None:
    # One row of four racks, two per CDU: CDU 1 serves racks 2 and 3.
    path = write_hall(tmp_path, rows=1, row_power=None)
    fault = Fault(kind="row_cdu_failure", at_s=5, row=0, cdu=1)
    simulation, result = simulate(path, 30.0, [fault])
    healthy, _ = simulate(path, 30.0)
    assert simulation.state.plant.cdu_rejecting.tolist() == [True, True, False, False]
    loop_c = simulation.state.plant.loop_temp_c
    assert loop_c[2] == loop_c[3]
    assert loop_c[2] > loop_c[0] + 5.0
    assert loop_c[:2] == pytest.approx(healthy.state.plant.loop_temp_c[:2], abs=0.5)
    die_max_c = np.zeros(4)
    np.maximum.at(die_max_c, simulation.arrays.chips.rack, result.integrals.chip_temp_c_max)
    assert die_max_c[2:].min() > die_max_c[:2].max() + 3.0


def test_in_row_cdus_share_their_approach(tmp_path: Path) -> None:
    """Four racks on one CDU of the rack's own rating run a hotter supply than four on CDUs of their own."""
    shared = load_hall(write_hall(tmp_path, rows=1, row_cdus={"racks_per_cdu": 4, "capacity_w": 130e3}))
    own = load_hall(write_hall(tmp_path, rows=1, row_cdus=None))
    assert build(shared.design, hall=shared.layout).cooling.approach_c_per_w == pytest.approx(
        4 * build(own.design, hall=own.layout).cooling.approach_c_per_w)


# --------------------------------------------------------------------------- command line


@pytest.mark.slow
def test_run_accepts_a_hall_file(tmp_path: Path) -> None:
    path = write_hall(tmp_path, racks=2, rows=1, row_cdus=None)
    out = tmp_path / "out"
    assert main(["run", str(path), "--suite", "quick", "--scenario", "training", "--duration", "20",
                 "--out", str(out), "-j", "1"]) == 0
    run_dir = out / "test-hall" / "training"
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert contract_problems(metrics) == []
    assert metrics["design"] == "test-hall"
    assert yaml.safe_load((run_dir / "hall.resolved.yaml").read_text(encoding="utf-8"))["racks"] == 2
    # Two racks draw twice one rack's power running the same phases: the hall's job (laid out over its 144 GPUs,
    # data parallel across the racks) run on a lone rack. A lone rack's own job (72 GPUs) is laid out and timed
    # differently, so it is not the comparison.
    request = RunRequest(path, TRAINING, duration_s=20.0)
    schedule = compile_schedule(request, request.load())
    lone_dir = run_one(RunRequest(GB200, TRAINING, duration_s=20.0), out, schedule=schedule)
    rack = json.loads((lone_dir / "metrics.json").read_text(encoding="utf-8"))
    assert rack["performance"]["layout"] == metrics["performance"]["layout"]
    # The hall's row feeder (a busway, issue 20) loses a little above the racks' feeds; the lone rack has none.
    feeder_j = metrics["power"]["loss_energy_j_by_stage"]["row_feeder"]
    assert 0 < feeder_j < 1e-3 * metrics["power"]["input_energy_j"]
    assert "row_feeder" not in rack["power"]["loss_energy_j_by_stage"]
    racks_j = metrics["power"]["input_energy_j"] - feeder_j
    assert racks_j == pytest.approx(2 * rack["power"]["input_energy_j"], rel=1e-6)
    # The report's row-loading figure: the hall's row against its feeder; none for the lone rack.
    loading = row_loading(run_dir, 20.0)
    assert loading is not None
    assert loading.feeder_capacity_w.tolist() == [400e3]
    assert loading.mean_w[0] == pytest.approx(racks_j / 20.0, rel=1e-12)
    assert loading.mean_w[0] < loading.peak_w[0] < 2 * RACK_TRAINING_W * 1.2
    assert row_loading(lone_dir, 20.0) is None
    assert main(["report", str(out)]) == 0
    assert (out / "figures" / "training-row-loading.png").stat().st_size > 10_000


def test_hall_fields_take_overrides_beside_the_rack_designs(tmp_path: Path) -> None:
    path = write_hall(tmp_path)
    plain = load_hall(path)
    loaded = load_hall(path, ["hall.row_power.feeder_capacity_w=123456", "cooling.facility_supply_temp_c=35"])
    assert loaded.hall.row_power is not None
    assert loaded.hall.row_power.feeder_capacity_w == 123456
    assert loaded.layout.row_capacity_w.tolist() == [123456, 123456]
    assert loaded.design.cooling.facility_supply_temp_c == 35
    assert loaded.design_hash != plain.design_hash
    with pytest.raises(InputError, match=r"hall\.yaml: racks: .*greater than 0"):
        load_hall(path, ["hall.racks=0"])


@pytest.mark.slow
@pytest.mark.dask
def test_a_sweep_over_a_row_feeder_rating(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_hall(tmp_path, racks=2, rows=1, row_cdus=None)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--param", f"hall.row_power.feeder_capacity_w={1.8 * RACK_TRAINING_W:.0f},1e6",
                 "--suite", "quick", "--scenario", "training", "--duration", "30", "--out", str(out),
                 "--workers", "1", "--resolution", "10"]) == 0
    capped = {}
    for metrics_path in out.rglob("metrics.json"):
        inputs = json.loads((metrics_path.parent / "inputs.json").read_text(encoding="utf-8"))
        assert inputs["timeseries_resolution_s"] == 10
        assert read_timeseries(metrics_path.parent)["time_s"].size <= 30 / 10 + 2
        rating = float(inputs["overrides"][0].split("=")[1])
        capped[rating] = json.loads(metrics_path.read_text(encoding="utf-8"))["power"]["capped_fraction"]
    assert len(capped) == 2
    assert capped[1e6] == 0
    assert capped[min(capped)] > 0  # the row feeder short of two training racks caps them
