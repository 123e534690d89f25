"""Halls of several rack designs: schema errors, the UPS split, the merge against a single-design hall, balances,
row-local limits and a run end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from racksim.cli import main
from racksim.design.suite import Fault, Scenario, load_suite
from racksim.design.workload_schema import LayoutPins, TraceWorkload
from racksim.errors import InputError
from racksim.physics.rows import ups_shares_w
from racksim.run.loading_hall import LoadedHall, load_hall
from racksim.run.merge import merged_result
from racksim.run.mixed_hall import group_faults, group_schedules, hall_metrics, run_groups, work_scale
from racksim.run.pipeline import RunRequest, run_one
from racksim.run.simulate import simulate
from racksim.run.timeseries import read_timeseries
from racksim.workload import DEFAULT_ACTIVITY, TrainingSchedule

from .conftest import ROOT, contract_problems

GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
GB300 = ROOT / "designs" / "gb300-nvl72.yaml"
TRAINING = load_suite("quick").scenario("training")
TRAINING_216 = TRAINING.model_copy(update={"workload": TRAINING.workload.model_copy(update={
    "global_batch_sequences": 216, "layout": LayoutPins(tp=8, pp=1)})})
"""The quick training on three racks (216 GPUs): tp 8 × dp 27, 8 sequences per data-parallel rank (the quick batch
of 144 has no layout on 216 GPUs: a one-line InputError)."""


def write(tmp_path: Path, name: str = "hall", **fields: Any) -> Path:
    """A hall file in tmp_path: a GB200 group and a GB300 group of two racks in a row each; `fields` replace keys
    (None removes one)."""
    hall: dict[str, Any] = {"name": name, "groups": [{"design": str(GB200), "racks": 2, "rows": 1},
                                                     {"design": str(GB300), "racks": 2, "rows": 1}],
                            "row_power": {"feeder_capacity_w": 400e3, "on_overload": "cap"},
                            "row_cdus": {"racks_per_cdu": 2, "capacity_w": 300e3}}
    hall.update(fields)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in hall.items() if v is not None}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rack_training_w() -> float:
    """A GB200 or GB300 rack's feed in the compute phase of TRAINING is above this (and a lone rack's peak below
    1.8 × it), W: 95 % of the lower of the two racks' peak feed in a run of TRAINING on a lone rack."""
    peaks_w = [simulate(RunRequest(design, TRAINING, duration_s=10.0)).metrics["power"]["input_power_w_peak"]
               for design in (GB200, GB300)]
    rack_w = 0.95 * min(peaks_w)
    assert max(peaks_w) < 1.8 * rack_w  # the premise of the feeders of 1.8 × it below: one rack fits, two do not
    return rack_w


def busy_trace_scenario(tmp_path: Path) -> Scenario:
    """Every GPU on its own trace: 8 s of a training step's compute, then 2 s of its communication, repeated.

    Each GPU's work (busy GPU-hours) and power are its own, whatever job its rack belongs to: a hall of one design
    runs one job over all its racks, a hall of groups one per group, and a trained model's step depends on the job's
    GPU count, a trace does not.
    """
    compute, communication = DEFAULT_ACTIVITY["compute"], DEFAULT_ACTIVITY["communication"]
    rows = [(t, compute) for t in (0, 2, 4, 6)] + [(8, communication)]  # the last row holds for the median 2 s
    path = tmp_path / "busy.csv"
    path.write_text("time_s,gpu_utilization,cpu_utilization,network_utilization\n" + "".join(
        f"{t},{a.gpu_utilization},{a.cpu_utilization},{a.network_utilization}\n" for t, a in rows), encoding="utf-8")
    return Scenario(name="busy-trace", duration_s=60.0, seed=1, workload=TraceWorkload(kind="trace", path=path))


