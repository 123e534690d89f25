"""Results as tables: `racksim.results.open` on a real compare (the session's quick_compare), pandas opening a time
series with units in its columns, `racksim export` round trips in Parquet and CSV, and one-line errors for a
directory that holds no results or results in the format before Parquet. The tests on the compare are marked slow
for it (the compare takes minutes once per session)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import racksim
from racksim.errors import InputError
from racksim.results import PARTS, Results
from racksim.run.timeseries import UNIT_SUFFIXES
from tests.cli import racksim as run_cli
from tests.conftest import Compared


@pytest.fixture(scope="module")
def results(quick_compare: Compared) -> Results:
    return racksim.results.open(quick_compare.out)


@pytest.mark.slow
def test_metrics_have_a_row_per_run_with_flattened_names(results: Results, quick_compare: Compared) -> None:
    files = sorted(quick_compare.out.rglob("metrics.json"))
    assert len(results.metrics) == len(files) > 2
    assert not results.metrics.duplicated(["design", "scenario"]).any()
    assert {"gb200-nvl72", "gb300-nvl72"} == set(results.metrics["design"])
    row = results.metrics.iloc[0]
    stored = json.loads((quick_compare.out / row["run"] / "metrics.json").read_text())
    assert row["seed"] == stored["seed"]
    assert row["racksim_version"] == stored["racksim_version"] == racksim.__version__
    assert row["power.input_energy_j"] == stored["power"]["input_energy_j"]
    busbar = row["power.loss_energy_j_by_stage.busbar"]
    assert busbar == stored["power"]["loss_energy_j_by_stage"]["busbar"]
    assert row["point"] is None


@pytest.mark.slow
def test_a_time_series_opens_in_pandas_with_units_and_run_metadata(results: Results,
                                                                   quick_compare: Compared) -> None:
    path = results.run_dir("gb300-nvl72", "training") / "timeseries.parquet"
    frame = pd.read_parquet(path)
    assert len(frame) > 2
    assert {"time_s", "feed_power_w", "gpu_temp_c_max", "throttled_gpu_fraction"} <= set(frame.columns)
    assert all(name.endswith(UNIT_SUFFIXES) for name in frame.columns)
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    metadata = pq.read_schema(path).metadata
    assert metadata[b"racksim.design"] == b"gb300-nvl72"
    assert metadata[b"racksim.scenario"] == b"training"
    assert metadata[b"racksim.version"] == racksim.__version__.encode()
    pd.testing.assert_frame_equal(results.timeseries("gb300-nvl72", "training"), frame)
    row = results.metrics.set_index(["design", "scenario"]).loc[("gb300-nvl72", "training")]
    assert metadata[b"racksim.seed"] == str(row["seed"]).encode()
    # the energy in the table's metric is the integral of the series' feed power (trapezoids between rows)
    assert np.trapezoid(frame["feed_power_w"], frame["time_s"]) == pytest.approx(row["power.input_energy_j"],
                                                                                 rel=0.02)


@pytest.mark.slow
def test_components_and_events_are_one_table_across_runs(results: Results, quick_compare: Compared) -> None:
    assert set(results.components) == set(PARTS)
    chips = results.components["chips"]
    assert list(chips.columns[:4]) == ["run", "point", "design", "scenario"]
    per_run = chips[chips["kind"] == "gpu"].groupby("run").size()
    assert set(per_run) == {72}  # an NVL72 rack in every run
    hottest = chips[chips["kind"] == "gpu"].groupby("run")["temp_c_max"].max()
    expected = results.metrics.set_index("run")["thermal.gpu_temp_c_max"]
    np.testing.assert_allclose(hottest.sort_index(), expected.loc[hottest.index].sort_index())
    logged = sum(len(json.loads((quick_compare.out / run / "events.json").read_text()))
                 for run in results.metrics["run"])
    assert len(results.events) == logged > 0
    assert set(results.events["run"]) <= set(results.metrics["run"])
    assert list(results.events.columns) == ["run", "point", "design", "scenario", "time_s", "kind", "detail"]


@pytest.mark.slow
def test_export_round_trips_in_parquet_and_csv(quick_compare: Compared, tmp_path: Path) -> None:
    for design in ("gb200-nvl72", "gb300-nvl72"):  # two runs of the compare: enough, and quick to write
        shutil.copytree(quick_compare.out / design / "training", tmp_path / "runs" / design / "training")
    results = racksim.results.open(tmp_path / "runs")
    for fmt in ("parquet", "csv"):
        done = run_cli("export", str(results.directory), "--format", fmt, "--out", str(tmp_path / fmt))
        assert done.returncode == 0, done.stderr
        written = [Path(line) for line in done.stdout.splitlines()]
        assert all(path.is_file() and path.suffix == f".{fmt}" for path in written)
        read = pd.read_parquet if fmt == "parquet" else pd.read_csv
        metrics = read(tmp_path / fmt / f"metrics.{fmt}")
        assert list(metrics.columns) == list(results.metrics.columns)
        numeric = results.metrics.select_dtypes("number").columns
        np.testing.assert_allclose(metrics[numeric].to_numpy(float), results.metrics[numeric].to_numpy(float))
        assert list(metrics["run"]) == list(results.metrics["run"])
        assert len(read(tmp_path / fmt / "components" / f"chips.{fmt}")) == len(results.components["chips"])
        assert len(read(tmp_path / fmt / f"events.{fmt}")) == len(results.events)
        series = read(tmp_path / fmt / "timeseries" / "gb200-nvl72" / f"training.{fmt}")
        pd.testing.assert_frame_equal(series, results.timeseries("gb200-nvl72", "training"), check_exact=False)
    assert pq.read_schema(tmp_path / "parquet" / "timeseries" / "gb200-nvl72" / "training.parquet").metadata[
        b"racksim.design"] == b"gb200-nvl72"  # the Parquet time series keeps its run metadata


def _one_line_error(args: list[str], expected: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("racksim: error: ")
    assert done.stderr.count("\n") == 1
    assert expected in done.stderr
    assert done.stdout == ""


def test_bad_results_directories_are_one_line_errors(tmp_path: Path) -> None:
    out = str(tmp_path / "tables")
    _one_line_error(["export", str(tmp_path / "missing"), "--out", out], "not a results directory")
    _one_line_error(["export", str(tmp_path), "--out", out], "no runs found")
    old = tmp_path / "old" / "gb200-nvl72" / "training"
    old.mkdir(parents=True)
    (old / "metrics.json").write_text(json.dumps({"design": "gb200-nvl72", "scenario": "training"}))
    (old / "timeseries.npz").write_bytes(b"PK")
    _one_line_error(["export", str(tmp_path / "old"), "--out", out], "timeseries.npz: results in the format "
                    "before Parquet; rerun with this racksim version")
    _one_line_error(["export", str(tmp_path / "old"), "--format", "xlsx", "--out", out],
                    "--format: xlsx: expected one of parquet, csv")
    assert not (tmp_path / "tables").exists()


@pytest.mark.slow
def test_a_missing_run_is_a_one_line_error_naming_the_runs(results: Results) -> None:
    with pytest.raises(InputError, match=r"gb100/training: no run; the runs are gb200-nvl72/"):
        results.timeseries("gb100", "training")
