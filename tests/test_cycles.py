"""Periodic cycle skipping: the skipped run equals the event-by-event run, bit for bit where the theory says so."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from racksim.design.suite import Fault
from racksim.engine import RunResult, Simulation
from racksim.engine.cycles import binade_end_s
from racksim.engine.recorder import Integrals
from racksim.physics.arrays import build
from racksim.reliability.consequences import failure_actions
from racksim.reliability.processes import Failure
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule
from racksim.workload.faults import fault_actions
from tests.cli import racksim

INTEGRAL_SUMS = Integrals.sums()
"""What a repeated cycle adds to (the extremes it leaves as they are)."""
ROOT = Path(__file__).resolve().parent.parent
GB200, GB300, VR = (ROOT / "designs" / f"{name}.yaml" for name in ("gb200-nvl72", "gb300-nvl72", "vr-800vdc"))
TRAINING = TrainingSchedule(compute_s=8.0, communication_s=2.0, checkpoint_every_steps=5, checkpoint_s=15.0)
"""65 s cycles: five 10 s steps and a 15 s checkpoint."""


def run(path: Path, duration_s: float, skip_cycles: bool, faults: tuple[Fault, ...] = (),
        schedule: TrainingSchedule = TRAINING, racks: int = 1, failures: tuple[Failure, ...] = ()) -> RunResult:
    arrays = build(load_design(path).design, racks)
    actions = sorted(fault_actions(list(faults), arrays) + failure_actions(list(failures), arrays),
                     key=lambda action: action.time_s)
    return Simulation(arrays, schedule.phases, duration_s, faults=actions, skip_cycles=skip_cycles).run()


def assert_same_run(skipped: RunResult, simulated: RunResult, exact: bool = True) -> None:
    """Events, work and counts identical; series identical (`exact`) or equal to rounding; sums equal to rounding."""
    assert skipped.events == simulated.events
    assert (skipped.event_count, skipped.work_units, skipped.work_lost_units, skipped.interruptions) == \
        (simulated.event_count, simulated.work_units, simulated.work_lost_units, simulated.interruptions)
    assert skipped.series.keys() == simulated.series.keys()
    for name, column in simulated.series.items():
        if exact:
            assert np.array_equal(skipped.series[name], column), name
        else:
            np.testing.assert_allclose(skipped.series[name], column, rtol=1e-10, err_msg=name)
    scale_j = simulated.integrals.input_energy_j  # the net storage energy is a small difference of large ones
    for name in INTEGRAL_SUMS:
        got, want = getattr(skipped.integrals, name), getattr(simulated.integrals, name)
        for key in want if isinstance(want, dict) else [None]:
            a, b = (got[key], want[key]) if key is not None else (got, want)
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * scale_j if name.endswith("_j") else 1e-9,
                                       err_msg=f"{name} {key or ''}")
    for field in fields(simulated.integrals):
        if field.name not in INTEGRAL_SUMS:  # extremes and layout
            got, want = getattr(skipped.integrals, field.name), getattr(simulated.integrals, field.name)
            if exact or not np.issubdtype(np.asarray(want).dtype, np.floating):
                assert np.array_equal(got, want), field.name
            else:
                np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=field.name)
    assert skipped.phase_time_s == pytest.approx(simulated.phase_time_s, rel=1e-10)
    assert (skipped.stall_s, skipped.collective_s) == pytest.approx((simulated.stall_s, simulated.collective_s),
                                                                    rel=1e-10, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("path", [GB200, VR], ids=lambda path: path.stem)
def test_skipped_cycles_give_the_event_by_event_run(path: Path) -> None:
    skipped, simulated = run(path, 3 * 3600.0, True), run(path, 3 * 3600.0, False)
    # 166 cycles in 3 h; binades of 2^10 .. 2^14 s hold 15, 31, 63 and 56 of them, each needing two to detect.
    assert skipped.cycles_skipped > 100
    assert simulated.cycles_skipped == 0
    assert_same_run(skipped, simulated)


@pytest.mark.slow
def test_a_fault_bounds_the_jump_and_is_simulated_in_full() -> None:
    faults = (Fault(kind="pump_failure", at_s=5000.0, count=2, duration_s=600.0),)
    skipped, simulated = run(GB200, 3 * 3600.0, True, faults), run(GB200, 3 * 3600.0, False, faults)
    assert skipped.cycles_skipped > 50
    assert any(event.kind == "throttle" for event in simulated.events)  # the fault changes the cycle
    assert_same_run(skipped, simulated)


@pytest.mark.slow
def test_an_interrupted_job_restarts_and_skips_again() -> None:
    failures = (Failure(3000.0, "host", 3, 3300.0),)
    skipped = run(GB200, 2 * 3600.0, True, failures=failures)
    simulated = run(GB200, 2 * 3600.0, False, failures=failures)
    assert simulated.interruptions == 1
    assert skipped.cycles_skipped > 0
    assert_same_run(skipped, simulated)


def test_a_hall_skips_like_a_rack() -> None:
    skipped, simulated = run(GB200, 2400.0, True, racks=3), run(GB200, 2400.0, False, racks=3)
    assert skipped.cycles_skipped > 0
    assert_same_run(skipped, simulated)


@pytest.mark.slow
def test_a_store_that_wanders_in_its_last_bits_skips_within_rounding() -> None:
    """GB300's smoothing store stops recovering within a dead band: its charge wanders by ulps, never repeating."""
    skipped, simulated = run(GB300, 4 * 3600.0, True), run(GB300, 4 * 3600.0, False)
    assert skipped.cycles_skipped > 50
    assert_same_run(skipped, simulated, exact=False)