def leaves(tree: object, prefix: str = "") -> dict[str, float]:
    """Every number in a metrics tree by dotted name."""
    if isinstance(tree, dict):
        return {name: value for key, child in tree.items() for name, value in leaves(child, f"{prefix}{key}.").items()}
    return {prefix[:-1]: float(tree)} if isinstance(tree, int | float) and not isinstance(tree, bool) else {}


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize(("fields", "field", "rule"), [
    ({"design": str(GB200)}, "groups", "give design (racks of one design) or groups (racks of several), not both"),
    ({"groups": None}, "design", "give design (racks of one design) or groups"),
    ({"groups": []}, "groups", "at least 1"),
    ({"racks": 5}, "racks", "5 racks, but the groups hold 4"),
    ({"rows": 3}, "rows", "3 rows, but the groups have 2"),
    ({"groups": [{"design": str(GB200), "racks": 2, "rows": 3}]}, "groups.0.rows", "3 rows for 2 racks"),
    ({"groups": [{"design": str(GB200), "racks": 0}]}, "groups.0.racks", "greater than 0"),
    ({"groups": [{"design": str(GB200), "racks": 2, "colour": "red"}]}, "groups.0.colour", "unknown field"),
    ({"groups": [{"design": str(GB200), "racks": 2}, {"design": "missing.yaml", "racks": 2}]}, "groups.1.design",
     "rack design missing.yaml not found"),
    ({"row_cdus": {"racks_per_cdu": 3, "capacity_w": 1e5}}, "row_cdus.racks_per_cdu", "longest row has 2"),
])
def test_bad_mixed_hall_is_one_line_naming_file_field_and_rule(tmp_path: Path, fields: dict[str, Any], field: str,
                                                               rule: str) -> None:
    path = write(tmp_path, **fields)
    with pytest.raises(InputError) as caught:
        load_hall(path)
    assert (caught.value.source, caught.value.field_path) == (str(path), field)
    assert rule in caught.value.rule
    assert "\n" not in str(caught.value)


