"""The running feed statistics against the series-based functions they replace: exact on real runs and on random
piecewise-linear signals, however the rows are chunked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from racksim.design.suite import load_suite
from racksim.engine.feed_statistics import FeedStatistics, FeedSummary
from racksim.engine.recorder import SERIES_COLUMNS, TimeSeries
from racksim.physics.piecewise import max_ramp_w_per_s, time_weighted_percentile
from racksim.run.pipeline import RunRequest, run_one
from racksim.run.timeseries import read_timeseries
from tests.conftest import ROOT

RUNS = [("gb200-nvl72", "training"), ("gb300-nvl72", "checkpoint-swing"), ("vr-800vdc", "checkpoint-swing"),
        ("gb200-nvl72", "utility-sag")]
"""Steps only, storage ramping the feed (GB300's smoothing), Rubin's swing, a sag carried by BBUs."""


def series_figures(time_s: np.ndarray, feed_w: np.ndarray, feed_end_w: np.ndarray, unsmoothed_w: np.ndarray,
                   end_s: float, limit_w: float) -> dict[str, float]:
    """What the metrics computed from the event-level series before the running statistics."""
    durations_s = np.diff(np.append(time_s, end_s))
    return {"peak": float(max(feed_w.max(), feed_end_w.max())),
            "p99": time_weighted_percentile(feed_w, durations_s, 99.0, feed_end_w),
            "ramp": max_ramp_w_per_s(time_s, feed_w, end_power_w=feed_end_w),
            "ramp_unsmoothed": max_ramp_w_per_s(time_s, unsmoothed_w),
            "above": float(durations_s[feed_w > limit_w].sum())}


def running_figures(summary: FeedSummary, limit_w: float) -> dict[str, float]:
    return {"peak": summary.peak_w, "p99": summary.percentile_w(99.0), "ramp": summary.max_ramp_w_per_s,
            "ramp_unsmoothed": summary.max_ramp_w_per_s_unsmoothed, "above": summary.time_above_s(limit_w)}


def fed(time_s: np.ndarray, feed_w: np.ndarray, feed_end_w: np.ndarray, unsmoothed_w: np.ndarray,
        chunk_rows: int) -> FeedSummary:
    """The rows handed to FeedStatistics one final segment at a time, the last one ending the signal."""
    statistics = FeedStatistics(chunk_rows=chunk_rows)
    for i in range(time_s.size - 1):
        statistics.add_segment(float(time_s[i]), float(time_s[i + 1]), float(feed_w[i]), float(feed_end_w[i]),
                               float(unsmoothed_w[i]))
    return statistics.summary(float(time_s[-1]), float(feed_w[-1]), float(feed_end_w[-1]), float(unsmoothed_w[-1]))


@pytest.mark.slow
@pytest.mark.parametrize(("design", "scenario"), RUNS)
def test_metrics_of_real_runs_equal_the_series_functions(tmp_path: Path, design: str, scenario: str) -> None:
    request = RunRequest(ROOT / "designs" / f"{design}.yaml", load_suite("standard").scenario(scenario))
    run_dir = run_one(request, tmp_path)
    power = json.loads((run_dir / "metrics.json").read_text())["power"]
    columns = read_timeseries(run_dir)
    rows = (columns["time_s"], columns["feed_power_w"], columns["feed_power_end_w"], columns["feed_power_unsmoothed_w"])
    limit_w = request.load().design.power.feed.limit_w
    old = series_figures(*rows, request.run_duration_s, limit_w)
    assert power["input_power_w_p99"] == old["p99"]
    assert power["input_power_w_peak"] == pytest.approx(old["peak"], rel=1e-12)
    assert power["max_ramp_w_per_s"] == pytest.approx(old["ramp"], rel=1e-12)
    assert power["max_ramp_w_per_s_unsmoothed"] == pytest.approx(old["ramp_unsmoothed"], rel=1e-12)
    assert power["feed_limit_exceeded_s"] == pytest.approx(old["above"], rel=1e-12)
    assert old["ramp"] > 0
    # Chunks of a few rows, and limits the feed does cross (the design's own limit is rarely reached).
    for chunk_rows in (2, 5, 64):
        summary = fed(*rows, chunk_rows=chunk_rows)
        for limit_w in np.quantile(rows[1], [0.1, 0.5, 0.9]):
            old = series_figures(*rows, request.run_duration_s, limit_w)
            new = running_figures(summary, limit_w)
            assert new["p99"] == old["p99"]
            assert new == pytest.approx(old, rel=1e-12)
            assert old["above"] > 0 or limit_w == rows[1].max()


def test_the_replayed_series_gives_the_same_summary_at_any_resolution(tmp_path: Path) -> None:
    """Rows appended and segments closed in the engine's order (as a replayed cycle does): the same figures."""
    request = RunRequest(ROOT / "designs" / "gb300-nvl72.yaml", load_suite("standard").scenario("checkpoint-swing"))
    columns = read_timeseries(run_one(request, tmp_path))
    table = np.column_stack([columns[name] for name in SERIES_COLUMNS])
    summaries = []
    for resolution_s in (None, 60.0):
        series = TimeSeries(resolution_s=resolution_s)
        for row in table:
            series.append(tuple(row))
            series.close_segment(float(row[SERIES_COLUMNS.index("feed_power_end_w")]))
        summaries.append(series.feed_summary())
    events, binned = summaries
    assert (events.peak_w, events.max_ramp_w_per_s, events.max_ramp_w_per_s_unsmoothed, events.percentile_w(99.0)) \
        == (binned.peak_w, binned.max_ramp_w_per_s, binned.max_ramp_w_per_s_unsmoothed, binned.percentile_w(99.0))


LEVELS_W = st.sampled_from([0.0, 40e3, 95e3, 130e3]) | st.floats(0.0, 2e5, allow_subnormal=False)
"""A few operating points that recur, and arbitrary ones."""
GAPS_S = st.sampled_from([1e-3, 0.25, 0.5, 1.0, 1.0 + 1e-9, 3.0]) | st.floats(1e-4, 30.0)
"""Gaps around the 1 s ramp window: several rows inside one window, exactly one window apart, and long holds."""


@pytest.mark.slow
@settings(max_examples=200)
@given(data=st.data())
def test_running_statistics_of_random_signals(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 40))
    time_s = np.cumsum([0.0, *data.draw(st.lists(GAPS_S, min_size=n - 1, max_size=n - 1))])
    feed_w = np.array(data.draw(st.lists(LEVELS_W, min_size=n, max_size=n)))
    ramps = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    feed_end_w = np.where(ramps, data.draw(st.lists(LEVELS_W, min_size=n, max_size=n)), feed_w)
    unsmoothed_w = np.array(data.draw(st.lists(LEVELS_W, min_size=n, max_size=n)))
    limit_w = data.draw(LEVELS_W)
    summary = fed(time_s, feed_w, feed_end_w, unsmoothed_w, chunk_rows=data.draw(st.integers(2, 9)))
    old = series_figures(time_s, feed_w, feed_end_w, unsmoothed_w, float(time_s[-1]), limit_w)
    new = running_figures(summary, limit_w)
    assert (new["peak"], new["ramp"], new["ramp_unsmoothed"]) == (old["peak"], old["ramp"], old["ramp_unsmoothed"])
    assert new["above"] == pytest.approx(old["above"], rel=1e-12, abs=1e-12)
    if not any(ramps):  # the percentile is one of the levels
        assert new["p99"] == old["p99"]
    else:  # inside a ramp it moves with the rounding of the time sums (equal segments are merged): a few ulps
        assert new["p99"] == pytest.approx(old["p99"], rel=1e-12)
