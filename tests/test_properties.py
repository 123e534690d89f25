"""Conservation laws as properties over random designs (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from racksim.design.suite import Fault
from racksim.engine import Simulation
from racksim.errors import InputError
from racksim.physics.arrays import build
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule
from racksim.workload.faults import fault_actions

ROOT = Path(__file__).resolve().parent.parent
BASES = sorted((ROOT / "designs").glob("*.yaml"))


@st.composite
def random_designs(draw: st.DrawFn) -> list[tuple[list[str], object]]:
    """Overrides that move powers, flows, temperatures, conversion curves and the PSU count."""
    efficiencies = sorted(draw(st.lists(st.floats(0.85, 0.99), min_size=4, max_size=4)))
    other_power_w = draw(st.floats(0, 800))  # a tray's idle draw of its other parts is at most their full draw
    return [
        (["compute_tray", "gpus", "tdp_w"], draw(st.floats(300, 2000))),
        (["compute_tray", "gpus", "idle_w"], draw(st.floats(20, 250))),
        (["compute_tray", "cpus", "tdp_w"], draw(st.floats(100, 600))),
        (["compute_tray", "other_power_w"], other_power_w),
        (["compute_tray", "other_idle_power_w"], other_power_w * draw(st.floats(0, 1))),
        (["compute_tray", "other_heat_to_liquid_fraction"], draw(st.floats(0, 1))),
        (["compute_tray", "gpus", "thermal", "heat_capacity_j_per_k"], draw(st.floats(50, 2000))),
        (["switch_tray", "heat_to_liquid_fraction"], draw(st.floats(0, 1))),
        (["cooling", "facility_supply_temp_c"], draw(st.floats(15, 45))),
        (["cooling", "cdu", "pumps", "flow_lpm"], draw(st.floats(60, 400))),
        (["cooling", "cdu", "capacity_w"], 1e6),
        (["power", "feed", "limit_w"], 1e6),
        (["power", "busbar", "rating_a"], 1e5),
        (["power", "busbar", "resistance_ohm"], draw(st.floats(1e-6, 1e-3))),
        (["power", "tray_stages", "0", "efficiency_curve", "efficiency"], efficiencies),
        (["power", "bbu"], draw(st.none() | st.fixed_dictionaries({
            "energy_j": st.floats(1e5, 2e7), "max_discharge_w": st.floats(5e4, 3e5),
            "recharge_w": st.floats(1e3, 5e4), "charge_efficiency": st.floats(0.8, 1.0),
            "discharge_efficiency": st.floats(0.8, 1.0)}))),
        (["power", "smoothing"], draw(st.none() | st.fixed_dictionaries({
            "gpu_power_floor_fraction": st.floats(0, 0.8), "storage_energy_j": st.floats(0, 3e5),
            "ramp_up_w_per_s": st.floats(1e3, 1e5), "ramp_down_w_per_s": st.floats(1e3, 1e5),
            "efficiency": st.floats(0.8, 1.0), "recovery_w": st.floats(0, 5e3)}))),
    ]


feed_losses = st.lists(st.builds(Fault, kind=st.just("feed_loss"), at_s=st.floats(1, 25), duration_s=st.floats(0.5, 30),
                                 feeds=st.sampled_from([["a"], ["b"], ["a", "b"]])), max_size=2)


@pytest.mark.slow
@pytest.mark.parametrize("base", BASES, ids=lambda p: p.stem)
@given(overrides=random_designs(), compute_s=st.floats(1, 20), communication_s=st.floats(0, 5), faults=feed_losses)
def test_energy_and_heat_are_conserved(base: Path, overrides: list, compute_s: float, communication_s: float,
                                       faults: list[Fault]) -> None:
    try:
        design = load_design(base, overrides).design
    except InputError:
        assume(False)
    schedule = TrainingSchedule(compute_s=compute_s, communication_s=communication_s, checkpoint_every_steps=3,
                                checkpoint_s=4.0)
    arrays = build(design)
    integrals = Simulation(arrays, schedule.phases(), 30.0, faults=fault_actions(faults, arrays)).run().integrals
    supplied = integrals.input_energy_j + integrals.storage_net_energy_j
    # Energy: input + storage = IT + Σ stage losses; heat: the same = liquid + air + heat stored in the dies.
    assert integrals.it_energy_j + sum(integrals.loss_energy_j.values()) == pytest.approx(supplied, rel=1e-9)
    assert integrals.heat_to_liquid_j + integrals.heat_to_air_j + integrals.heat_stored_j == pytest.approx(
        supplied, rel=1e-9)
    assert min(integrals.loss_energy_j.values()) >= 0
    assert integrals.heat_to_air_j >= 0