def test_a_group_design_that_breaks_a_hall_rule_is_named(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(InputError, match=r"row_power\.on_overload: cap needs .*\(groups\.0: .*gb200-nvl72\.yaml\)"):
        load_hall(path, ["power.capping=null"])


def test_cli_rejects_a_bad_mixed_hall_with_one_line_and_exit_2(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, racks=9)
    code = main(["run", str(path), "--suite", "quick", "--scenario", "training", "--out", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"racksim: error: {path}: racks: 9 racks, but the groups hold 4"
    assert main(["validate", str(write(tmp_path, rows=1))]) == 2


# --------------------------------------------------------------------------- layout and the UPS split


def test_ups_split_in_proportion_to_nameplate_by_hand() -> None:
    assert ups_shares_w(1000.0, np.array([300.0, 100.0])).tolist() == [750.0, 250.0]
    assert np.isinf(ups_shares_w(np.inf, np.array([300.0, 100.0]))).all()


def test_groups_lay_out_row_after_row_with_their_share_of_the_ups(tmp_path: Path) -> None:
    loaded = load_hall(write(tmp_path, groups=[{"design": str(GB200), "racks": 3, "rows": 2},
                                               {"design": str(GB300), "racks": 2, "rows": 1}],
                             row_power={"feeder_capacity_w": 400e3, "ups_capacity_w": 600e3}, row_cdus=None))
    gb200_w = loaded.groups[0].rack.figures["nameplate_feed_power_w"]
    gb300_w = loaded.groups[1].rack.figures["nameplate_feed_power_w"]
    assert gb300_w > gb200_w  # the split is not by rack count
    share = 600e3 * 3 * gb200_w / (3 * gb200_w + 2 * gb300_w)
    assert loaded.groups[0].layout.ups_capacity_w == pytest.approx(share, rel=1e-12)
    assert loaded.groups[1].layout.ups_capacity_w == pytest.approx(600e3 - share, rel=1e-12)
    assert loaded.layout.ups_capacity_w == pytest.approx(600e3, rel=1e-12)
    assert loaded.layout.rack_row.tolist() == [0, 0, 1, 2, 2]
    assert [(g.first_rack, g.first_row) for g in loaded.groups] == [(0, 0), (3, 2)]
    assert loaded.figures["hall_gpu_count"] == 5 * 72
    assert loaded.is_mixed


def test_row_cdu_failure_goes_to_the_group_of_its_row(tmp_path: Path) -> None:
    loaded = load_hall(write(tmp_path))
    faults = [Fault(kind="pump_failure", at_s=1), Fault(kind="row_cdu_failure", at_s=2, row=1, cdu=0)]
    first, second = group_faults(faults, loaded, "scenario x")
    assert [f.kind for f in first] == ["pump_failure"]
    assert [(f.kind, f.row) for f in second] == [("pump_failure", 0), ("row_cdu_failure", 0)]
    with pytest.raises(InputError, match=r"scenario x: faults\.0: no CDU 0 in row 2: the hall has 2 row\(s\)"):
        group_faults([Fault(kind="row_cdu_failure", at_s=2, row=2)], loaded, "scenario x")


# --------------------------------------------------------------------------- the merge


def test_two_identical_groups_give_the_single_design_halls_metrics(tmp_path: Path, rack_training_w: float) -> None:
    """The key check of the merge: two groups of two GB200 racks (a row each) against one hall of four racks in
    two rows, with the UPS capping every rack: the same metrics (energies to 1e-9) and the same time series.

    The racks run a trace (busy_trace_scenario): the hall of one design runs one job over its four racks and the
    groups one job each, and only a workload whose racks do not depend on their job's size runs the same phases in
    both."""
    shared = {"row_power": {"feeder_capacity_w": 400e3, "on_overload": "cap", "ups_capacity_w": 3.5 * rack_training_w},
              "row_cdus": {"racks_per_cdu": 2, "capacity_w": 260e3}}
    single = write(tmp_path, "single", groups=None, design=str(GB200), racks=4, rows=2, **shared)
    mixed = write(tmp_path, "mixed", groups=[{"design": str(GB200), "racks": 2, "rows": 1}] * 2, **shared)
    scenario = busy_trace_scenario(tmp_path)
    dirs = [run_one(RunRequest(path, scenario), tmp_path / "out") for path in (single, mixed)]
    single_m, mixed_m = (json.loads((d / "metrics.json").read_text(encoding="utf-8")) for d in dirs)
    assert single_m["power"]["capped_fraction"] > 0.5  # the UPS share caps each group as the UPS did the hall
    expected, got = leaves(single_m), leaves(mixed_m)
    compared = [name for name in expected if name.split(".")[0] in
                ("power", "thermal", "performance", "cabling", "network")]
    assert len(compared) > 60
    for name in compared:
        assert got[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-9), name
    for name in ("failures", "interruptions", "unavailable_fraction"):
        assert got[f"reliability.{name}"] == expected[f"reliability.{name}"]
    # the hall's cost group is its groups' sum: the same capital, energy, heat and repairs as the one-design hall
    # (lost work differs: a failure stops a job of two racks here, of four there)
    single_cost, mixed_cost = single_m["cost"], mixed_m["cost"]
    assert [(group["design"], group["racks"]) for group in mixed_cost["groups"]] == [("gb200-nvl72", 2)] * 2
    assert mixed_cost["capex_usd"] == pytest.approx(single_cost["capex_usd"], rel=1e-12)
    for name in ("energy", "facility", "maintenance"):
        assert mixed_cost["opex_usd_per_year_by_component"][name] == pytest.approx(
            single_cost["opex_usd_per_year_by_component"][name], rel=1e-9), name
    single_series, mixed_series = (read_timeseries(d) for d in dirs)
    assert single_series.keys() == mixed_series.keys()
    for column in single_series:
        np.testing.assert_allclose(mixed_series[column], single_series[column], rtol=1e-9, atol=1e-9, err_msg=column)


def test_mixed_hall_closes_energy_and_heat_and_merges_the_feed_series_exactly(tmp_path: Path,
                                                                              rack_training_w: float) -> None:
    path = write(tmp_path, row_power={"feeder_capacity_w": 1.8 * rack_training_w, "on_overload": "cap"})
    scenario = TRAINING.model_copy(update={"faults": [Fault(kind="row_cdu_failure", at_s=5, duration_s=20, row=1)]})
    request = RunRequest(path, scenario, duration_s=60.0)
    loaded = request.load()
    assert isinstance(loaded, LoadedHall)
    runs = run_groups(request, loaded)
    result = merged_result([run.result for run in runs], [run.group.label for run in runs], [144, 144], [0.5, 0.5])
    integrals = result.integrals
    supplied = integrals.input_energy_j + integrals.storage_net_energy_j
    assert supplied == pytest.approx(sum(r.result.integrals.input_energy_j + r.result.integrals.storage_net_energy_j
                                         for r in runs), rel=1e-12)
    assert integrals.it_energy_j + sum(integrals.loss_energy_j.values()) == pytest.approx(supplied, rel=1e-3)
    assert integrals.heat_to_liquid_j + integrals.heat_to_air_j + integrals.heat_stored_j == pytest.approx(
        supplied, rel=1e-3)
    def feed_j(series: dict[str, np.ndarray]) -> float:  # ∫ feed dt over linear segments
        return float(np.sum(0.5 * (series["feed_power_w"] + series["feed_power_end_w"])
                            * np.diff(np.append(series["time_s"], result.duration_s))))

    assert feed_j(result.series) == pytest.approx(sum(feed_j(run.result.series) for run in runs), rel=1e-12)
    assert result.feed.peak_w == pytest.approx(float(result.series["feed_power_w"].max()), rel=1e-12)
    assert result.feed.peak_w <= sum(run.result.feed.peak_w for run in runs) * (1 + 1e-12)
    assert result.feed.max_ramp_w_per_s <= sum(run.result.feed.max_ramp_w_per_s for run in runs) * (1 + 1e-12)
    assert any(e.kind == "fault" and e.detail.startswith("group 1 (gb300-nvl72, racks 2-3, row 1)")
               for e in result.events)
    assert not any(e.kind == "fault" and e.detail.startswith("group 0") for e in result.events)


def test_row_feeder_overload_trips_the_racks_of_its_row_only(tmp_path: Path, rack_training_w: float) -> None:
    # Rows of 2 and 1 racks in each group: the two-rack rows overload their feeder, the one-rack rows do not.
    path = write(tmp_path, groups=[{"design": str(GB200), "racks": 3, "rows": 2},
                                   {"design": str(GB300), "racks": 3, "rows": 2}], row_cdus=None,
                 row_power={"feeder_capacity_w": 1.8 * rack_training_w, "on_overload": "trip"})
    request = RunRequest(path, TRAINING_216, duration_s=20.0)
    loaded = request.load()
    assert isinstance(loaded, LoadedHall)
    runs = run_groups(request, loaded)
    result = merged_result([run.result for run in runs], [run.group.label for run in runs], [216, 216], [0.5, 0.5])
    assert [run.result.trips for run in runs] == [2, 2]
    assert result.trips == 4
    trips = [event.detail for event in result.events if event.kind == "trip"]
    assert [detail.split(": ")[1] for detail in trips] == ["rack(s) 0, 1", "rack(s) 0, 1"]
    assert trips[0].startswith("group 0 (gb200-nvl72, racks 0-2, rows 0-1)")
    assert trips[1].startswith("group 1 (gb300-nvl72, racks 3-5, rows 2-3)")
    # Each group's job ran on its three racks until the trip halted it.
    assert [run.schedule.predicted["layout"].split(" · ")[:3] for run in runs] == [["tp 8", "pp 1", "dp 27"]] * 2


def test_a_batch_no_layout_of_a_group_divides_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, groups=[{"design": str(GB200), "racks": 3, "rows": 2}], row_cdus=None)
    request = RunRequest(path, TRAINING, duration_s=20.0)
    loaded = request.load()
    assert isinstance(loaded, LoadedHall)
    with pytest.raises(InputError, match=r"group 0 .*: layout: no layout splits 216 GPUs, a batch of 144") as caught:
        group_schedules(request, loaded)
    assert "\n" not in str(caught.value)


def test_work_of_the_groups_counts_in_the_halls_units(tmp_path: Path) -> None:
    # The synthetic step (each GPU doing the step's work): a group's step is n_g / N of a step of the hall's GPUs.
    synthetic = TrainingSchedule(compute_s=8.0, communication_s=2.0, checkpoint_every_steps=3, checkpoint_s=4.0)
    assert work_scale(synthetic, 144, 432) == pytest.approx(1 / 3)
    # A model's step trains the global batch, whatever the group: one step of the hall, its tokens the batch's.
    request = RunRequest(write(tmp_path), TRAINING, duration_s=10.0)
    loaded = request.load()
    assert isinstance(loaded, LoadedHall)
    runs = run_groups(request, loaded)
    metrics, result = hall_metrics(request, loaded, runs)
    groups, performance = metrics["hall"]["groups"], metrics["performance"]
    assert [group["work_scale"] for group in groups] == [1.0, 1.0]
    steps = [run.result.work_units for run in runs]
    assert min(steps) > 0
    assert performance["work_units"] == result.work_units == sum(steps)
    assert performance["nominal_work_units"] == sum(group["nominal_work_units"] for group in groups)
    assert performance["work_unit"] == "steps"
    assert performance["tokens"] == pytest.approx(sum(steps) * 144 * 8192, rel=1e-12)


# --------------------------------------------------------------------------- command line


@pytest.mark.slow
def test_run_and_report_a_mixed_hall_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path)
    out = tmp_path / "out"
    assert main(["validate", str(path)]) == 0
    assert "4 racks" in capsys.readouterr().out
    assert main(["run", str(path), "--suite", "quick", "--scenario", "training", "--duration", "30",
                 "--out", str(out), "-j", "1"]) == 0
    run_dir = out / "hall" / "training"
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert contract_problems(metrics) == []
    groups = metrics["hall"]["groups"]
    assert [(g["design"], g["racks"]) for g in groups] == [("gb200-nvl72", 2), ("gb300-nvl72", 2)]
    assert sum(g["input_energy_j"] for g in groups) == pytest.approx(metrics["power"]["input_energy_j"], rel=1e-12)
    assert groups[1]["input_energy_j"] > groups[0]["input_energy_j"]  # 1.4 kW GPUs against 1.2 kW
    assert (run_dir / "groups" / "1-gb300-nvl72" / "design.resolved.yaml").is_file()
    assert yaml.safe_load((run_dir / "hall.resolved.yaml").read_text(encoding="utf-8"))["racks"] == 4
    # A CDU failure of every rack at 60 s: logged by each group, counted once as in a hall of one design.
    assert main(["run", str(path), "--suite", "quick", "--scenario", "cdu-failure", "--duration", "70",
                 "--out", str(out), "-j", "1"]) == 0
    failed = json.loads((out / "hall" / "cdu-failure" / "metrics.json").read_text(encoding="utf-8"))
    assert [g["reliability"]["failures"] for g in failed["hall"]["groups"]] == [1, 1]
    assert failed["reliability"]["failures"] == 1
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").is_file()


def test_scenario_with_a_bad_row_fails_before_writing_metrics(tmp_path: Path) -> None:
    scenario = Scenario.model_validate({**TRAINING.model_dump(), "faults": [{"kind": "row_cdu_failure", "at_s": 1,
                                                                             "row": 5}]})
    with pytest.raises(InputError, match=r"faults\.0: no CDU 0 in row 5"):
        run_one(RunRequest(write(tmp_path), scenario, duration_s=5.0), tmp_path / "out")
    assert not (tmp_path / "out" / "hall" / "training" / "metrics.json").exists()
