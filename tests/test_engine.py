"""The hybrid engine: conservation, determinism, closed form against a fixed-step reference, throttling."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest

from racksim.design.suite import load_suite
from racksim.engine import Simulation
from racksim.physics.arrays import build
from racksim.physics.operating_point import Activity, OperatingPoint, PointCache, evaluate
from racksim.physics.plant import PlantState
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule, schedule_for
from tests.oracles import EulerSimulation

ROOT = Path(__file__).resolve().parent.parent
GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
GB300 = ROOT / "designs" / "gb300-nvl72.yaml"
SCHEDULE = TrainingSchedule(compute_s=8.0, communication_s=2.0, checkpoint_every_steps=5, checkpoint_s=15.0)
HOT = ["cooling.facility_supply_temp_c=38"]  # drives the GB300 GPUs over their throttle limit


def simulate(path: Path, duration_s: float, overrides: list[str] = (), euler_step_s: float | None = None) -> Simulation:
    """Run `path` through the test workload and return the finished simulation (stepped: the Euler oracle)."""
    arrays = build(load_design(path, overrides).design)
    simulation = Simulation(arrays, SCHEDULE.phases(), duration_s) if euler_step_s is None else \
        EulerSimulation(arrays, SCHEDULE.phases(), duration_s, step_s=euler_step_s)
    simulation.result = simulation.run()
    return simulation


@pytest.mark.parametrize("path", sorted((ROOT / "designs").glob("*.yaml")), ids=lambda p: p.stem)
def test_energy_and_heat_balance_close(path: Path) -> None:
    integrals = simulate(path, 200.0).result.integrals
    supplied = integrals.input_energy_j + integrals.storage_net_energy_j
    assert integrals.it_energy_j + sum(integrals.loss_energy_j.values()) == pytest.approx(supplied, rel=1e-9)
    heat = integrals.heat_to_liquid_j + integrals.heat_to_air_j + integrals.heat_stored_j
    assert heat == pytest.approx(supplied, rel=1e-9)
    conversion = {name: loss for name, loss in integrals.loss_energy_j.items() if name not in ("bbu", "smoothing")}
    assert all(loss > 0 for loss in conversion.values())
    assert min(integrals.loss_energy_j.values()) >= 0  # storage loses only when it is used


def test_same_inputs_give_identical_results() -> None:
    first, second = simulate(GB300, 150.0, HOT).result, simulate(GB300, 150.0, HOT).result
    for field in fields(first.integrals):
        a, b = getattr(first.integrals, field.name), getattr(second.integrals, field.name)
        assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, field.name
    for name, column in first.series.items():
        assert np.array_equal(column, second.series[name]), name
    assert first.work_units == second.work_units


def test_work_matches_the_nominal_schedule_without_throttling() -> None:
    simulation = simulate(GB200, 400.0)
    assert simulation.result.integrals.throttled_gpu_seconds == 0
    # 5 steps of 10 s + 15 s checkpoint = 65 s cycles: 6 cycles (390 s) = 30 steps, then 1 more by 400 s.
    assert SCHEDULE.nominal_steps(400.0) == 31
    assert simulation.result.work_units == 31


def test_throttling_starts_exactly_at_the_threshold_and_costs_work() -> None:
    simulation = simulate(GB300, 400.0, HOT)
    series = simulation.result.series
    first = int(np.argmax(series["throttled_gpu_fraction"] > 0))
    assert first > 0, "the hot scenario should throttle"
    assert series["gpu_temp_c_max"][first] == pytest.approx(87.0, abs=1e-6)
    assert simulation.result.integrals.throttled_gpu_seconds > 0
    assert simulation.result.work_units < SCHEDULE.nominal_steps(400.0)
    # Hysteresis: no GPU ever runs hotter than the limit by more than numerical noise.
    assert series["gpu_temp_c_max"].max() <= 87.0 + 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("duration_s", [37.0, 90.0, 160.0])
def test_closed_form_agrees_with_fixed_step_integration(duration_s: float) -> None:
    closed = simulate(GB300, duration_s, HOT)
    stepped = simulate(GB300, duration_s, HOT, euler_step_s=0.002)
    assert np.max(np.abs(closed.state.temp_c - stepped.state.temp_c)) < 0.1
    assert closed.result.integrals.gpu_temp_c_max == pytest.approx(stepped.result.integrals.gpu_temp_c_max, abs=0.1)
    assert closed.result.integrals.throttled_gpu_seconds == pytest.approx(
        stepped.result.integrals.throttled_gpu_seconds, rel=0.02, abs=1.0)


def test_cost_grows_with_events_not_with_simulated_time() -> None:
    design = load_design(GB200).design
    schedule = schedule_for(load_suite("quick").scenario("training").workload, design)
    short = Simulation(build(design), schedule.phases(), 600.0)
    long = Simulation(build(design), schedule.phases(), 6000.0)
    short.run()
    long.run()
    # Ten times the time, ten times the phases: events scale with phases, not with seconds.
    assert long.state.event_count <= 10 * short.state.event_count + 10
    # Events are the phase boundaries and a few threshold crossings, whatever the phases' lengths.
    cycle_s = schedule.checkpoint_every_steps * schedule.step_s + schedule.checkpoint_s
    phases_per_cycle = schedule.checkpoint_every_steps * len(schedule.step) + 1
    assert long.state.event_count < 1.1 * 6000.0 / cycle_s * phases_per_cycle


@pytest.mark.parametrize("field", [f.name for f in fields(PlantState)])
def test_the_operating_point_cache_keys_on_everything_evaluate_reads(field: str) -> None:
    """Change one plant field: if the operating point changes, so must the cache key (else a stale hit)."""
    arrays = build(load_design(ROOT / "designs" / "gb300-nvl72.yaml").design, 2)
    base = PlantState.nominal(arrays)
    base.loop_temp_c = base.loop_temp_c + 1.0  # off its nominal value, so nudges in any direction show
    base.gpu_cap_w = np.full(arrays.n_racks, 1000.0)
    value = getattr(base, field)
    changed = ~value if value.dtype == bool else np.where(np.arange(value.size).reshape(value.shape) % 2,
                                                          value, value + 1)
    nudged = replace(base, **{field: changed})
    activity = Activity(0.8, 0.3, 0.5)
    throttled = np.zeros(arrays.chips.is_gpu.size, dtype=bool)
    before, after = evaluate(arrays, activity, throttled, base), evaluate(arrays, activity, throttled, nudged)
    same_point = all(np.array_equal(getattr(before, f.name), getattr(after, f.name), equal_nan=True)
                     for f in fields(OperatingPoint) if f.name != "loss_w_by_stage")
    if not same_point:
        assert PointCache.key(activity, throttled, base) != PointCache.key(activity, throttled, nudged)
    assert PointCache(arrays)(activity, throttled, nudged) is not None
