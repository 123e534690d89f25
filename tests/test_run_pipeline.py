"""The run pipeline: a plain run simulates once, the coolant sensitivity only where asked (with the numbers of the
former reruns), replicas through the same plan, the Parquet time series and the writer's metrics-last contract."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from racksim.cost.model import unit_counts
from racksim.cost.sensitivity import coolant_swing
from racksim.design.suite import load_suite
from racksim.errors import InputError
from racksim.run import results, simulate
from racksim.run.components import PARTS, component_path
from racksim.run.cost import run_stats
from racksim.run.loading import LoadedDesign
from racksim.run.pipeline import RunRequest, run_many, run_one
from racksim.run.results import METRICS_FILE, RunOutput, write_run
from racksim.run.timeseries import (
    LEGACY_TIMESERIES_FILE,
    TIMESERIES_FILE,
    UNIT_SUFFIXES,
    read_timeseries,
    read_timeseries_metadata,
    timeseries_bytes,
)
from tests.conftest import ROOT

GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
TRAINING = load_suite("quick").scenario("training")
"""The bundled designs' cost.sensitivity.coolant_scenario."""
HOT_SUPPLY = ("cooling.facility_supply_temp_c=47",)
"""GB200 throttles at +5 K from here, so the coolant swing is not flat."""


