"""The time series at a resolution: bounded rows, the feed energy of the event-level series kept exactly, extremes
kept, means time-weighted; without a resolution, one row per event as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from racksim.design.suite import load_suite
from racksim.engine import Simulation
from racksim.engine.recorder import SERIES_COLUMNS, TimeSeries
from racksim.physics.arrays import build
from racksim.run.loading import load_design
from racksim.run.pipeline import RunRequest, run_one
from racksim.run.timeseries import read_timeseries
from racksim.workload import schedule_for
from tests.conftest import ROOT

FEED, FEED_END = SERIES_COLUMNS.index("feed_power_w"), SERIES_COLUMNS.index("feed_power_end_w")


def row(time_s: float, feed_w: float, temp_c: float = 50.0, flow: float = 1.0, work: float = 0.0) -> tuple:
    values = dict.fromkeys(SERIES_COLUMNS, 0.0)
    values.update(time_s=time_s, feed_power_w=feed_w, feed_power_end_w=feed_w, gpu_temp_c_max=temp_c,
                  gpu_temp_c_mean=temp_c, coolant_flow_fraction=flow, work_units=work)
    return tuple(values[name] for name in SERIES_COLUMNS)


def feed_energy_j(columns: dict[str, np.ndarray], end_s: float) -> float:
    durations_s = np.diff(np.append(columns["time_s"], end_s))
    return float((0.5 * (columns["feed_power_w"] + columns["feed_power_end_w"]) * durations_s).sum())


def test_bins_by_hand() -> None:
    series = TimeSeries(resolution_s=10.0)
    series.append(row(0.0, 100.0, temp_c=40.0))
    series.append(row(4.0, 200.0, temp_c=60.0, flow=0.5, work=1.0))
    series.close_segment(400.0)  # 200 W rising linearly to 400 W over [4, 16)
    series.append(row(16.0, 100.0, temp_c=45.0, work=2.0))
    series.append(row(25.0, 100.0, temp_c=45.0, work=3.0))
    columns = series.columns()
    assert columns["time_s"].tolist() == [0.0, 10.0, 20.0, 25.0]
    # [0, 10): 4 s at 100 W, then 6 s from 200 W to 300 W (mean 250 W): (400 + 1500) / 10
    assert columns["feed_power_w"][0] == pytest.approx(190.0)
    # [10, 20): 6 s from 300 W to 400 W (mean 350 W), 4 s at 100 W
    assert columns["feed_power_w"][1] == pytest.approx(250.0)
    assert columns["feed_power_end_w"][:3].tolist() == columns["feed_power_w"][:3].tolist()
    assert columns["gpu_temp_c_max"].tolist() == [60.0, 60.0, 45.0, 45.0]  # the hottest sample of each bin
    assert columns["gpu_temp_c_mean"][0] == pytest.approx((4 * 40.0 + 6 * 60.0) / 10)
    assert columns["coolant_flow_fraction"].tolist() == [0.5, 0.5, 1.0, 1.0]  # the lowest
    assert columns["work_units"].tolist() == [1.0, 2.0, 2.0, 3.0]  # the last value
    assert feed_energy_j(columns, 30.0) == pytest.approx(4 * 100 + 12 * 300 + 14 * 100)


def test_no_resolution_keeps_one_row_per_event() -> None:
    series = TimeSeries()
    for time_s in (0.0, 1.0, 1.0, 2.5):
        series.append(row(time_s, 100.0 + time_s))
    assert series.columns()["time_s"].tolist() == [0.0, 1.0, 2.5]  # a row at the same time replaces the last
    with pytest.raises(ValueError, match="positive"):
        TimeSeries(resolution_s=0.0)


@pytest.mark.parametrize("resolution_s", [0.5, 60.0, 900.0])
def test_a_real_run_replayed_at_a_resolution(resolution_s: float) -> None:
    """The event rows of a checkpoint-swing run (storage ramps the feed) fed through a resolution."""
    design = load_design(ROOT / "designs" / "gb300-nvl72.yaml").design
    workload = load_suite("quick").scenario("checkpoint-swing").workload
    duration_s = 1200.0
    events = Simulation(build(design), schedule_for(workload, design).phases, duration_s).run().series
    binned = TimeSeries(resolution_s=resolution_s)
    for values in np.column_stack([events[name] for name in SERIES_COLUMNS]):
        binned.append(tuple(values))
        binned.close_segment(float(values[FEED_END]))
    columns = binned.columns()
    assert columns["time_s"].size <= duration_s / resolution_s + 2
    assert feed_energy_j(columns, duration_s) == pytest.approx(feed_energy_j(events, duration_s), rel=1e-12)
    assert columns["gpu_temp_c_max"].max() == events["gpu_temp_c_max"].max()
    assert columns["work_units"][-1] == events["work_units"][-1]
    assert columns["feed_power_w"].max() <= events["feed_power_w"].max()  # means of the bins
    assert np.all(np.diff(columns["time_s"]) > 0)


@pytest.mark.slow
def test_a_day_at_a_resolution_has_the_metrics_of_the_event_level_day(tmp_path: Path) -> None:
    """The standard reliability month's workload (with its failures) for a day: per event, 60 s and 300 s rows."""
    scenario = load_suite("standard").scenario("reliability-month").model_copy(update={"timeseries_resolution_s": None})
    metrics, series = {}, {}
    for resolution_s in (None, 60.0, 300.0):
        request = RunRequest(ROOT / "designs" / "gb200-nvl72.yaml", scenario, duration_s=86400.0,
                             timeseries_resolution_s=resolution_s)
        run_dir = run_one(request, tmp_path / str(resolution_s))
        metrics[resolution_s] = json.loads((run_dir / "metrics.json").read_text())
        columns = read_timeseries(run_dir)
        series[resolution_s] = {name: columns[name] for name in SERIES_COLUMNS}
    events, binned = metrics[None], metrics[60.0]
    for name in ("input_energy_j", "it_energy_j", "loss_energy_j", "storage_net_energy_j"):
        assert binned["power"][name] == pytest.approx(events["power"][name], rel=1e-9, abs=1e-9)
    for name in ("input_power_w_peak", "input_power_w_p99", "max_ramp_w_per_s", "max_ramp_w_per_s_unsmoothed"):
        assert binned["power"][name] == events["power"][name]
    assert binned == events == metrics[300.0]  # nothing in metrics.json reads the time series
    assert events["reliability"]["failures"] > 0
    assert series[None]["time_s"].size > 24 * 12 + 2
    assert series[300.0]["time_s"].size <= 24 * 12 + 2
    assert series[60.0]["time_s"].size <= 24 * 60 + 2
    for columns in series.values():  # the binned series still carries the feed energy
        assert feed_energy_j(columns, 86400.0) == pytest.approx(events["power"]["input_energy_j"], rel=1e-9)


def test_the_binned_series_ends_on_its_last_bin_not_an_instant() -> None:
    series = TimeSeries(resolution_s=10.0)
    series.append(row(0.0, 100.0, temp_c=40.0))
    series.append(row(6.0, 200.0, temp_c=60.0, work=1.0))
    series.append(row(20.0, 500.0, temp_c=70.0, work=2.0))  # the end of the run: an instant, no segment
    columns = series.columns()
    assert columns["time_s"].tolist() == [0.0, 10.0, 20.0]
    assert columns["feed_power_w"].tolist() == pytest.approx([140.0, 200.0, 200.0])  # held to the end, no spike
    assert columns["gpu_temp_c_max"].tolist() == [60.0, 60.0, 70.0]
    assert columns["work_units"].tolist() == [1.0, 1.0, 2.0]
