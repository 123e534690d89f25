"""Tripped racks reset by an operator: when, which racks, what the job loses and when it works again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from racksim.design.jobs_schema import TRIP_RESET_DELAY_S
from racksim.design.suite import Scenario, load_suite
from racksim.engine import Simulation
from racksim.engine.job import IDLE
from racksim.physics.arrays import build
from racksim.physics.operating_point import evaluate
from racksim.physics.plant import PlantState
from racksim.run.loading import load_design
from racksim.run.loading_hall import load_hall
from racksim.workload import TrainingSchedule
from racksim.workload.faults import fault_actions
from tests.oracles import EulerSimulation

from .conftest import ROOT

VR = ROOT / "designs" / "vr-800vdc.yaml"
GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
SAG = load_suite("quick").scenario("utility-sag")
"""Every feed lost 30-60 s and 120-420 s; vr-800vdc has no BBU, so its rack trips at 30 s."""
SCHEDULE = TrainingSchedule(compute_s=5.0, communication_s=1.0, checkpoint_every_steps=3, checkpoint_s=2.0)
"""Steps of 6 s, a 2 s checkpoint after every third: from a (re)start, steps end at 6, 12, 18 s, saved at 20 s,
then 26, 32, 38 s, saved at 40 s, and so on."""
RESTART_S = 20.0
"""The design's restart time in these runs (reliability.restart_time_s), s."""
RELIABILITY = (f"reliability.restart_time_s={RESTART_S}",)


def first_sag(delay_s: float, duration_s: float = 115.0, *, euler_step_s: float | None = None) -> Simulation:
    """vr-800vdc training through utility-sag's first sag (the second starts at 120 s, after the run)."""
    arrays = build(load_design(VR, RELIABILITY).design)
    faults = fault_actions(SAG.faults, arrays)
    simulation = Simulation(arrays, SCHEDULE.phases, duration_s, faults=faults, trip_reset_delay_s=delay_s) \
        if euler_step_s is None else EulerSimulation(arrays, SCHEDULE.phases, duration_s, step_s=euler_step_s,
                                                     faults=faults, trip_reset_delay_s=delay_s)
    simulation.result = simulation.run()  # type: ignore[attr-defined]
    return simulation


def job_events(simulation: Simulation) -> list[tuple[str, float]]:
    return [(event.kind, event.time_s) for event in simulation.result.events  # type: ignore[attr-defined]
            if event.kind in ("trip", "interruption", "reset", "restart", "job_halted")]


@pytest.fixture(scope="module")
def early() -> Simulation:
    """Reset due at 40 s, while the feed is still down: the rack comes back at the feed's return, 60 s."""
    return first_sag(10.0)


@pytest.mark.parametrize(("delay_s", "reset_s", "work_units"), [(10.0, 60.0, 8.0), (45.0, 75.0, 6.0)])
def test_the_sag_trips_the_rack_the_operator_resets_it_and_the_job_restarts(
        early: Simulation, delay_s: float, reset_s: float, work_units: float) -> None:
    simulation = early if delay_s == 10.0 else first_sag(delay_s)
    result = simulation.result  # type: ignore[attr-defined]
    # Reset at max(30 + delay, 60): the feed is back at 60 s. The job restarts RESTART_S later.
    assert reset_s == max(30.0 + delay_s, 60.0)
    restart_s = reset_s + RESTART_S
    times = job_events(simulation)
    assert [kind for kind, _ in times] == ["trip", "interruption", "reset", "restart"]
    assert [time_s for _, time_s in times] == pytest.approx([30.0, 30.0, reset_s, restart_s], abs=1e-9)
    # By 30 s: steps done at 6, 12, 18 (saved at 20) and 26; the 4th is lost. From the restart, steps end
    # restart + 6, 12, 18 (saved at + 20), 26, 32, ...: 80 s → 86, 92, 98, 106, 112 (5 steps by 115 s);
    # 95 s → 101, 107, 113 (3 steps).
    assert result.work_lost_units == 1.0
    assert result.work_units == work_units
    assert (result.trips, result.interruptions) == (1, 1)
    assert result.downtime_s == pytest.approx(restart_s - 30.0)
    # Off (no feed power) from the trip to the reset, idle GPUs from the reset to the restart, then training.
    series = result.series
    time_s, feed_w, gpu_w = series["time_s"], series["feed_power_w"], series["gpu_power_w"]
    assert feed_w[(time_s >= 30.0) & (time_s < reset_s)].max() == 0.0
    arrays = simulation.arrays
    idle_w = evaluate(arrays, IDLE, np.zeros(arrays.chips.is_gpu.size, dtype=bool),
                      PlantState.nominal(arrays)).gpu_power_w_total
    assert gpu_w[(time_s >= reset_s) & (time_s < restart_s)] == pytest.approx(idle_w, rel=1e-12)
    assert gpu_w[time_s > restart_s].max() > 5 * idle_w
    integrals = result.integrals
    assert integrals.input_energy_j + integrals.storage_net_energy_j == pytest.approx(
        integrals.it_energy_j + sum(integrals.loss_energy_j.values()), rel=1e-9)


