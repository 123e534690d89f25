"""Grouped advance (engine/grouping.py, engine/event_advance.py): identical racks as one, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from racksim.engine.event_advance import GroupedHall, HallInputs, HallState, advance_event, loop_inlet_temp_c
from racksim.engine.grouping import find_groups, rack_rows
from racksim.physics.arrays import build
from racksim.physics.operating_point import Activity, evaluate
from racksim.physics.plant import PlantState
from racksim.physics.thermal import plate_inlet_temp_c
from racksim.run.loading import load_design

ROOT = Path(__file__).resolve().parent.parent
DESIGN = load_design(ROOT / "designs" / "gb200-nvl72.yaml").design
RACKS = 8
COMPUTE = (1.0, 0.31, 8.0)
"""GPU and CPU utilization and duration of a compute phase; 0.31 gives CPU powers no power of two divides."""
COMMUNICATION = (0.3, 0.3, 1.9138283133329568)


def hall_at(plant: PlantState) -> HallInputs:
    """The inputs of a RACKS-rack hall at the compute phase under `plant` (faults and all)."""
    arrays = build(DESIGN, RACKS)
    point = evaluate(arrays, Activity(1.0, 0.31, 0.1), np.zeros(arrays.chips.is_gpu.size, dtype=bool), plant)
    return HallInputs.at(arrays, point, plant)


def settled(inputs: HallInputs) -> HallState:
    """Every die at its coolant supply temperature, integrals at zero."""
    return HallState.settled(np.repeat(inputs.supply_temp_c, inputs.idle_w.size // RACKS), RACKS)


def assert_same_state(grouped: HallState, whole: HallState) -> None:
    """Temperatures and maxima bit for bit; the sums (kept as base + since the last regroup) to 1e-12."""
    for name in ("temp_c", "temp_max_c"):
        np.testing.assert_array_equal(getattr(grouped, name), getattr(whole, name), err_msg=name)
    for name in ("temp_time_c_s", *HallState.RACK_FIELDS):
        np.testing.assert_allclose(getattr(grouped, name), getattr(whole, name), rtol=1e-12, atol=0.0, err_msg=name)


def test_grouped_advance_equals_the_whole_hall_through_faults_that_split_and_repairs_that_merge() -> None:
    arrays = build(DESIGN, RACKS)
    plant = PlantState.nominal(arrays)
    inputs = hall_at(plant)
    state = settled(inputs)
    grouped = GroupedHall(inputs, state)
    gpu_of_rack5 = int(np.flatnonzero(arrays.chips.is_gpu & (arrays.chips.rack == 5))[2])
    group_counts = []
    for event in range(160):
        if event in (4, 7, 10):
            if event == 4:  # a GPU of rack 5 fails: its power, coolant and neighbours' temperatures change
                plant.chip_failures[gpu_of_rack5] += 1
            elif event == 7:  # rack 2 loses a PSU: only its PSU loss changes
                plant.psus_lost[2] += 1
            else:  # the GPU is repaired: rack 5's dies are still on their way back, so it stays apart for now
                plant.chip_failures[gpu_of_rack5] -= 1
            inputs = hall_at(plant)
            grouped.change(inputs)
        elif event % 10 == 0:
            grouped.regroup()  # racks whose dies came back to the same bits rejoin
        group_counts.append(grouped.groups.n_groups)
        gpu_utilization, cpu_utilization, elapsed_s = COMPUTE if event % 2 == 0 else COMMUNICATION
        state = advance_event(inputs, state, gpu_utilization, cpu_utilization, elapsed_s)
        grouped.advance(gpu_utilization, cpu_utilization, elapsed_s)
        assert_same_state(grouped.state(), state)
        for name in HallState.RACK_FIELDS:
            assert grouped.total(name) == pytest.approx(float(getattr(state, name).sum()), rel=1e-12, abs=0.0)
    assert group_counts[:11] == [1] * 4 + [2] * 3 + [3] * 4
    assert group_counts[-1] == 2  # rack 5 rejoined; rack 2 runs on fewer PSUs
    rejoined = group_counts.index(2, 11)
    assert 50 < rejoined < 150  # its dies took that long to come back to the group's bits
    assert grouped.groups.representative.tolist() == [0, 2]
    assert grouped.groups.multiplicity.tolist() == [RACKS - 1, 1]
    assert state.feed_energy_j[5] != state.feed_energy_j[0]  # the fault did act
    temp_time_c_s = state.temp_time_c_s.reshape(RACKS, -1)
    assert temp_time_c_s[5].sum() < temp_time_c_s[0].sum()  # its dies ran cooler while the GPU was down


def test_identical_racks_get_identical_bits_in_the_whole_hall() -> None:
    inputs = hall_at(PlantState.nominal(build(DESIGN, RACKS)))
    state = settled(inputs)
    for event in range(6):
        state = advance_event(inputs, state, *(COMPUTE if event % 2 == 0 else COMMUNICATION))
    for values in state.per_rack():
        rows = values.reshape(RACKS, -1)
        assert (rows == rows[0]).all()
    assert find_groups(RACKS, *inputs.per_rack(), *state.per_rack()).n_groups == 1


def test_loop_inlet_temperature_is_plate_inlet_temperature_summed_loop_by_loop() -> None:
    arrays = build(DESIGN, RACKS)
    chips = arrays.chips
    power_w = np.where(chips.is_gpu, 1012.3, 164.7)
    supply_c = np.linspace(30.0, 31.0, RACKS)
    by_loop = loop_inlet_temp_c(supply_c, power_w, arrays.loop_capacity_rate_w_per_k)
    whole = plate_inlet_temp_c(supply_c[chips.rack], power_w, arrays.loop_start, chips.loop,
                               arrays.loop_capacity_rate_w_per_k)
    np.testing.assert_allclose(by_loop, whole, rtol=0.0, atol=1e-9)
    first = by_loop[arrays.loop_start]
    assert np.array_equal(first, supply_c[arrays.loop_rack])  # the first plate of each loop sees the supply
    alike = loop_inlet_temp_c(np.full(RACKS, 30.3), power_w, arrays.loop_capacity_rate_w_per_k).reshape(RACKS, -1)
    assert (alike == alike[0]).all()  # each loop summed from its own start: no rack differs in the last bit


def test_find_groups_splits_on_any_byte_and_orders_by_lowest_rack() -> None:
    temps = np.full(6 * 3, 40.0)
    temps[3 * 4 + 1] = np.nextafter(40.0, 50.0)  # rack 4: one ulp warmer
    flows = np.array([1.0, 1.0, -0.0, 1.0, 1.0, 0.0])  # rack 2 differs from rack 5 by the sign of zero
    groups = find_groups(6, temps, flows)
    assert groups.group_of_rack.tolist() == [0, 0, 1, 0, 2, 3]
    assert groups.representative.tolist() == [0, 2, 4, 5]
    assert groups.multiplicity.tolist() == [3, 1, 1, 1]
    picked = rack_rows(temps, groups.representative, 6)
    assert np.array_equal(rack_rows(picked, groups.group_of_rack, groups.n_groups), temps)


def test_unequal_loops_are_refused() -> None:
    loops = "compute_tray.cold_plate_loops=[[cpu0, gpu0], [cpu1, gpu1, gpu2, gpu3]]"
    arrays = build(load_design(ROOT / "designs" / "gb200-nvl72.yaml", [loops]).design, 1)
    plant = PlantState.nominal(arrays)
    point = evaluate(arrays, Activity(1.0, 0.3, 0.1), np.zeros(arrays.chips.is_gpu.size, dtype=bool), plant)
    with pytest.raises(ValueError, match="unequal length"):
        HallInputs.at(arrays, point, plant)