@pytest.fixture
def simulations(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every run simulated in this process (jobs=1), by its facility supply temperature, °C."""
    started: list[float] = []
    original = simulate.simulate

    def counted(request: RunRequest, loaded: LoadedDesign | None = None, *args: Any) -> RunOutput:
        loaded = loaded or request.load()
        started.append(loaded.design.cooling.facility_supply_temp_c)
        return original(request, loaded, *args)

    monkeypatch.setattr(simulate, "simulate", counted)
    return started


def metrics_of(run_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
    return loaded


def former_coolant_entry(request: RunRequest, scratch: Path) -> dict[str, Any]:
    """The coolant_temp entry as racksim computed it before the pipeline scheduled it: the request rerun at the
    supply ± the step from inside the run (with the reruns' own sensitivity switched off), each rerun priced."""
    design = request.load().design
    assert design.cost is not None
    supply_c, step_c = design.cooling.facility_supply_temp_c, design.cost.sensitivity.coolant_delta_temp_c
    stats = []
    for sign in (-1, 1):
        rerun = dataclasses.replace(request, sensitivity=False, overrides=(
            *request.overrides, f"cooling.facility_supply_temp_c={supply_c + sign * step_c!r}",
            "cost.sensitivity.coolant_delta_temp_c=0"))
        stats.append(run_stats(design, metrics_of(run_one(rerun, scratch / str(sign)))))
    return coolant_swing(design.cost, unit_counts(design), *stats).as_dict()


def test_a_plain_run_simulates_once_and_has_no_coolant_sensitivity(tmp_path: Path, simulations: list[float]) -> None:
    [run_dir] = run_many([RunRequest(GB200, TRAINING, overrides=HOT_SUPPLY)], tmp_path, jobs=1)
    assert simulations == [47.0]
    sensitivity = metrics_of(run_dir)["cost"]["sensitivity"]
    assert set(sensitivity) == {"energy_price", "gpu_price", "failure_rates"}
    assert json.loads((run_dir / "inputs.json").read_text())["coolant_sensitivity"] is False


@pytest.mark.slow
def test_sensitivity_runs_the_two_supplies_in_the_pool_with_the_former_numbers(tmp_path: Path,
                                                                                simulations: list[float]) -> None:
    request = RunRequest(GB200, TRAINING, overrides=HOT_SUPPLY, sensitivity=True)
    [run_dir] = run_many([request], tmp_path / "out", jobs=1)
    assert sorted(simulations) == [42.0, 47.0, 52.0]
    metrics = metrics_of(run_dir)
    assert metrics["cost"]["sensitivity"]["coolant_temp"] == former_coolant_entry(request, tmp_path / "former")
    plain = metrics_of(run_one(RunRequest(GB200, TRAINING, overrides=HOT_SUPPLY), tmp_path / "plain"))
    del metrics["cost"]["sensitivity"]["coolant_temp"]
    assert metrics == plain  # the rest of the metrics, to the last bit
    assert [path.relative_to(tmp_path / "out") for path in (tmp_path / "out").rglob(METRICS_FILE)] == [
        Path("gb200-nvl72/training/metrics.json")]  # the extra runs went to a scratch directory


@pytest.mark.slow
def test_sensitivity_reuses_a_plain_run_and_a_plain_run_is_never_taken_for_one(tmp_path: Path,
                                                                             simulations: list[float]) -> None:
    plain, sensitive = (RunRequest(GB200, TRAINING, duration_s=120.0, sensitivity=flag) for flag in (False, True))
    run_many([plain], tmp_path, jobs=1)
    [run_dir] = run_many([sensitive], tmp_path, jobs=1)
    assert sorted(simulations) == [25.0, 30.0, 35.0]  # the plain simulation was kept
    assert "coolant_temp" in metrics_of(run_dir)["cost"]["sensitivity"]
    assert sensitive.is_done(tmp_path, sensitive.load())
    assert not plain.is_done(tmp_path, plain.load())
    run_many([sensitive], tmp_path, jobs=1)
    assert len(simulations) == 3  # done: nothing simulated
    run_many([plain], tmp_path, jobs=1)
    assert len(simulations) == 4
    assert "coolant_temp" not in metrics_of(run_dir)["cost"]["sensitivity"]


@pytest.mark.slow
def test_replicas_with_sensitivity_average_each_seeds_coolant_swing(tmp_path: Path, simulations: list[float]) -> None:
    request = RunRequest(GB200, TRAINING, duration_s=120.0, replicas=2, sensitivity=True)
    [run_dir] = run_many([request], tmp_path, jobs=1)
    assert len(simulations) == 6
    metrics = metrics_of(run_dir)
    samples = json.loads((run_dir / "replicas.json").read_text())
    assert metrics["replicas"]["seeds"] == [TRAINING.seed, TRAINING.seed + 1]
    assert [sample["seed"] for sample in samples] == metrics["replicas"]["seeds"]
    for key in ("low_usd_per_work_unit", "high_usd_per_work_unit"):
        values = [sample["cost"]["sensitivity"]["coolant_temp"][key] for sample in samples]
        assert metrics["cost"]["sensitivity"]["coolant_temp"][key] == float(np.mean(values))


def test_the_time_series_is_parquet_with_units_and_run_metadata(tmp_path: Path) -> None:
    request = RunRequest(GB200, TRAINING, duration_s=60.0, seed=3)
    output = simulate.simulate(request)
    run_dir = write_run(tmp_path / "run", output)
    series = read_timeseries(run_dir)
    assert list(series) == list(output.series)
    assert all(name.endswith(UNIT_SUFFIXES) for name in series)
    for name, values in output.series.items():
        np.testing.assert_array_equal(series[name], values)
    assert read_timeseries_metadata(run_dir) == {"design": "gb200-nvl72", "scenario": "training", "seed": "3",
                                                 "version": output.metrics["racksim_version"], "duration_s": "60.0",
                                                 "design_hash": output.metrics["design_hash"]}
    with pytest.raises(ValueError, match="without a unit"):
        timeseries_bytes({"time_s": np.zeros(2), "power": np.zeros(2)}, {})


def test_simulate_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    output = simulate.simulate(RunRequest(GB200, TRAINING, duration_s=30.0))
    assert output.metrics["duration_s"] == 30.0
    assert list(tmp_path.iterdir()) == []


def test_writer_writes_metrics_last_and_a_failed_write_leaves_no_complete_run(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    output = simulate.simulate(RunRequest(GB200, TRAINING, duration_s=30.0))
    written: list[str] = []
    write_json, write_yaml = results.atomic_write_json, results.atomic_write_yaml
    monkeypatch.setattr(results, "atomic_write_json", lambda path, data: (written.append(path.name),
                                                                          write_json(path, data)))
    monkeypatch.setattr(results, "atomic_write_yaml", lambda path, data: (written.append(path.name),
                                                                          write_yaml(path, data)))
    run_dir = write_run(tmp_path, output)
    assert written[-1] == METRICS_FILE
    assert {"design.resolved.yaml", "events.json", "cabling.json", "provenance.json",
            "warnings.json", "inputs.json"} <= set(written[:-1])
    assert (run_dir / TIMESERIES_FILE).is_file()
    assert all(component_path(run_dir, part).is_file() for part in PARTS)

    def fail_on_events(path: Path, data: object) -> None:
        if path.name == "events.json":
            raise OSError("disk full")
        write_json(path, data)

    monkeypatch.setattr(results, "atomic_write_json", fail_on_events)
    with pytest.raises(OSError, match="disk full"):
        write_run(run_dir, output)
    assert not (run_dir / METRICS_FILE).exists()  # the earlier complete run no longer counts


def test_an_old_npz_results_directory_is_rerun_and_not_read(tmp_path: Path, simulations: list[float]) -> None:
    request = RunRequest(GB200, TRAINING, duration_s=30.0)
    [run_dir] = run_many([request], tmp_path, jobs=1)
    (run_dir / TIMESERIES_FILE).rename(run_dir / LEGACY_TIMESERIES_FILE)
    with pytest.raises(InputError, match=r"timeseries\.npz: .*old \.npz format; regenerate") as raised:
        read_timeseries(run_dir)
    assert "\n" not in str(raised.value)
    assert not request.is_done(tmp_path, request.load())
    run_many([request], tmp_path, jobs=1)
    assert len(simulations) == 2
    assert not (run_dir / LEGACY_TIMESERIES_FILE).exists()
    assert read_timeseries(run_dir)["time_s"][0] == 0.0


@pytest.mark.slow
def test_run_sensitivity_flag_and_compare_ask_for_the_coolant_runs(tmp_path: Path, simulations: list[float],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from racksim import cli

    arguments = [str(GB200), "--suite", "quick", "--scenario", "training", "--duration", "60", "-j", "1"]
    assert cli.main(["run", *arguments, "--out", str(tmp_path / "plain")]) == 0
    assert simulations == [30.0]
    assert cli.main(["run", *arguments, "--out", str(tmp_path / "plain"), "--sensitivity"]) == 0
    assert sorted(simulations) == [25.0, 30.0, 35.0]  # the plain run's simulation is kept
    sensitive = metrics_of(tmp_path / "plain" / "gb200-nvl72" / "training")
    monkeypatch.setattr("racksim.report.write_report", lambda *args, **kwargs: (Path("r.html"), Path("r.md")))
    assert cli.main(["compare", *arguments, "--out", str(tmp_path / "compared")]) == 0
    assert len(simulations) == 6
    assert metrics_of(tmp_path / "compared" / "gb200-nvl72" / "training") == sensitive