def test_a_reset_onto_a_lost_feed_waits_for_its_return_and_a_second_sag_trips_again() -> None:
    # The whole utility-sag, a 35 s delay: reset at max(65, 60) = 65 s, restart at 85 s; steps end 91, 97, 103
    # (saved at 105), 111, 117, and the second sag trips the rack at 120 s: 2 steps lost. Reset at
    # max(155, 420) = 420 s (the feed's return), restart at 440 s.
    simulation = first_sag(35.0, SAG.duration_s)
    result = simulation.result  # type: ignore[attr-defined]
    kinds, times = zip(*job_events(simulation), strict=True)
    assert kinds == ("trip", "interruption", "reset", "restart") * 2
    assert times == pytest.approx((30.0, 30.0, 65.0, 85.0, 120.0, 120.0, 420.0, 440.0), abs=1e-9)
    # From 440 s: 2 cycles of 3 steps and a checkpoint by 480 s: 6 more steps on the 6 saved at 105 s.
    assert (result.work_lost_units, result.work_units, result.trips, result.interruptions) == (3.0, 12.0, 2, 2)


def test_cycle_skipping_agrees_through_a_trip_and_reset() -> None:
    arrays = build(load_design(VR, RELIABILITY).design)
    faults = fault_actions(SAG.faults[:1], arrays)
    skipped, stepped = (Simulation(arrays, SCHEDULE.phases, 900.0, faults=faults, trip_reset_delay_s=10.0,
                                   skip_cycles=skip).run() for skip in (True, False))
    assert skipped.cycles_skipped > 0
    assert skipped.work_units == stepped.work_units
    assert [(e.kind, e.time_s) for e in skipped.events] == [(e.kind, e.time_s) for e in stepped.events]
    assert skipped.integrals.input_energy_j == pytest.approx(stepped.integrals.input_energy_j, rel=1e-9)


@pytest.mark.slow
def test_the_euler_oracle_agrees_through_a_trip_and_reset() -> None:
    closed, stepped = first_sag(10.0, 100.0), first_sag(10.0, 100.0, euler_step_s=0.02)
    (kinds, times), (stepped_kinds, stepped_times) = (zip(*job_events(run), strict=True) for run in (closed, stepped))
    assert kinds == stepped_kinds == ("trip", "interruption", "reset", "restart")
    assert times == pytest.approx(stepped_times, abs=1e-9)
    assert np.max(np.abs(closed.state.temp_c - stepped.state.temp_c)) < 0.1
    closed_integrals = closed.result.integrals  # type: ignore[attr-defined]
    stepped_integrals = stepped.result.integrals  # type: ignore[attr-defined]
    assert closed_integrals.gpu_temp_c_max == pytest.approx(stepped_integrals.gpu_temp_c_max, abs=0.1)
    assert closed_integrals.input_energy_j == pytest.approx(stepped_integrals.input_energy_j, rel=1e-9)


def test_a_row_feeder_trip_resets_its_rows_racks_only(tmp_path: Path) -> None:
    # Three GB200 racks in two rows (0, 1 | 2); row 0's feeder carries 1.8 racks in training, so row 0 trips when
    # the job starts, is reset 5 s later, and trips again when the job restarts (restart time 5 s) at 10 s and 20 s.
    rack_training_w = 110e3  # a GB200 rack's training feed is above this and below twice it
    hall = {"name": "trip-hall", "design": str(GB200), "racks": 3, "rows": 2,
            "row_power": {"feeder_capacity_w": 1.8 * rack_training_w, "on_overload": "trip"}}
    path = tmp_path / "hall.yaml"
    path.write_text(yaml.safe_dump(hall), encoding="utf-8")
    loaded = load_hall(path, ("reliability.restart_time_s=5",))
    arrays = build(loaded.design, hall=loaded.layout)
    simulation = Simulation(arrays, SCHEDULE.phases, 22.0, trip_reset_delay_s=5.0)
    result = simulation.run()
    events = [(e.kind, e.time_s, e.detail.split(":")[0]) for e in result.events if e.kind in ("trip", "reset")]
    assert events == [("trip", 0.0, "rack(s) 0, 1"), ("reset", 5.0, "rack(s) 0, 1"),
                      ("trip", 10.0, "rack(s) 0, 1"), ("reset", 15.0, "rack(s) 0, 1"),
                      ("trip", 20.0, "rack(s) 0, 1")]
    assert (result.trips, result.interruptions) == (6, 3)  # the restarts' trips stop the job from its own process
    assert simulation.state.plant.tripped.tolist() == [True, True, False]
    assert result.work_units == 0.0  # the job spans every rack: it never gets a step done
    # Rack 2 never lost its supply: it drew power all along; racks 0 and 1 only while reset.
    assert result.integrals.rack_input_energy_j[2] > 2 * result.integrals.rack_input_energy_j[0] > 0


def test_the_scenario_sets_the_delay_for_a_single_workload_and_defaults_to_ten_minutes() -> None:
    fields = SAG.model_dump(exclude_none=True, exclude_defaults=True) | {"trip_reset_delay_s": 120.0}
    assert Scenario.model_validate(fields).trip_reset_delay_s == 120.0  # a single workload may set it
    assert SAG.trip_reset_delay_s is None
    assert TRIP_RESET_DELAY_S == 600.0
    default = Simulation(build(load_design(VR).design), SCHEDULE.phases, 1.0)
    assert default.power_control.reset_delay_s == TRIP_RESET_DELAY_S