def test_no_cycle_without_checkpoints_is_a_step() -> None:
    steady = TrainingSchedule(compute_s=8.0, communication_s=2.0, checkpoint_every_steps=5, checkpoint_s=0.0)
    skipped, simulated = run(GB200, 3600.0, True, schedule=steady), run(GB200, 3600.0, False, schedule=steady)
    assert skipped.cycles_skipped > 200
    assert_same_run(skipped, simulated, exact=False)


def test_binade_end() -> None:
    assert binade_end_s(3000.0) == 4096.0
    assert binade_end_s(4096.0) == 8192.0
    assert binade_end_s(0.7) == 1.0


@given(st.integers(10, 20), st.floats(0.0, 1.0), st.floats(1e-3, 100.0), st.integers(1, 1000))
def test_a_shift_by_a_multiple_of_the_spacing_rounds_alike(exponent: int, position: float, delay_s: float,
                                                            period_ulps: int) -> None:
    """The premise: within one binade, (t + P) + d = (t + d) + P exactly, for P a multiple of the spacing."""
    start = math.ldexp(1.0, exponent)
    spacing = math.ulp(start)
    time_s = start + math.floor(position * start / 4 / spacing) * spacing
    period_s = period_ulps * math.floor(start / 8 / period_ulps / spacing) * spacing
    if (time_s + period_s) + delay_s >= 2 * start:
        return
    assert (time_s + period_s) + delay_s == (time_s + delay_s) + period_s


@pytest.mark.slow
def test_the_cli_skips_cycles_unless_told_every_event(tmp_path: Path) -> None:
    runs = {}
    for name, extra in (("skipped", []), ("every-event", ["--every-event"])):
        done = racksim("run", str(GB200), "--suite", "quick", "--scenario", "training", "--duration", "30m",
                       "--out", str(tmp_path / name), *extra)
        assert done.returncode == 0, done.stderr
        run_dir = tmp_path / name / "gb200-nvl72" / "training"
        runs[name] = tuple(json.loads((run_dir / file).read_text()) for file in ("metrics.json", "inputs.json"))
    (skipped, skipped_inputs), (every, every_inputs) = runs["skipped"], runs["every-event"]
    assert skipped["engine"]["cycles_skipped"] > 5  # 17 of the 31 cycles of 57 s (10 predicted steps, a checkpoint)
    assert every["engine"]["cycles_skipped"] == 0
    assert skipped_inputs["fingerprint"] != every_inputs["fingerprint"]  # a later run never takes one for the other
    assert skipped["engine"]["event_count"] == every["engine"]["event_count"]
    for group in ("power", "thermal", "performance"):
        for name, value in every[group].items():
            if isinstance(value, float):
                assert skipped[group][name] == pytest.approx(value, rel=1e-9, abs=1e-6), f"{group}.{name}"
    for name in ("input_power_w_peak", "input_power_w_p99", "max_ramp_w_per_s", "gpu_temp_c_max"):
        group = "thermal" if name.startswith("gpu") else "power"
        assert skipped[group][name] == every[group][name], name  # from identical series: exactly equal
