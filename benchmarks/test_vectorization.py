"""Vectorization efficiency (`make bench`): the engine's inner advance against a bare numpy loop, side by side.

Both advance the same built multi-rack arrays by the same short interval (one training phase's worth of
sub-second step, so no curve points are drawn): the engine through `Simulation.advance_to` (exact RC step and
mean, supply integrals, every running integral and extreme of the recorder), the bare loop through the same
array updates written inline with no engine around them. pytest-benchmark's table shows the ratio of the
means in each group; `extra_info["gpus"]` says how many GPUs one advance carries. The issue's target: the
engine reaches at least 25 % of the bare loop's throughput.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from racksim.design.suite import load_suite
from racksim.engine import Simulation
from racksim.engine.recorder import TEMP_BIN_C, TEMP_RANGE_C
from racksim.physics.arrays import RackArrays, build
from racksim.run.loading import load_design
from racksim.workload import schedule_for

ROOT = Path(__file__).resolve().parent.parent
DESIGN = load_design(ROOT / "designs" / "gb200-nvl72.yaml").design
SCHEDULE = schedule_for(load_suite("standard").scenario("training").workload, DESIGN)
STEP_S = 0.05
"""Interval of one advance, s: below half the fastest die time constant, so the engine draws no curve points."""
RACKS = (1, 140, 1000)


def engine_advance(racks: int) -> tuple[Callable[[], None], Simulation]:
    """The engine's advance on a Simulation of `racks` racks, set at the start of its first compute phase."""
    simulation = Simulation(build(DESIGN, racks), SCHEDULE.phases, 3600.0)
    simulation.state.activity = next(SCHEDULE.phases()).activity
    simulation.state.point = simulation._evaluate()

    def step() -> None:
        simulation.advance_to(simulation.state.time_s + STEP_S)

    return step, simulation


def bare_advance(arrays: RackArrays, simulation: Simulation) -> Callable[[], None]:
    """The same array updates on the same arrays, inline: no engine, no supply model, no dataclasses."""
    point, chips = simulation.state.point, arrays.chips
    temp = simulation.state.temp_c.copy()
    temp_ss, tau, capacity = point.chip_temp_ss_c, point.chip_tau_s, chips.heat_capacity_j_per_k
    gpu, throttled = chips.is_gpu, simulation.state.throttled
    losses = list(point.loss_w_by_stage.values())
    feed_w, it_w, chip_w, air_w = point.feed_w, point.it_w, point.chip_power_w, point.air_w
    liquid_w, fan_w, pump_w, return_c = point.liquid_noncold_plate_w, point.fan_power_w, point.pump_power_w, \
        point.coolant_return_temp_c
    chip_max = np.full(temp.size, -np.inf)
    chip_throttled_s = np.zeros(temp.size)
    histogram = np.zeros(int((TEMP_RANGE_C[1] - TEMP_RANGE_C[0]) / TEMP_BIN_C) + 1)
    totals = np.zeros(12)

    def step() -> None:
        nonlocal temp
        decay = np.exp(-STEP_S / tau)
        temp1 = temp_ss + (temp - temp_ss) * decay
        temp_mean = temp_ss + (temp - temp_ss) * (tau / STEP_S * -np.expm1(-STEP_S / tau))
        stored = float((capacity * (temp1 - temp)).sum())
        totals[0] += float(feed_w.sum()) * STEP_S
        totals[1] += float(it_w.sum()) * STEP_S
        totals[2] += sum(float(loss.sum()) for loss in losses) * STEP_S
        totals[3] += float(chip_w.sum() + liquid_w.sum()) * STEP_S - stored
        totals[4] += float(air_w.sum()) * STEP_S
        totals[5] += float(fan_w.sum()) * STEP_S
        totals[6] += float(pump_w.sum()) * STEP_S
        totals[7] += float(gpu.sum()) * STEP_S
        totals[8] += float((throttled & gpu).sum()) * STEP_S
        chip_throttled_s[:] += throttled * STEP_S
        np.maximum(chip_max, np.maximum(temp, temp1), out=chip_max)
        totals[9] = float(chip_max[gpu].max())
        totals[10] = max(totals[10], float(return_c.max()))
        bins = np.clip(((temp_mean[gpu] - TEMP_RANGE_C[0]) / TEMP_BIN_C).astype(np.intp), 0, histogram.size - 1)
        np.add.at(histogram, bins, STEP_S)
        temp = temp1

    return step


@pytest.mark.parametrize("racks", RACKS)
@pytest.mark.benchmark(group="vectorization: one advance")
def test_engine_advance(benchmark: pytest.FixtureRequest, racks: int) -> None:
    step, simulation = engine_advance(racks)
    benchmark.extra_info["gpus"] = int(simulation.arrays.chips.is_gpu.sum())
    benchmark(step)


@pytest.mark.parametrize("racks", RACKS)
@pytest.mark.benchmark(group="vectorization: one advance")
def test_bare_numpy_advance(benchmark: pytest.FixtureRequest, racks: int) -> None:
    _, simulation = engine_advance(racks)
    benchmark.extra_info["gpus"] = int(simulation.arrays.chips.is_gpu.sum())
    benchmark(bare_advance(simulation.arrays, simulation))
