"""Metrics from a run: hand-checked percentiles and ramps, and the DESIGN.md contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from racksim.design.suite import load_suite
from racksim.perf import predict_training
from racksim.physics.piecewise import max_ramp_w_per_s, time_weighted_percentile
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule, schedule_for

ROOT = Path(__file__).resolve().parent.parent


def test_time_weighted_percentile_by_hand() -> None:
    # 100 kW for 98 s, 150 kW for 2 s: the 99th percentile of time lies in the 150 kW stretch,
    # the 90th in the 100 kW one.
    values = np.array([100e3, 150e3])
    durations = np.array([98.0, 2.0])
    assert time_weighted_percentile(values, durations, 99.0) == 150e3
    assert time_weighted_percentile(values, durations, 90.0) == 100e3


def test_ramp_of_isolated_steps_is_the_step_over_the_window() -> None:
    # Steps of +60 kW at t=10 s and -20 kW at t=20 s; over a 1 s window each gives |ΔP| / 1 s.
    time_s = np.array([0.0, 10.0, 20.0, 30.0])
    power_w = np.array([40e3, 100e3, 80e3, 80e3])
    assert max_ramp_w_per_s(time_s, power_w) == pytest.approx(60e3)


def test_ramp_of_steps_inside_one_window_adds_them() -> None:
    # +30 kW at 10.0 s and +30 kW at 10.5 s: the 1 s average rises by 60 kW within one window.
    time_s = np.array([0.0, 10.0, 10.5, 20.0])
    power_w = np.array([0.0, 30e3, 60e3, 60e3])
    assert max_ramp_w_per_s(time_s, power_w) == pytest.approx(60e3)
    assert max_ramp_w_per_s(time_s, power_w, window_s=0.25) == pytest.approx(30e3 / 0.25)


def test_flat_power_has_no_ramp() -> None:
    assert max_ramp_w_per_s(np.array([0.0, 5.0]), np.array([7.0, 7.0])) == 0.0


def test_nominal_steps_by_hand() -> None:
    schedule = TrainingSchedule(compute_s=8, communication_s=2, checkpoint_every_steps=10, checkpoint_s=30)
    # cycle = 10 × 10 s + 30 s = 130 s. 300 s = 2 cycles (260 s, 20 steps) + 40 s (4 steps) = 24.
    assert schedule.nominal_steps(300.0) == 24
    # 125 s: one cycle not finished, the 10 steps are done by 100 s and the checkpoint is under way.
    assert schedule.nominal_steps(125.0) == 10
    assert schedule.nominal_steps(9.99) == 0


def test_step_times_follow_each_designs_predicted_step() -> None:
    """The quick suite's training step is racksim.perf's prediction on each design, not a typed-in MFU."""
    workload = load_suite("quick").scenario("training").workload
    steps = {}
    for name in ("gb200-nvl72", "vr-800vdc"):
        design = load_design(ROOT / "designs" / f"{name}.yaml").design
        schedule = schedule_for(workload, design)
        assert isinstance(schedule, TrainingSchedule)
        predicted = predict_training(design, "llama3-70b", 72, 144, 8192, precision="fp8")
        assert schedule.step_s == pytest.approx(predicted.step.step_time_s, rel=1e-12)
        assert schedule.predicted["mfu"] == pytest.approx(predicted.step.mfu, rel=1e-12)
        steps[name] = schedule.step_s
    # Rubin's FP8 peak is 3.33x GB200's (16.7 vs 5 PFLOP/s dense); HBM and communication keep the step from
    # shrinking by the whole peak ratio.
    assert 2.0 < steps["gb200-nvl72"] / steps["vr-800vdc"] < 16.67 / 5.0 * 1.2
