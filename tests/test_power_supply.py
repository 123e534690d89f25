"""PSU failures: load sharing among the healthy units, the capping controller, and trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from racksim.design.suite import Fault
from racksim.engine import Simulation
from racksim.physics.arrays import build
from racksim.physics.operating_point import Activity, evaluate
from racksim.physics.plant import PlantState
from racksim.physics.power import interpolated_efficiency
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule
from racksim.workload.faults import fault_actions

ROOT = Path(__file__).resolve().parent.parent
GB200, GB300 = ROOT / "designs" / "gb200-nvl72.yaml", ROOT / "designs" / "gb300-nvl72.yaml"
TRAINING = TrainingSchedule(compute_s=8.0, communication_s=2.0, checkpoint_every_steps=4, checkpoint_s=10.0)
FULL = Activity(1.0, 1.0, 1.0)


def run(path: Path, duration_s: float, faults: list[Fault], overrides: tuple[str, ...] = ()) -> Simulation:
    arrays = build(load_design(path, overrides).design)
    simulation = Simulation(arrays, TRAINING.phases(), duration_s, faults=fault_actions(faults, arrays))
    simulation.result = simulation.run()
    return simulation


def test_losing_psus_shares_the_same_output_among_fewer_units() -> None:
    arrays = build(load_design(GB200).design)
    plant = PlantState.nominal(arrays)
    throttled = np.zeros(arrays.chips.is_gpu.size, dtype=bool)
    all_units = evaluate(arrays, FULL, throttled, plant)
    plant.psus_lost = np.array([24.0])
    half = evaluate(arrays, FULL, throttled, plant)
    output_w = float(half.shelf_output_w[0])
    # Same IT load; only the fans speed up a little to carry the PSUs' extra loss out in the air.
    assert half.it_w[0] - half.fan_power_w[0] == pytest.approx(all_units.it_w[0] - all_units.fan_power_w[0])
    # Each of 24 PSUs now carries x = P / (24 · 5500 W); loss = P/η(x) − P on the 80 PLUS Titanium proxy curve.
    load_fraction = output_w / (24 * 5500)
    efficiency = float(interpolated_efficiency(load_fraction, [0.1, 0.2, 0.5, 1.0], [0.90, 0.94, 0.96, 0.91]))
    assert half.loss_w_by_stage["psu"][0] == pytest.approx(output_w / efficiency - output_w, rel=1e-9)
    assert half.shelf_capacity_w[0] == 24 * 5500


def test_n_plus_n_rides_through_the_loss_of_a_feed() -> None:
    simulation = run(GB200, 200.0, [Fault(kind="psu_failure", at_s=50, count=24, duration_s=100)])
    assert simulation.result.trips == 0
    assert simulation.result.integrals.capped_gpu_seconds == 0
    assert "cap" not in [event.kind for event in simulation.result.events]


def test_controller_caps_gpus_to_fit_the_remaining_psus() -> None:
    simulation = run(GB300, 200.0, [Fault(kind="psu_failure", at_s=50, count=24, duration_s=100)])
    events = [(round(event.time_s, 6), event.kind) for event in simulation.result.events]
    # The controller answers 2 s (its response time) after the loss, and releases the cap 2 s after repair.
    assert (52.0, "cap") in events
    assert (152.0, "cap") in events
    assert simulation.result.trips == 0
    assert simulation.state.plant.gpu_cap_w[0] == np.inf
    # While capped, full load fits the 24 healthy PSUs: re-evaluate at the cap the controller chose.
    arrays, plant = simulation.arrays, PlantState.nominal(simulation.arrays)
    plant.psus_lost = np.array([24.0])
    cap_w = float(next(e.detail for e in simulation.result.events if e.kind == "cap").split()[0])
    plant.gpu_cap_w = np.array([cap_w + 1.0])  # the log rounds to a watt
    at_cap = evaluate(arrays, FULL, np.zeros(arrays.chips.is_gpu.size, dtype=bool), plant)
    assert at_cap.shelf_output_w[0] == pytest.approx(24 * 5500, rel=1e-3)
    assert 0 < simulation.result.integrals.capped_gpu_seconds < simulation.result.integrals.gpu_seconds
    # Capped GPUs run slower: the 16th step completes later than without the fault.
    healthy = run(GB300, 200.0, [])

    def sixteenth_step_s(sim: Simulation) -> float:
        series = sim.result.series
        return float(series["time_s"][np.argmax(series["work_units"] >= 16)])

    assert sixteenth_step_s(simulation) > sixteenth_step_s(healthy)


def test_without_a_controller_a_shortfall_trips_the_rack_and_loses_work() -> None:
    # 22 PSUs (121 kW) left under a ~127 kW compute phase: short by ~5 %, and nothing caps the GPUs.
    simulation = run(GB300, 200.0, [Fault(kind="psu_failure", at_s=55, count=26)], ("power.capping=null",))
    assert simulation.result.trips == 1
    kinds = [event.kind for event in simulation.result.events]
    assert kinds[:3] == ["fault", "trip", "interruption"]  # the job waits for the operator's reset (10 min)
    assert "reset" not in kinds
    assert simulation.result.events[1].time_s == 55.0  # at once: the fault lands in a compute phase
    # 4 steps of 10 s, then a 10 s checkpoint ending at 50 s that saved them; step 5 was under way.
    assert simulation.result.work_units == 4
    assert simulation.state.point.feed_w[0] == 0.0


def test_overload_beyond_the_psu_limit_trips_even_with_a_controller() -> None:
    # 8 of 48 PSUs left: 44 kW against ~133 kW, three times the rating, above the 160 % limit.
    simulation = run(GB300, 100.0, [Fault(kind="psu_failure", at_s=30, count=40)])
    assert simulation.result.trips == 1
    assert simulation.result.events[1].kind == "trip"
    assert simulation.result.events[1].time_s == 30.0


def test_a_user_rack_cap_holds_the_feed_and_costs_work() -> None:
    simulation = run(GB200, 120.0, [], ("power.capping.rack_cap_w=100000",))
    series = simulation.result.series
    assert series["feed_power_w"].max() <= 100_000
    assert simulation.result.integrals.capped_gpu_seconds > 0
    integrals = simulation.result.integrals
    assert integrals.it_energy_j + sum(integrals.loss_energy_j.values()) == pytest.approx(integrals.input_energy_j,
                                                                                          rel=1e-9)
